"""From the learning platform's download to its gradebook: Canvas's bulk download collected per student,
deliverables checked, late penalties by the handout's rule, the TA's marks merged, Canvas's import file."""

import csv
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness.classroom import classlist
from harness.classroom import collect
from harness.classroom import gradebook
from harness.classroom import lateness
from harness.classroom import marks
from harness.classroom.roster import read_roster
from harness.grading.grade import SubmissionResult
from harness.grading.parts.verdict import Verdict
from harness.status import Status
from tests.fixtures import reports
from tests.fixtures import submissions as S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNRUN = S.both()  # notebooks as written, never run


def canvas(folder, files):
    """Canvas's flat download: {<name>_[LATE_]<user>_<submission>_<original>: content}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


zipped = S.zip_bytes


# --- collecting ----------------------------------------------------------------------------------------------

def test_canvas_download_is_grouped_per_student_with_its_marks(tmp_path):
    download = canvas(tmp_path / "download", {
        "lovelaceada_101_9001_backpropagation.ipynb": UNRUN["backpropagation.ipynb"],
        "lovelaceada_101_9001_gradient_decent.ipynb": UNRUN["gradient_descent.ipynb"],
        "lovelaceada_101_9001_report.pdf": b"%PDF old",
        "lovelaceada_101_9001_report-1.pdf": b"%PDF newer",
        "turingalan_LATE_102_9002_project.zip": zipped({"project/assignmentBackpropagation.ipynb": UNRUN["backpropagation.ipynb"],
                                                         "project/report.pdf": "%PDF"}),
    })
    ada, alan = collect.collect(download, tmp_path / "stage")
    assert (ada.name, ada.student_id, ada.canvas_name, ada.late) == ("lovelaceada_101", "101", "lovelaceada", False)
    # renamed, not copied: the deliverables then see no "other file" to name in a README
    assert sorted(p.name for p in ada.folder.iterdir()) == ["backpropagation.ipynb", "gradient_descent.ipynb", "report.pdf"]
    assert (ada.folder / "report.pdf").read_bytes() == b"%PDF newer"
    assert any("gradient_decent.ipynb is graded as gradient_descent.ipynb" in n for n in ada.notes)
    assert any("older upload" in n for n in ada.notes)
    assert alan.late and (alan.folder / "backpropagation.ipynb").exists() and (alan.folder / "report.pdf").exists()
    assert any("assignmentBackpropagation.ipynb is graded as backpropagation.ipynb" in n for n in alan.notes)


def test_the_download_as_a_zip_and_folders_per_submission_both_work(tmp_path):
    (tmp_path / "d.zip").write_bytes(zipped({"lovelaceada_101_9001_backpropagation.ipynb": UNRUN["backpropagation.ipynb"]}))
    [ada] = collect.collect(tmp_path / "d.zip", tmp_path / "stage1")
    assert ada.student_id == "101"
    S.write(tmp_path / "folders", "group 7", UNRUN)
    (tmp_path / "folders" / "group 8.zip").write_bytes(zipped({"g8/backpropagation.ipynb": UNRUN["backpropagation.ipynb"]}))
    seven, eight = collect.collect(tmp_path / "folders", tmp_path / "stage2")
    assert (seven.name, eight.name, seven.student_id) == ("group 7", "group 8", "")
    assert (eight.folder / "backpropagation.ipynb").exists()


@pytest.mark.parametrize("files, words", [
    ({"notes.txt": "x", "lovelaceada_101_9001_report.pdf": "%PDF"}, "'notes.txt'"),
    ({"notes.txt": "x"}, "'notes.txt'"),
    ({"lovelaceada_101_9001_report.pdf": "%PDF", "group 1.zip": zipped({"a": "b"})}, "group 1.zip"),
])
def test_an_unknown_layout_is_one_clear_sentence(tmp_path, files, words):
    with pytest.raises(collect.CollectError, match=words) as error:
        collect.collect(canvas(tmp_path / "d", files), tmp_path / "stage")
    assert str(error.value).count(".") <= 3 and "Canvas" in str(error.value)


def test_two_notebooks_that_could_both_be_it_are_not_guessed(tmp_path):
    S.write(tmp_path / "f", "s", {"backprop_v1.ipynb": "{}", "backprop_final.ipynb": "{}"})
    [submission] = collect.collect(tmp_path / "f", tmp_path / "stage")
    assert not (submission.folder / "backpropagation.ipynb").exists() and "2 notebooks could be it" in submission.notes[0]


# --- late penalties --------------------------------------------------------------------------------------------

def test_the_handouts_rule():
    policy = lateness.LatePolicy.parse("2+2/12h")
    assert [policy.penalty(h * 3600) for h in (0, 0.1, 12, 12.5, 30)] == [0, 4, 4, 6, 8]
    assert lateness.LatePolicy.parse("0").penalty(10**6) == 0
    with pytest.raises(ValueError, match="BASE\\+STEP/PERIODh"):
        lateness.LatePolicy.parse("two points")


def test_times_from_the_lms_export_decide_and_canvas_marks_are_a_floor(tmp_path):
    (tmp_path / "times.csv").write_text("ID,submitted_at\n101,2026-02-21T01:00:00+00:00\n102,2026-02-20T22:00:00+00:00\n")
    times = lateness.read_times(tmp_path / "times.csv")
    deadline = datetime(2026, 2, 20, 23, 59, tzinfo=timezone.utc)
    policy = lateness.LatePolicy()
    ada, alan, grace = (collect.Submission("a", Path("."), student_id="101"), collect.Submission("b", Path("."), student_id="102"),
                        collect.Submission("c", Path("."), student_id="103", late=True))
    assert lateness.lateness(ada, deadline, times, policy) == (4.0, "1 h 1 min late: 1 started 12-hour period: -4 points")
    assert lateness.lateness(alan, deadline, times, policy) == (0.0, "on time")
    assert lateness.lateness(grace, deadline, times, policy) == (
        4.0, "late by Canvas's mark (no submission time given): at least 1 started 12-hour period: -4 points")
    (tmp_path / "api.json").write_text('[{"user_id": 101, "submitted_at": "2026-02-21T00:01:00Z"}, {"user_id": 104, "submitted_at": null}]')
    minutes = lateness.read_times(tmp_path / "api.json")  # as Canvas's submissions API gives them
    assert lateness.lateness(ada, deadline, minutes, policy) == (4.0, "2 min late: 1 started 12-hour period: -4 points")
    assert "104" not in minutes


@pytest.mark.parametrize("seconds, said", [(1, "1 min"), (120, "2 min"), (3600, "1 h"), (13.5 * 3600, "13 h 30 min"),
                                           (50 * 3600, "2 days 2 h")])
def test_lateness_is_said_as_a_person_would(seconds, said):
    assert lateness.duration(seconds) == said


def test_the_bad_times_file(tmp_path):
    (tmp_path / "bad.csv").write_text("who,when\n1,2\n")
    with pytest.raises(ValueError, match="has no column for the student"):
        lateness.read_times(tmp_path / "bad.csv")


# --- marks and Canvas's import -----------------------------------------------------------------------------------

def result(name, student_id, status=Status.PASS):
    verdicts = {"backpropagation": Verdict(status, ""), "sgd": Verdict(Status.PASS, "")}
    return SubmissionResult(name, verdicts, student_id=student_id, canvas_name=name.split("_")[0])


def test_marks_template_first_then_read_and_out_of_range_refused(tmp_path):
    download = canvas(tmp_path / "d", {"lovelaceada_101_9001_report.pdf": "%PDF", "=evil_102_9002_report.pdf": "%PDF"})
    students = classlist.class_list(collect.collect(download, tmp_path / "stage"), {}, {})
    manual = gradebook.parse_manual_points(gradebook.MANUAL_DEFAULT)
    marks.write_template(tmp_path / "marks.csv", students, manual, {"101": 100.0, "102": 40.0})
    rows = list(csv.reader(open(tmp_path / "marks.csv")))
    assert rows[0] == ["student id", "submission", "group", "students", "graded parts", "clarity of code", "reporting", "comment"]
    assert rows[1][:5] == ["102", "'=evil_102", "", "'=evil", "40.0"]  # no formula runs in a spreadsheet
    assert rows[2][:5] == ["101", "lovelaceada_101", "", "lovelaceada", "100.0"]
    rows[2][5:] = ["8", "18,5", "Tidy code."]
    rows[1][5:] = ["", "10", ""]
    csv.writer(open(tmp_path / "marks.csv", "w", newline="")).writerows(rows)
    given = marks.read_marks(tmp_path / "marks.csv", manual, students)
    assert given["101"].marks == {"clarity of code": 8.0, "reporting": 18.5} and given["101"].comment == "Tidy code."
    assert given["102"].marks == {"reporting": 10.0}
    rows[2][5:] = ["25", "x", ""]
    csv.writer(open(tmp_path / "marks.csv", "w", newline="")).writerows(rows)
    with pytest.raises(marks.MarksRefused) as refused:  # nothing capped, nothing left out: every bad cell said
        marks.read_marks(tmp_path / "marks.csv", manual, students)
    assert "row 3 (lovelaceada): clarity of code is 25, outside 0 to 10" in str(refused.value)
    assert "row 3 (lovelaceada): reporting is 'x', not a number" in str(refused.value)


def test_canvas_import_format(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Project 1 (77)\n"
                      "    Points Possible,,,,,130\n\"Lovelace, Ada\",101,s101,ada@uib.no,INF265 2026,\n")
    results = [result("lovelaceada_101", "101"), result("turingalan_102", "102", Status.FAIL)]
    gradebook.write_canvas(results, tmp_path / "canvas.csv", "Project 1 (77)", 130, gradebook.default_points(),
                           roster=read_roster(roster))
    rows = list(csv.reader(open(tmp_path / "canvas.csv")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Project 1 (77)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "130"]
    assert rows[2] == ["Lovelace, Ada", "101", "s101", "ada@uib.no", "INF265 2026", "100.0"]
    assert rows[3] == ["turingalan", "102", "", "", "", "40.0"]


# --- the whole loop, in sandboxes ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    solution = {name: (PROJECT_ROOT / name).read_text() for name in ("backpropagation.ipynb", "gradient_descent.ipynb")}
    canvas(root / "download", {
        # Ada: the work, run, a report that answers everything
        "lovelaceada_101_9001_backpropagation.ipynb": solution["backpropagation.ipynb"],
        "lovelaceada_101_9001_gradient_descent.ipynb": solution["gradient_descent.ipynb"],
        "lovelaceada_101_9001_report.pdf": reports.pdf(reports.GOOD),
        # Alan: late, his own zip, notebooks never run, a notebook export as the report (uploaded twice)
        "turingalan_LATE_102_9002_project.zip": zipped({f"project/{k}": v for k, v in UNRUN.items()}),
        "turingalan_LATE_102_9002_backpropagation.pdf": reports.pdf("= old"),
        "turingalan_LATE_102_9002_backpropagation-1.pdf": reports.pdf(reports.NOTEBOOK_EXPORT),
        # Grace: no report, a notebook named her way
        "hoppergrace_103_9003_backpropagation.ipynb": solution["backpropagation.ipynb"],
        "hoppergrace_103_9003_gradient_decent.ipynb": solution["gradient_descent.ipynb"],
    })
    (root / "times.csv").write_text("ID,submitted_at\n101,2026-02-20T20:00:00+01:00\n102,2026-02-21T13:30:00+01:00\n103,2026-02-20T23:00:00+01:00\n")
    (root / "marks.csv").write_text("submission,student id,clarity of code,reporting,comment\nlovelaceada_101,101,9,18,Clear.\n")
    out = root / "out"
    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root / "download"),
                          "--csv", str(out / "gradebook.csv"), "--canvas-csv", str(out / "canvas.csv"), "--feedback", str(out / "feedback"),
                          "--json", str(out / "verdicts.json"), "--marks", str(root / "marks.csv"),
                          "--deadline", "2026-02-20T23:59+01:00", "--times", str(root / "times.csv"), "--timeout", "60", "--jobs", "2"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out / "gradebook.csv", newline="") as file:
        book = {row["submission"]: row for row in csv.DictReader(file)}
    return {"out": out, "book": book, "run": run}


def test_each_student_gets_the_deliverable_columns_the_work_earns(loop):
    book = loop["book"]
    ada, alan, grace = book["lovelaceada_101"], book["turingalan_102"], book["hoppergrace_103"]
    assert (ada["backpropagation"], ada["sgd"], ada["backpropagation.ipynb run"], ada["course tests passing"], ada["report"],
            ada["report answers (a)-(g)"], ada["division of labour"]) == ("pass", "pass", "yes", "2 / 2", "ok", "7 / 7", "yes")
    assert (alan["backpropagation.ipynb run"], alan["gradient_descent.ipynb run"], alan["report"]) == ("no", "no", "notebook export")
    assert (grace["report"], grace["gradient_descent.ipynb run"], grace["sgd"]) == ("missing", "yes", "pass")
    assert "gradient_decent.ipynb is graded as gradient_descent.ipynb" in grace["notes"]


def test_late_penalty_marks_and_totals(loop):
    book = loop["book"]
    assert (book["lovelaceada_101"]["late penalty"], book["lovelaceada_101"]["total points"]) == ("0.0", "127.0")  # 100 + 9 + 18
    assert book["turingalan_102"]["late penalty"] == "6.0" and "13 h 31 min late: 2 started 12-hour periods: -6 points" in book["turingalan_102"]["late"]  # 2 + 2 x 2 periods
    assert book["hoppergrace_103"]["clarity of code"] == ""


def test_canvas_gets_an_importable_file_and_feedback_named_by_student(loop):
    rows = list(csv.reader(open(loop["out"] / "canvas.csv")))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and rows[1][0] == "Points Possible"
    assert {row[1]: row[5] for row in rows[2:]} == {"101": "127.0", "102": loop["book"]["turingalan_102"]["total points"],
                                                    "103": loop["book"]["hoppergrace_103"]["total points"]}
    names = sorted(p.name for p in (loop["out"] / "feedback").iterdir())
    assert names == ["canvas_reupload.zip", "hoppergrace_103.md", "lovelaceada_101.md", "turingalan_102.md"]
    alan = (loop["out"] / "feedback" / "turingalan_102.md").read_text()
    assert "**not run as handed in**" in alan and "it looks like a notebook export" in alan and "-6 points`, by the handout's rule" in alan
    assert "Clear." in (loop["out"] / "feedback" / "lovelaceada_101.md").read_text()


def test_progress_is_one_line_per_submission_off_a_terminal(loop):
    lines = [line for line in loop["run"].stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and lines[-1].startswith("[3/3] ")
    assert json.loads((loop["out"] / "verdicts.json").read_text())[0]["student id"]
