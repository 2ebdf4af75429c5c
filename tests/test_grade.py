"""`python tests_backpropagation.py grade DIR` on submissions written for these tests: real-style ones
get the verdict their work earns, hostile ones can neither fool the grader nor harm anything."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from tests import submissions as S

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10


def processes_with(marker):
    return [p for p in os.listdir("/proc") if p.isdigit() and marker in _cmdline(p)]


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    for name, files, _, _ in S.all_submissions():
        S.write(root, name, files)
    S.write_zip(root)
    S.write_with_data(root)
    before = tmp_path_factory.mktemp("before") / "copy"
    shutil.copytree(root, before, symlinks=True)
    out = tmp_path_factory.mktemp("out") / "verdicts.json"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root), "--json", str(out),
                             "--timeout", str(TIMEOUT), "--jobs", "2", "--memory", "2"], capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    verdicts = json.loads(out.read_text()) if out.exists() else []
    return {"root": root, "before": before, "result": result, "verdicts": {v["submission"]: v for v in verdicts}, "seconds": seconds}


def test_every_submission_gets_the_status_its_work_earns(graded):
    assert graded["result"].returncode == 0, graded["result"].stderr[-2000:]
    got = {name: (v["backpropagation"]["status"], v["sgd"]["status"]) for name, v in graded["verdicts"].items()}
    wrong = {name: (got.get(name), want) for name, want in S.expected().items() if got.get(name) != want}
    assert not wrong, {name: (g, w, graded["verdicts"].get(name)) for name, (g, w) in wrong.items()}


def message(graded, name, part):
    return graded["verdicts"][name][part]["message"]


@pytest.mark.parametrize("name, part, words", [
    ("02_wrong_gradients", "backpropagation", "factor 2 from d/dy"),
    ("03_wrong_sgd", "sgd", "momentum buffer is wrong"),
    ("04_broken_json", "backpropagation", "not a valid notebook"),
    ("05_syntax_error_in_the_function", "backpropagation", "which defines backpropagation, has a syntax error at line 1"),
    ("06_missing_function", "backpropagation", "defines no function backpropagation"),
    ("07_hanging", "backpropagation", f"did not finish within {TIMEOUT} s"),
    ("08_exiting", "backpropagation", "exit 3"),
    ("08_exiting", "sgd", "raised SystemExit"),
    ("09_raises", "backpropagation", "raised KeyError: 99"),
    ("09_raises", "sgd", "zero the gradients"),
    ("r05_reads_globals", "sgd", "reads the notebook global 'train_loader'"),
    ("r06_plain_sgd_only", "sgd", "no weight decay (task 6) parameter"),
    ("r06_plain_sgd_only", "sgd", "no momentum (task 7) parameter"),
    ("r07_momentum_20_percent_off", "sgd", "the momentum buffer is wrong"),
    ("h01_reads_expected_gradients", "backpropagation", "autograd"),
    ("h02_writes_its_own_verdict", "backpropagation", "unreadable results"),
    ("h04_autograd_through_the_engine", "backpropagation", "autograd (._execution_engine)"),
    ("h06_memory_hog", "backpropagation", "memory limit of 2 GiB"),
    ("h11_symlinked_notebook", "backpropagation", "symbolic link"),
    ("h12_ships_its_own_harness", "backpropagation", "off by a constant factor 2.5"),
    ("h13_switches_the_guard_off", "backpropagation", "autograd"),
    ("h14_kills_the_grader", "backpropagation", "signalling a process (os.kill) is not available"),
    ("z01_zipped_with_magics", "sgd", "gradient_descent.ipynb is not in the submission"),
])
def test_messages_name_the_real_cause(graded, name, part, words):
    assert words in message(graded, name, part)
    assert "floating-point order" not in message(graded, name, part)


def test_distinctions_beyond_the_course_are_reported_not_failed(graded):
    real = graded["verdicts"]["r01_course_mynet_one_sample_course_solution_sgd"]
    assert real["backpropagation"]["distinctions"]["vectorised over a batch"]["yes"] is False
    assert "nets built from the notebook's MyNet" in real["backpropagation"]["notes"]
    assert real["sgd"]["distinctions"]["bitwise equal to torch.optim.SGD"]["yes"] is False
    assert graded["verdicts"]["01_right"]["sgd"]["distinctions"]["bitwise equal to torch.optim.SGD"]["yes"] is True
    assert graded["verdicts"]["r06_plain_sgd_only"]["sgd"]["settings"] == {"plain": True}


def test_notes_say_what_the_loader_skipped(graded):
    assert any("code cell 3 skipped: syntax error" in n for n in graded["verdicts"]["r09_scratch_cell"]["backpropagation"]["notes"])
    assert any("default of 'preprocessor'" in n for n in graded["verdicts"]["r08_default_from_data_and_train"]["sgd"]["notes"])


def test_json_has_the_documented_shape(graded):
    for v in graded["verdicts"].values():
        assert set(v) == {"submission", "backpropagation", "sgd", "seconds"}
        for part in ("backpropagation", "sgd"):
            assert v[part]["status"] in {"pass", "fail", "error", "missing", "timeout"} and v[part]["message"]
            if v[part]["status"] in ("pass", "fail") and "failures" in v[part]:
                assert all({"cause", "count", "first", "case"} <= set(f) for f in v[part]["failures"])


def test_table_on_stdout(graded):
    lines = graded["result"].stdout.splitlines()
    assert lines[0].split() == ["submission", "backpropagation", "sgd", "seconds"]
    for name, (bp, sgd) in S.expected().items():
        assert any(line.split()[:3] == [name, bp, sgd] for line in lines), name


def test_nothing_changed_outside_the_sandboxes(graded):
    comparison = filecmp.dircmp(graded["root"], graded["before"])
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    for sub in comparison.subdirs.values():
        assert not sub.diff_files and not sub.left_only and not sub.right_only
    assert not (graded["root"].parent / "escaped.txt").exists() and not Path("/outside_the_copy.txt").exists()
    assert not (PROJECT_ROOT / "outside_the_copy.txt").exists()


def test_no_process_is_left(graded):
    assert not processes_with("sleep 987654")
    assert not processes_with("harness.grading.worker")


def test_a_folder_of_submissions_is_graded_in_time(graded):
    assert graded["seconds"] < 60 * 3


def test_unreadable_submissions_dir_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "Cannot read SUBMISSIONS_DIR" in capsys.readouterr().err


def test_bad_command_line_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(["grade", str(tmp_path), "--timeout", "-1"])
    assert stop.value.code == 2 and "--timeout must be a positive number" in capsys.readouterr().err
    assert cli_main(["nonsense"]) == 2


def test_without_a_sandbox_grading_is_refused(tmp_path, monkeypatch, capsys):
    from harness.grading import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: "user namespaces are disabled")
    assert cli_main(["grade", str(tmp_path)]) == 2
    assert "Cannot make a sandbox on this machine: user namespaces are disabled" in capsys.readouterr().err


def test_the_sandbox_is_on_here():
    from harness.grading import sandbox

    assert sandbox.probe() is None


@pytest.mark.parametrize("mode", [[], ["--unsafe-no-sandbox"]], ids=["sandbox", "unsafe"])
def test_a_relative_submissions_folder_is_graded(tmp_path, mode):
    # `make grade SUBMISSIONS=submissions` names the folder relative to the project; the worker runs elsewhere
    S.write(tmp_path / "submissions", "01_right", S.both())
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", "submissions",
                             "--json", "verdicts.json", "--timeout", "60", *mode], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1000:]
    verdict = json.loads((tmp_path / "verdicts.json").read_text())[0]
    assert (verdict["backpropagation"]["status"], verdict["sgd"]["status"]) == ("pass", "pass"), verdict


def test_unsafe_mode_grades_without_a_sandbox(tmp_path):
    S.write(tmp_path, "01_right", S.both())
    out = tmp_path.parent / f"{tmp_path.name}-unsafe.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(tmp_path),
                             "--unsafe-no-sandbox", "--json", str(out), "--timeout", "60"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1000:]
    verdict = json.loads(out.read_text())[0]
    assert (verdict["backpropagation"]["status"], verdict["sgd"]["status"]) == ("pass", "pass")
