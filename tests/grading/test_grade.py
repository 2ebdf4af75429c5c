"""`python tests_backpropagation.py grade DIR` on submissions written for these tests: real-style ones
get the verdict their work earns, hostile ones can neither fool the grader nor harm anything."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from tests.fixtures import submissions as S
from tests.fixtures.benign import BENIGN

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
    for name, files, _, _ in S.sandboxed():
        S.write(root, name, files)
    S.write_zip(root)
    S.write_with_data(root)
    S.write_hostile_names(root)
    S.write_staging_hostile(root)
    for name, files, _, _ in BENIGN + S.in_process():  # every corpus in one class: right, wrong, benign, hostile
        S.write(root, name, files)
    before = tmp_path_factory.mktemp("before") / "copy"
    shutil.copytree(root, before, symlinks=True, ignore=lambda folder, names: [  # FIFOs and the sparse file
        n for n in names if not os.path.islink(os.path.join(folder, n)) and (
            not (os.path.isfile(os.path.join(folder, n)) or os.path.isdir(os.path.join(folder, n))) or n == "weights.py")])
    out = tmp_path_factory.mktemp("out")
    # the grader's temporary folders (the inputs every sandbox binds) under a folder of this run only, so
    # that a process this run left behind is told from another test's grading running beside it
    temporary = tmp_path_factory.mktemp("grader-tmp")
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root), "--json", str(out / "verdicts.json"),
                             "--csv", str(out / "gradebook.csv"), "--feedback", str(out / "feedback"),
                             "--timeout", str(TIMEOUT), "--jobs", "2", "--memory", "2"], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "INF265_TEST_SECRET": "the grader's own", "TMPDIR": str(temporary)})
    verdicts = json.loads((out / "verdicts.json").read_text()) if (out / "verdicts.json").exists() else []
    return {"root": root, "before": before, "result": result, "verdicts": {v["submission"]: v for v in verdicts},
            "out": out, "temporary": temporary}


def earns(status, want):
    return status in want if isinstance(want, set) else status == want


def expected():
    return S.expected() | {name: (bp, sgd) for name, _, bp, sgd in BENIGN + S.in_process()}


def test_every_submission_gets_the_status_its_work_earns(graded):
    assert graded["result"].returncode == 0, graded["result"].stderr[-2000:]
    got = {name: (v["backpropagation"]["status"], v["sgd"]["status"]) for name, v in graded["verdicts"].items()}
    wrong = {name: (got.get(name), want) for name, want in expected().items()
             if got.get(name) is None or not (earns(got[name][0], want[0]) and earns(got[name][1], want[1]))}
    assert not wrong, {name: (g, w, graded["verdicts"].get(name)) for name, (g, w) in wrong.items()}


# --- the second round of hostile submissions (issue 23), by class -------------------------------------------

@pytest.mark.parametrize("route", S.AUTOGRAD_ROUTES)
def test_no_route_to_autograd_passes(graded, route):
    """Each computes the right gradients where autograd works (test_hostile_fixtures); here it must not."""
    name = next(n for n in graded["verdicts"] if n.endswith(route))
    entry = graded["verdicts"][name]["backpropagation"]
    assert entry["status"] in ("fail", "error") and entry.get("passed", 0) == 0, entry["message"]


@pytest.mark.parametrize("name, words", [
    ("e01_sees_the_graders_environment", "nothing of the grader is readable"),
    ("e02_looks_for_other_submissions", "no other submission is visible"),
    ("e03_lists_proc", "/proc holds ['cpuinfo']"),
    ("w01_writes_everywhere", "nothing outside the tmpfs is writable"),
])
def test_the_sandbox_shows_and_opens_nothing_of_the_grader(graded, name, words):
    assert words in message(graded, name, "backpropagation")


def test_no_way_out_of_a_submissions_namespaces(graded):
    assert "stayed inside its namespaces" in message(graded, "s01_escapes_its_namespaces", "sgd")


def test_a_forged_payload_declaring_huge_sizes_is_an_error_of_its_own(graded):
    entry = graded["verdicts"]["p01_forges_the_payload"]
    assert entry["backpropagation"]["status"] == "pass" and entry["sgd"]["status"] in ("fail", "error")


def test_forged_feedback_and_terminal_lines_stay_data(graded):
    text = next(graded["out"].joinpath("feedback").glob("f01_forges_the_feedback.md")).read_text()
    outside_code = __import__("re").sub(r"(`+)(?s:.*?)\1", "", text)
    assert [line for line in outside_code.splitlines() if line.startswith("#")] == [
        "# Feedback for ", "## Part backpropagation:  in backpropagation.ipynb: error (0 / 60 points)",
        "## Part sgd:  in gradient_descent.ipynb: missing (0 / 40 points)", "## What was handed in"]
    assert "<" not in outside_code and "\x1b" not in text
    assert "\x1b" not in graded["result"].stdout and "\n# Feedback" not in graded["result"].stdout


def test_every_name_gets_its_own_outputs_and_no_cell_is_a_formula(graded):
    import csv

    names = set(graded["verdicts"])
    assert len(names) == len(expected()) + len(S.HOSTILE_NAMES) + 1  # + the folder whose name is not UTF-8
    assert len(list(graded["out"].joinpath("feedback").glob("*.md"))) == len(names)
    with open(graded["out"] / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))[1:]
    assert len(rows) == len(names)
    assert not [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert any("\udcff" in name for name in names)  # the bytes that are not UTF-8 survive the JSON as escapes


def message(graded, name, part):
    return graded["verdicts"][name][part]["message"]


@pytest.mark.parametrize("name, part, words", [
    ("07_hanging", "backpropagation", f"did not finish within {TIMEOUT} s"),
    ("08_exiting", "backpropagation", "exit 3"),
    ("08_exiting", "sgd", "raised SystemExit"),
    ("h01_reads_expected_gradients", "backpropagation", "autograd"),
    ("h02_writes_its_own_verdict", "backpropagation", "unreadable results"),
    ("h04_autograd_through_the_engine", "backpropagation", "autograd (._execution_engine)"),
    ("h06_memory_hog", "backpropagation", "memory limit of 2 GiB"),
    ("h11_symlinked_notebook", "backpropagation", "backpropagation.ipynb is not in the submission"),
    ("h12_ships_its_own_harness", "backpropagation", "off by a constant factor 2.5"),
    ("h13_switches_the_guard_off", "backpropagation", "autograd"),
    ("h14_kills_the_grader", "backpropagation", "signalling a process (os.kill) is not available"),
    ("z01_zipped_with_magics", "sgd", "gradient_descent.ipynb is not in the submission"),
])
def test_messages_name_the_real_cause(graded, name, part, words):
    assert words in message(graded, name, part)


def test_a_course_style_notebook_is_judged_with_its_own_net_inside_the_sandbox_too(graded):
    real = graded["verdicts"]["r01_course_mynet_one_sample_course_solution_sgd"]
    assert real["backpropagation"]["distinctions"]["vectorised over a batch"]["yes"] is False
    assert any(note.startswith("the test nets were built from your notebook's MyNet") for note in real["backpropagation"]["notes"])
    assert real["sgd"]["distinctions"]["bitwise equal to torch.optim.SGD"]["yes"] is False
    # bitwise inside as outside: the sandbox's PyTorch picks the same CPU kernels as the grader's
    assert graded["verdicts"]["01_right"]["sgd"]["distinctions"]["bitwise equal to torch.optim.SGD"]["yes"] is True


def test_json_has_the_documented_shape(graded):
    for v in graded["verdicts"].values():
        assert set(v) == {"submission", "backpropagation", "sgd", "seconds", "student id", "notes", "deliverables", "late",
                          "late penalty", "marks", "comment", "student", "group", "handed in", "student notes", "canvas name",
                          "content", "similarity"}
        for part in ("backpropagation", "sgd"):
            assert v[part]["status"] in {"pass", "fail", "error", "missing", "timeout"} and v[part]["message"]
            if v[part]["status"] in ("pass", "fail") and "failures" in v[part]:
                assert all({"cause", "count", "first", "case"} <= set(f) for f in v[part]["failures"])


def test_table_on_stdout(graded):
    lines = graded["result"].stdout.splitlines()
    assert lines[0].split() == ["submission", "backpropagation", "sgd", "seconds"]
    for name, (bp, sgd) in expected().items():
        assert any(line.split()[0] == name and earns(line.split()[1], bp) and earns(line.split()[2], sgd) for line in lines[1:] if line.strip()), name


def test_nothing_changed_outside_the_sandboxes(graded):
    comparison = filecmp.dircmp(graded["root"], graded["before"])
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    not_copied = {"data.csv", "helpers.py", "weights.py"}  # the FIFOs and the sparse file, left out of the copy
    for sub in comparison.subdirs.values():
        assert not sub.diff_files and not set(sub.left_only) - not_copied and not sub.right_only
    assert not (graded["root"].parent / "escaped.txt").exists() and not Path("/outside_the_copy.txt").exists()
    assert not (PROJECT_ROOT / "outside_the_copy.txt").exists()


@pytest.mark.parametrize("name, words", [
    ("t01_named_pipe", "2 named pipe(s), device(s) or socket(s) left out"),
    ("t02_sparse_file", "1 code file(s) over 64 MiB left out (weights.py)"),
    ("t03_link_to_a_folder_outside", "1 symbolic link(s) left out, never followed"),
    ("t04_link_into_a_classmates_copy", "2 symbolic link(s) left out, never followed"),
    ("t05_two_folders_down", "the project was found in Project 1/ and is graded from there"),  # the zip's one top folder is entered
])
def test_staging_follows_no_link_reads_no_pipe_and_finds_the_project(graded, name, words):
    """Each is graded on what it handed in (S.STAGING_HOSTILE), with a note of what was left out; the run went on."""
    assert any(words in note for note in graded["verdicts"][name]["notes"]), graded["verdicts"][name]["notes"]


def test_a_notebook_too_large_is_said_handed_in_and_too_large_never_not_submitted(graded):
    verdict = graded["verdicts"]["t06_notebook_too_large"]
    assert verdict["sgd"]["status"] == "error" and "gradient_descent.ipynb was handed in, but too large to grade (70 MiB; the " \
        "grader reads notebooks of at most 64 MiB)" in verdict["sgd"]["message"]
    facts = verdict["deliverables"]["notebooks"]["gradient_descent.ipynb"]
    assert facts["present"] and facts["too_large"] > 70 << 20
    feedback = (graded["out"] / "feedback" / "t06_notebook_too_large.md").read_text()
    assert "gradient_descent.ipynb: **handed in, but too large to grade** (70 MiB" in feedback and "not submitted" not in feedback


@pytest.mark.parametrize("name", [name for name, _, _, _ in BENIGN])
def test_ordinary_right_work_passes_whole_in_the_sandbox(graded, name):
    """The benign corpus: printing, numpy, logging, progress bars, ... under the lockdown and the source check."""
    verdict = graded["verdicts"][name]
    for part, total in (("backpropagation", 52), ("sgd", 4)):
        assert (verdict[part]["status"], verdict[part]["passed"], verdict[part]["total"]) == ("pass", total, total), verdict[part]


def _comparable(verdict):
    """What the grader decides of a part: status, counts and causes (not the text a submission's name shapes)."""
    return {part: (verdict[part]["status"], verdict[part].get("passed"), verdict[part].get("total"),
                   [f["cause"] for f in verdict[part].get("failures", [])]) for part in ("backpropagation", "sgd")}


@pytest.fixture(scope="module")
def checked(graded, tmp_path_factory):
    """Every submission folder of the class staged as `check` stages its one folder (collect_one) and
    graded as `check` grades it, under the class run's options."""
    from harness.classroom import collect
    from harness.grading import grade

    stage, submissions = tmp_path_factory.mktemp("check-stage"), []
    for i, entry in enumerate(sorted(graded["root"].iterdir())):
        if entry.is_dir() and not entry.is_symlink() and entry.name in graded["verdicts"]:
            [submission] = collect.collect_one(entry, stage / str(i))
            submission.name = entry.name
            submissions.append(submission)
    results = grade.grade_all(submissions, grade.Options(timeout=TIMEOUT, jobs=2, memory_gib=2))
    return {result.name: result.to_json() for result in results}


def test_the_students_check_gives_the_graders_verdict_on_every_corpus(graded, checked):
    """Right, wrong, benign and hostile: the same statuses, counts and causes in `check` as in `grade`."""
    assert len(checked) >= 100
    differ = {name: (_comparable(graded["verdicts"][name]), _comparable(v)) for name, v in checked.items()
              if _comparable(graded["verdicts"][name]) != _comparable(v)}
    assert not differ, differ


@pytest.mark.parametrize("name", ["b01_print_delta__tqdm_over_the_loader", "a11_autograd_in_a_thread_by_another_name"])
def test_the_check_command_says_what_grade_says(graded, name):
    """`python tests_backpropagation.py check FOLDER`, as a student runs it, on a benign and a hostile folder."""
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "check", str(graded["root"] / name),
                             "--timeout", str(TIMEOUT)], capture_output=True, text=True, timeout=300)
    verdict = graded["verdicts"][name]
    assert f"As graded: backpropagation {verdict['backpropagation']['status']}, sgd {verdict['sgd']['status']}." in result.stdout, result.stdout[-1500:]
    assert result.returncode == (0 if verdict["backpropagation"]["status"] == verdict["sgd"]["status"] == "pass" else 1)
    for part in ("backpropagation", "sgd"):
        for failure in verdict[part].get("failures", [])[:2]:
            assert failure["cause"][:60] in result.stdout


