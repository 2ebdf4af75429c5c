"""Slots (harness.grading.sandbox.slot): torch imported once per sandbox, each submission in namespaces of its own.
Submissions graded one after another in one slot reach nothing of each other, and a slot that breaks is
replaced without costing the others their verdicts."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.grading import grade
from harness.grading.sandbox import slot
from harness.classroom.collect import collect
from harness.grading.sandbox.packing import SubmissionTooLarge, UnpackableSubmission, pack_folder, unpack_into
from tests.fixtures import submissions as S
from tests.grading.test_grade import processes_with

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def graded_by_the_command_line(root, *extra):
    out = Path(tempfile.mkdtemp(dir=root.parent)) / "verdicts.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root), "--json", str(out),
                             "--timeout", "20", "--memory", "2", *extra], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    import json
    return {v["submission"]: v for v in json.loads(out.read_text())}


@pytest.fixture(scope="module")
def one_after_another(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    for name, files in S.ONE_AFTER_ANOTHER:
        S.write(root, name, files)
    return graded_by_the_command_line(root, "--jobs", "1")


def test_a_slot_can_be_made_here(tmp_path):
    """Where it cannot, grading falls back to a sandbox per submission (slower, as safe); here it must work."""
    (tmp_path / "job.json").write_text('{"parts": [], "timeout": 10, "deliverables": false, "submission_seconds": 20}')
    made = slot.Slot(tmp_path, 2**30, 60)
    made.close()


def test_the_first_submission_leaves_what_it_can(one_after_another):
    message = one_after_another["s1_leaves_something_behind"]["sgd"]["message"]
    assert "'/tmp'" in message and "shared memory" in message, message


def test_the_next_submission_in_the_same_slot_finds_nothing_of_it(one_after_another):
    entry = one_after_another["s2_finds_what_was_left"]["sgd"]
    assert "nothing of an earlier submission is here" in entry["message"], entry["message"]


def test_a_right_submission_after_them_passes(one_after_another):
    entry = one_after_another["s3_right"]
    assert (entry["backpropagation"]["status"], entry["sgd"]["status"]) == ("pass", "pass"), entry


def test_nothing_the_first_one_started_is_running(one_after_another):
    assert not processes_with("sleep 987654")


def test_a_broken_slot_is_replaced_and_the_others_still_get_graded(tmp_path, monkeypatch):
    """The zygote of the slot grading the second submission is killed: that one gets an error, the rest pass."""
    root = tmp_path / "submissions"
    for name in ("b1", "b2", "b3"):
        S.write(root, name, S.both())
    graded = []
    real_grade = slot.Slot.grade

    real_pack = slot.pack_folder

    def pack_and_note(folder):
        graded.append(folder.parent.name)  # collect() stages the n-th submission in <stage>/<n:04d>/
        return real_pack(folder)

    def grade_then_break(self, packed):
        if len(graded) == 2:
            self.process.kill()
            self.process.wait()
        return real_grade(self, packed)

    monkeypatch.setattr(slot, "pack_folder", pack_and_note)
    monkeypatch.setattr(slot.Slot, "grade", grade_then_break)
    options = grade.Options(jobs=1, timeout=20, memory_gib=2)
    results = {r.name: r for r in grade.grade_all(collect(root, tmp_path / "stage"), options)}
    statuses = {name: (r.verdicts["backpropagation"].status.value, r.verdicts["sgd"].status.value) for name, r in results.items()}
    assert statuses == {"b1": ("pass", "pass"), "b2": ("error", "error"), "b3": ("pass", "pass")}
    assert graded == ["0000", "0001", "0002"]


def test_without_slots_each_submission_gets_a_sandbox_of_its_own(tmp_path, monkeypatch):
    root = tmp_path / "submissions"
    S.write(root, "r1", S.both())
    S.write(root, "r2", {**S.both(), **S.sgd_nb(S.replaced(S.RIGHT_SGD, "p.add_(", "p.sub_("))})

    def unavailable(*args, **kwargs):
        raise slot.SlotUnavailable("no nested user namespaces here")

    monkeypatch.setattr(slot.Slot, "__init__", unavailable)
    results = {r.name: r for r in grade.grade_all(collect(root, tmp_path / "stage"), grade.Options(jobs=2, timeout=20, memory_gib=2))}
    assert results["r1"].verdicts["sgd"].status.value == "pass"
    assert results["r2"].verdicts["sgd"].status.value == "fail"


def test_packing_keeps_code_and_links_and_leaves_out_the_rest(tmp_path):
    folder = tmp_path / "submission"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "cifar.bin").write_bytes(b"x" * 10)
    (folder / "backpropagation.ipynb").write_text("{}")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "maths.py").write_text("x = 1")
    (folder / "escape").symlink_to("/etc")
    (folder / "notebook.ipynb").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe")
    target = tmp_path / "unpacked"
    target.mkdir()
    unpack_into(pack_folder(folder), target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "backpropagation.ipynb", "escape", "helpers", "helpers/maths.py", "notebook.ipynb"]
    assert os.readlink(target / "escape") == "/etc" and (target / "helpers" / "maths.py").read_text() == "x = 1"


def test_an_unreadable_file_is_the_submissions_own_error(tmp_path, monkeypatch):
    """(These tests run as root, who reads every file: the refusal is made by hand.)"""
    import tarfile

    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "helpers.py").write_text("x = 1")

    def refuse(self, name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(tarfile.TarFile, "add", refuse)
    with pytest.raises(UnpackableSubmission, match="helpers.py cannot be read .Permission denied.: hand in readable files"):
        pack_folder(folder)


def test_a_submission_too_large_for_a_slot_is_its_own_error(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.py").write_bytes(b"#" * 1000)
    with pytest.raises(SubmissionTooLarge, match="more than"):
        pack_folder(folder, limit=2500)
    with pytest.raises(SubmissionTooLarge, match="more than 2 files"):
        pack_folder(folder, max_entries=2)
