"""Where courses run: a Gradescope autograder graded as Gradescope runs it, and a GitHub Classroom class
(the folder `gh classroom clone student-repos` writes, and its roster) graded into the gradebooks."""

import csv
import json
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.classroom.github import repository_commit
from tests.fixtures import submissions as S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HANGS = "\ndef backpropagation(model, y_true, y_pred):\n    while True:\n        pass\n"
GRADESCOPE = {  # submission: (files, the score with the default points)
    "right": (S.both(), 100),
    "wrong": (S.both(S.replaced(S.RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred")), 40),
    "hanging": (S.both(HANGS), 40),
    "missing notebook": ({"backpropagation.ipynb": S.both()["backpropagation.ipynb"]}, 60),
    "broken notebook": ({**S.both(), "backpropagation.ipynb": '{"cells": [ this is no JSON'}, 40),
}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradescope")
    made = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "gradescope", str(root / "autograder.zip"),
                           "--timeout", "15"], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return root / "autograder.zip"


def run_as_gradescope(zip_path, root, files):
    """Gradescope's layout: the zip in ROOT/source, run_autograder copied to ROOT, the student's files in ROOT/submission."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    S.write(root, "submission", files)
    done = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root)})
    assert done.returncode == 0, done.stderr[-1500:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_has_gradescopes_layout(autograder):
    with zipfile.ZipFile(autograder) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "tests_backpropagation.py", "requirements.txt", "harness/grading/grade.py",
            "utils/mynet.py"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any(name.endswith(".ipynb") or name.startswith("harness/release") for name in names)  # no solution


def test_each_submission_gets_gradescopes_results(autograder, tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(GRADESCOPE, pool.map(lambda item: run_as_gradescope(autograder, tmp_path / item[0].replace(" ", "_"), item[1][0]),
                                               GRADESCOPE.items())))
    assert {name: results["score"] for name, results in found.items()} == {name: score for name, (_, score) in GRADESCOPE.items()}
    for name, results in found.items():
        tests = results["tests"]
        assert [(t["max_score"], t["output_format"]) for t in tests] == [(60, "md"), (40, "md"), (0, "md")]
        assert results["score"] == sum(t["score"] for t in tests) and results["execution_time"] > 0
        assert all(t["status"] == ("passed" if t["score"] == t["max_score"] else "failed") for t in tests)
    assert "timeout" in found["hanging"]["tests"][0]["output"] and "pass" in found["hanging"]["tests"][1]["output"]
    assert "not submitted" in found["missing notebook"]["tests"][2]["output"]
    assert "error" in found["broken notebook"]["tests"][0]["output"]
    assert "cause" in found["wrong"]["tests"][0]["output"]


def test_without_the_sandbox_the_container_is_said_to_be_the_isolation(autograder, tmp_path, monkeypatch):
    from harness.classroom import gradescope
    from harness.grading.sandbox import bubblewrap

    monkeypatch.setattr(bubblewrap, "probe", lambda: "user namespaces are disabled")
    S.write(tmp_path, "submission", S.both())
    assert gradescope.autograde(tmp_path, timeout=60) == 100
    output = json.loads((tmp_path / "results" / "results.json").read_text())["output"]
    assert output.startswith("Graded without the grader's sandbox (user namespaces are disabled): the container Gradescope "
                             "gives each submission is its isolation.")


# --- GitHub Classroom ---------------------------------------------------------------------------------------------------

def clone(folder, files, commit):
    """A repository as `gh classroom clone` leaves it: the files, and .git with HEAD on a branch."""
    S.write(folder.parent, folder.name, files)
    (folder / ".git" / "refs" / "heads").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".git" / "refs" / "heads" / "main").write_text(commit + "\n")
    (folder / ".git" / "config").write_text("[core]\n\tfsmonitor = touch /tmp/inf265-git-ran\n")  # a hook git would run


def test_a_github_classroom_class_is_graded_with_its_roster(tmp_path):
    repos = tmp_path / "student-repos"
    clone(repos / "project-1-adalovelace", S.both(), "a" * 40)
    clone(repos / "project-1-alan-turing", S.both(S.replaced(S.RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred")), "b" * 40)
    clone(repos / "project-1-team-blue", S.both(), "c" * 40)  # a team's repository
    with open(tmp_path / "classroom_roster.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["identifier", "github_username", "github_id", "name"])
        writer.writerows([["ada@uib.no", "adalovelace", "101", "Ada Lovelace"], ["alan@uib.no", "alan-turing", "102", "Alan Turing"],
                          ["grace@uib.no", "", "", "Grace Hopper"]])
    (tmp_path / "times.csv").write_text("github_username,submitted_at\nalan-turing,2026-02-21T01:00:00+01:00\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(repos),
                           "--classroom-roster", str(tmp_path / "classroom_roster.csv"), "--csv", str(out / "gradebook.csv"),
                           "--feedback", str(out / "feedback"), "--deadline", "2026-02-20T23:59+01:00", "--times",
                           str(tmp_path / "times.csv"), "--jobs", "2", "--timeout", "60"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = {row["student id"]: row for row in csv.DictReader(file)}
    assert set(rows) == {"ada@uib.no", "alan@uib.no", "grace@uib.no", ""}
    assert (rows["ada@uib.no"]["student"], rows["ada@uib.no"]["submission"], rows["ada@uib.no"]["total points"]) == \
        ("Ada Lovelace", "project-1-adalovelace", "100.0")
    assert rows["alan@uib.no"]["backpropagation"] == "fail" and rows["alan@uib.no"]["late penalty"] == "4.0"
    assert rows["grace@uib.no"]["submission"] == "" and rows[""]["submission"] == "project-1-team-blue"
    ada = (out / "feedback" / "Ada_Lovelace_ada_uib.no.md").read_text()
    assert ada.startswith("# Feedback for Ada Lovelace") and "graded at commit aaaaaaaaaaaa of the repository" in ada
    assert "commit dates are the student's clock" in ada
    assert "project-1-team-blue is nobody's on the classroom roster (a team's repository?)" in done.stderr
    assert not Path("/tmp/inf265-git-ran").exists()  # git never ran in a student's repository


@pytest.mark.parametrize("head, refs, packed, found", [
    ("ref: refs/heads/main\n", {"main": "d" * 40}, "", "d" * 40),
    ("e" * 40 + "\n", {}, "", "e" * 40),  # a detached head
    ("ref: refs/heads/main\n", {}, "# pack-refs with: peeled\n" + "f" * 40 + " refs/heads/main\n", "f" * 40),
    ("ref: ../../../etc/passwd\n", {}, "", ""),
])
def test_the_commit_is_read_without_running_git(tmp_path, head, refs, packed, found):
    (tmp_path / ".git" / "refs" / "heads").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text(head)
    for name, sha in refs.items():
        (tmp_path / ".git" / "refs" / "heads" / name).write_text(sha + "\n")
    if packed:
        (tmp_path / ".git" / "packed-refs").write_text(packed)
    assert repository_commit(tmp_path) == found


def test_a_gradescope_upload_left_as_a_zip_is_graded_from_it(tmp_path):
    from harness.classroom import collect

    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "project.zip").write_bytes(S.zip_bytes({f"INF265/{k}": v for k, v in S.both().items()}))
    [submission] = collect.collect_one(tmp_path / "submission", tmp_path / "stage")
    assert (submission.folder / "backpropagation.ipynb").exists() and "project.zip unpacked" in submission.notes