def test_no_process_is_left(graded):
    assert not processes_with("sleep 987654")
    assert not processes_with(str(graded["temporary"]))  # a sandbox's command line names the inputs it binds


def test_unreadable_submissions_dir_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "Cannot read SUBMISSIONS" in capsys.readouterr().err


def test_bad_command_line_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(["grade", str(tmp_path), "--timeout", "-1"])
    assert stop.value.code == 2 and "--timeout must be a positive number" in capsys.readouterr().err
    assert cli_main(["nonsense"]) == 2


def test_without_a_sandbox_grading_is_refused(tmp_path, monkeypatch, capsys):
    from harness.grading.sandbox import bubblewrap as sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: "user namespaces are disabled")
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "backpropagation.ipynb").write_text("{}")
    assert cli_main(["grade", str(tmp_path), "--csv", str(tmp_path / "out" / "gradebook.csv")]) == 2
    assert "Cannot make a sandbox on this machine: user namespaces are disabled" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_the_sandbox_is_on_here():
    from harness.grading.sandbox import bubblewrap as sandbox

    assert sandbox.probe() is None


@pytest.mark.parametrize("mode", [[], ["--unsafe-no-sandbox"]], ids=["sandbox", "unsafe mode"])
def test_a_relative_submissions_folder_is_graded(tmp_path, mode):
    # `make grade SUBMISSIONS=submissions` names the folder relative to the project; the worker runs elsewhere
    S.write(tmp_path / "submissions", "01_right", S.both())
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", "submissions",
                             "--json", "verdicts.json", "--timeout", "60", *mode], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1000:]
    verdict = json.loads((tmp_path / "verdicts.json").read_text())[0]
    assert (verdict["backpropagation"]["status"], verdict["sgd"]["status"]) == ("pass", "pass"), verdict
