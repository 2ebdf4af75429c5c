"""Every file a teacher hands the grader is read right or refused, and nothing is lost: the roster, the
group set, the TA's marks and the submission times as Canvas and Excel write them (semicolons, a BOM,
Windows-1252, UTF-16, decimal commas), checked against each other and the download before anything is
graded or written. A file read right gives the same gradebooks as the clean file; a refused run exits 2
and leaves the previous outputs exactly as they were.

The class is graded in-process with the sandbox's grading replaced by fixed verdicts (what is tested
here is everything around grading, which the other suites grade for real)."""

import csv
import io
import json
from pathlib import Path

import pytest

from harness import cli
from harness.classroom import lateness, marks, tables
from harness.classroom.groups import read_groups
from harness.classroom.roster import read_roster
from harness.grading import grade as grading
from harness.grading.grade import SubmissionResult
from harness.grading.parts.verdict import Verdict
from harness.status import Status

ROSTER = {"201": "Søreide, Åse", "202": "Olsen, Marte", "203": "Karlsen, Ida", "204": "Jensen, Magnus",
          "205": "Nilsen, Per", "206": "Aas, Kari"}
GROUPS = {"Pair 1": ("201", "202"), "Pair 2": ("203", "204")}
DOWNLOAD = {"pair1_201_7001_backpropagation.ipynb": "{}", "pair1_201_7002_gradient_descent.ipynb": "{}",
            "pair2_LATE_204_7010_backpropagation.ipynb": "{}", "nilsenper_205_7040_backpropagation.ipynb": "{}"}
# the TA's marks: Pair 1 through a member, Pair 2 through the other, and Kari, who sent her work by email
MARKS = [("201", "8.5", "18", "Clear code; see the plots."), ("204", "9", "17.5", ""), ("206", "5", "10", "Marked from email.")]
TIMES = [("201", "2026-02-20T12:00:00Z"), ("204", "2026-02-20T23:00:30Z"), ("205", "2026-02-20T22:00:00+01:00")]
DEADLINE = "2026-02-20T23:59:00+01:00"
VERDICTS = {"pair1_201": ("pass", "pass"), "pair2_204": ("pass", "missing"), "nilsenper_205": ("fail", "missing")}


# --- the files, as each tool writes them ---------------------------------------------------------------------------

EXCEL = {  # how a spreadsheet saves a CSV: (delimiter, encoding, byte-order mark, decimal comma, line end)
    "clean": (",", "utf-8", False, False, "\n"),
    "excel norwegian windows": (";", "cp1252", False, True, "\r\n"),
    "excel csv utf-8": (";", "utf-8", True, True, "\r\n"),
    "excel unicode text": ("\t", "utf-16-le", True, False, "\r\n"),
    "comma with a quoted decimal comma": (",", "utf-8", True, True, "\r\n"),
    "excel for mac, mac roman": (",", "mac_roman", False, False, "\r"),
}


def write_csv(path, rows, variant="clean", numbers=()):
    """rows as a tool writes them; numbers: the column indexes written with the locale's decimal mark."""
    delimiter, encoding, bom, comma, end = EXCEL[variant]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=end)
    for i, row in enumerate(rows):
        writer.writerow([cell.replace(".", ",") if comma and i and j in numbers else cell for j, cell in enumerate(row)])
    data = out.getvalue().encode(encoding)
    prefix = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe"}.get(encoding, b"") if bom else b""
    Path(path).write_bytes(prefix + data)
    return path


def roster_rows():
    return [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Project 1 (123)"],
            ["    Points Possible", "", "", "", "", "130"]] + \
           [[name, user, f"sis{user}", f"login{user}", "INF265", ""] for user, name in ROSTER.items()]


def group_rows(columns=("name", "canvas_user_id", "user_id", "login_id", "sections", "group_name", "canvas_group_id", "group_id")):
    rows = [list(columns)]
    for i, (group, members) in enumerate(GROUPS.items(), start=1):
        for user in members:
            last, first = ROSTER[user].split(", ")
            entry = {"name": f"{first} {last}", "canvas_user_id": user, "user_id": f"sis{user}", "login_id": f"login{user}",
                     "sections": "INF265", "group_name": group, "canvas_group_id": str(900 + i), "group_id": ""}
            rows.append([entry[c] for c in columns])
    return rows


def marks_rows(entries=MARKS):
    return [["student id", "submission", "group", "students", "graded parts", "clarity of code", "reporting", "comment"]] + \
           [[user, "", "", "", "", clarity, reporting, comment] for user, clarity, reporting, comment in entries]


def write_class(root, variant="clean", marks_entries=MARKS, download=DOWNLOAD):
    root.mkdir(parents=True, exist_ok=True)
    (root / "download").mkdir(exist_ok=True)
    for name, content in download.items():
        (root / "download" / name).write_text(content)
    write_csv(root / "roster.csv", roster_rows(), variant)
    write_csv(root / "groups.csv", group_rows(), variant)
    write_csv(root / "marks.csv", marks_rows(marks_entries), variant, numbers=(5, 6))
    write_csv(root / "times.csv", [["ID", "submitted_at"], *TIMES], variant)
    return root


def fixed_grading(submissions, options=None, on_done=None, on_note=None):
    """grade_all with fixed verdicts by submission name: what this suite tests is everything around it."""
    results = []
    for submission in submissions:
        statuses = VERDICTS.get(submission.name, ("pass", "pass"))
        verdicts = {part: Verdict(Status(status), f"{part} {status}", passed=1 if status == "pass" else 0, total=1)
                    for part, status in zip(("backpropagation", "sgd"), statuses)}
        results.append(SubmissionResult(submission.name, verdicts, 0.5, student_id=submission.student_id,
                                        canvas_name=submission.canvas_name, notes=list(submission.notes)))
        if on_done:
            on_done(results[-1])
    return results


@pytest.fixture
def grade(monkeypatch, capsys):
    """grade(root, *options) -> (exit code, stderr): the Canvas command in this process, outputs in root/out."""
    monkeypatch.setattr(grading, "grade_all", fixed_grading)

    def run(root, *options, marks=True, times=True, roster=True, groups=True):
        out = root / "out"
        argv = ["grade", str(root / "download"), "--csv", str(out / "gradebook.csv"), "--canvas-csv", str(out / "canvas.csv"),
                "--json", str(out / "verdicts.json"), "--feedback", str(out / "feedback"), "--record", str(out / "run.json"),
                "--deadline", DEADLINE, *options]
        argv += ["--marks", str(root / "marks.csv")] if marks else []
        argv += ["--times", str(root / "times.csv")] if times else []
        argv += ["--roster", str(root / "roster.csv")] if roster else []
        argv += ["--groups", str(root / "groups.csv")] if groups else []
        code = cli.main(argv)
        captured = capsys.readouterr()
        return code, captured.err, captured.out
    return run


def outputs(root):
    """{relative path: bytes} of what a run wrote, without what differs by the clock (run.json's time)."""
    found = {}
    for path in sorted((root / "out").rglob("*")):
        if path.is_file() and path.name != "run.json" and ".20" not in path.name:
            found[str(path.relative_to(root / "out"))] = path.read_bytes()
    return found


def snapshot(root):
    """Every file under root/out with its bytes and modification time: what 'untouched' means."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted((root / "out").rglob("*")) if p.is_file()}


def book(root):
    with open(root / "out" / "gradebook.csv", newline="", encoding="utf-8") as file:
        return {row["student id"]: row for row in csv.DictReader(file)}


# --- reading each file ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(EXCEL))
def test_each_file_reads_the_same_however_excel_saved_it(tmp_path, variant):
    clean, excel = write_class(tmp_path / "clean"), write_class(tmp_path / "excel", variant)
    assert read_roster(excel / "roster.csv") == read_roster(clean / "roster.csv")
    assert read_roster(clean / "roster.csv")["201"]["Student"] == "Søreide, Åse"
    assert {k: (g.name, [m.user_id for m in g.members]) for k, g in read_groups(excel / "groups.csv").items()} == \
           {k: (g.name, [m.user_id for m in g.members]) for k, g in read_groups(clean / "groups.csv").items()}
    assert lateness.read_times(excel / "times.csv") == lateness.read_times(clean / "times.csv")
    table = tables.read_table(excel / "marks.csv", "The marks file", marks.columns({"clarity of code": 10, "reporting": 20}))
    assert [tables.number(row.cells["mark:reporting"]) for row in table.rows] == [18.0, 17.5, 10.0]
    assert table.rows[0].cells["comment"] == "Clear code; see the plots."


def test_excels_own_sep_line_and_rows_of_empty_cells(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b'sep=;\r\nStudent;ID;SIS User ID;SIS Login ID;Section\r\n"Karlsen, Ida";203;;;\r\n;;;;\r\n;;;;\r\n')
    assert list(read_roster(path)) == ["203"]


@pytest.mark.parametrize("text", ["8.5", "8,5", " 8,5 ", "10", "0", ",5", "8\u00a0"])
def test_numbers_with_a_decimal_point_or_comma(text):
    assert tables.number(text) == float(text.strip().replace(",", ".").replace("\u00a0", "") or 0) or text == ",5"


@pytest.mark.parametrize("text", ["8 points", "1.234,5", "eight", "8..5", "", "8,5,1"])
def test_what_is_not_a_number(text):
    with pytest.raises(ValueError):
        tables.number(text)


@pytest.mark.parametrize("content, words", [
    (b"PK\x03\x04rest of a workbook", "is an Excel workbook (.xlsx), not a CSV file"),
    (b"Student,ID\n\x81\xa0\xa1\xa2\xa3\xa4\xa5,1\n", "is neither UTF-8, Windows-1252 nor Mac OS Roman text"),
    (b"", "is empty"),
    (b"Name,Login\nIda,ida\n", "has no 'Student' column and no 'ID' column (it has 'Name', 'Login', read as commas)"),
    (b"Student;ID\n\"Karlsen, Ida\";1,23457E+13\n", "IDs that Excel turned into rounded numbers"),
    (b"Student,ID\n\"Karlsen, Ida\",203\n\"Karlsen, Ida\",203\n", "lists a student twice"),
    (b"Student,ID\n\"Karlsen, Ida\",ida\n", "rows whose ID is not a Canvas user id (row 2 (ida))"),
])
def test_a_roster_that_cannot_be_used_is_one_sentence_naming_the_file(tmp_path, content, words):
    (tmp_path / "roster.csv").write_bytes(content)
    with pytest.raises(tables.InputError, match=None) as refused:
        read_roster(tmp_path / "roster.csv")
    assert words in str(refused.value) and "roster.csv" in str(refused.value) and "\n" not in str(refused.value)


def test_an_unquoted_decimal_comma_in_a_comma_file_is_refused_not_shifted(tmp_path):
    (tmp_path / "marks.csv").write_text("student id,clarity of code,reporting,comment\n201,8,5,18,\n")
    with pytest.raises(tables.InputError, match="row 2 has 5 cells for 4 columns: a decimal comma in a file separated by commas"):
        tables.read_table(tmp_path / "marks.csv", "The marks file", marks.columns({"clarity of code": 10, "reporting": 20}))


def test_a_group_set_without_canvas_user_id_is_refused(tmp_path):
    write_csv(tmp_path / "groups.csv", group_rows(("name", "user_id", "login_id", "group_name")), "excel csv utf-8")
    with pytest.raises(tables.InputError) as refused:
        read_groups(tmp_path / "groups.csv")
    assert "groups.csv has no 'canvas_user_id' column" in str(refused.value) and "user_id there is the SIS id" in str(refused.value)


@pytest.mark.parametrize("text, zone, said", [
    ("2026-02-20T23:59+01:00", None, "Friday 2026-02-20 23:59 +01:00, 2026-02-20 22:59 UTC"),
    ("2026-02-20T23:59", "Europe/Oslo", "Friday 2026-02-20 23:59 +01:00 (Europe/Oslo), 2026-02-20 22:59 UTC"),
    ("2026-06-20T23:59", "Europe/Oslo", "Saturday 2026-06-20 23:59 +02:00 (Europe/Oslo), 2026-06-20 21:59 UTC"),
    ("20.02.2026 23:59", "Europe/Oslo", "Friday 2026-02-20 23:59 +01:00 (Europe/Oslo), 2026-02-20 22:59 UTC"),
    ("2026-02-20T22:59:00Z", None, "Friday 2026-02-20 22:59 +00:00 (UTC)"),
])
def test_a_deadline_is_read_in_its_own_time_zone_and_said_as_understood(text, zone, said):
    moment = lateness.parse_time(text, "--deadline", lateness.time_zone(zone) if zone else None)
    assert lateness.said(moment) == said


@pytest.mark.parametrize("text, zone, words", [
    ("2026-02-20T23:59", None, "has no UTC offset, so it would be read in this machine's time zone"),
    ("2026-10-25T02:30", "Europe/Oslo", "happens twice in Europe/Oslo"),
    ("2026-03-29T02:30", "Europe/Oslo", "does not exist in Europe/Oslo"),
    ("02/20/2026 23:59", "Europe/Oslo", "is not a time such as 2026-02-20T23:59:00\\+01:00"),
])
def test_an_ambiguous_deadline_is_refused(text, zone, words):
    with pytest.raises(tables.InputError, match=words):
        lateness.parse_time(text, "--deadline", lateness.time_zone(zone) if zone else None)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(tables.InputError, match="'Europe/Olso' is not an IANA time zone"):
        lateness.time_zone("Europe/Olso")


# --- a class graded from them ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", [v for v in EXCEL if v != "clean"])
def test_the_class_graded_from_excels_files_gets_the_clean_files_gradebooks(tmp_path, grade, variant):
    clean, excel = write_class(tmp_path / "clean"), write_class(tmp_path / "excel", variant)
    assert grade(clean)[0] == 0 and grade(excel)[0] == 0
    assert outputs(excel) == outputs(clean)


def test_the_clean_class_is_graded_as_its_files_say(tmp_path, grade):
    root = write_class(tmp_path / "class")
    code, err, out = grade(root)
    assert code == 0, err
    rows = book(root)
    assert set(rows) == set(ROSTER)  # every roster student, in both gradebooks
    assert rows["201"]["student"] == "Søreide, Åse" and rows["201"]["group"] == "Pair 1"
    assert (rows["201"]["clarity of code"], rows["202"]["reporting"], rows["201"]["total points"]) == ("8.5", "18.0", "126.5")
    assert rows["203"]["total points"] == rows["204"]["total points"] == "82.5"  # 60 + 9 + 17.5 - 4 (2 min late)
    assert rows["206"]["total points"] == "15.0"  # nothing on Canvas, her work marked from email
    assert rows["205"]["total points"] == "0.0" and rows["205"]["clarity of code"] == ""
    with open(root / "out" / "canvas.csv", newline="", encoding="utf-8") as file:
        canvas = {row[1]: row for row in csv.reader(file)}
    assert canvas["206"][5] == "15.0" and canvas["201"][0] == "Søreide, Åse" and canvas["201"][2] == "sis201"
    assert "Deadline: Friday 2026-02-20 23:59 +01:00, 2026-02-20 22:59 UTC" in err
    assert json.loads((root / "out" / "run.json").read_text())["deadline"] == "Friday 2026-02-20 23:59 +01:00, 2026-02-20 22:59 UTC"
    assert "Handed in nothing (1; blank in the gradebooks unless marked): Kari Aas. Marked from" in err
    assert "Marks still to enter in" in err and "(1): Per Nilsen." in err


def test_an_empty_download_is_refused_and_nobody_gets_zero(tmp_path, grade):
    root = write_class(tmp_path / "class", download={})
    code, err, _ = grade(root, "--missing", "zero")
    assert code == 2 and "holds no submission" in err and not (root / "out").exists()


def test_a_download_of_another_course_is_refused(tmp_path, grade):
    root = write_class(tmp_path / "class", download={"someone_999_1_backpropagation.ipynb": "{}"})
    code, err, _ = grade(root, "--missing", "zero", groups=False, marks=False, times=False)
    assert code == 2 and "None of the 1 students of the download is on the roster roster.csv" in err
    assert not (root / "out").exists()


def test_a_roster_saved_with_semicolons_names_everyone_and_gives_nonsubmitters_rows(tmp_path, grade):
    root = write_class(tmp_path / "class", "excel norwegian windows")
    assert grade(root)[0] == 0
    rows = book(root)
    assert rows["206"]["student"] == "Aas, Kari" and rows["201"]["student"] == "Søreide, Åse"


def test_refused_runs_leave_the_previous_outputs_exactly_as_they_were(tmp_path, grade):
    root = write_class(tmp_path / "class")
    assert grade(root)[0] == 0
    before = snapshot(root)
    bad = [("201", "25", "18", ""), ("204", "-3", "x", ""), ("999", "5", "5", ""), ("206", "8,5", "", "")]
    write_csv(root / "marks.csv", marks_rows(bad), "excel csv utf-8", numbers=(5, 6))
    code, err, out = grade(root)
    assert code == 2 and snapshot(root) == before and out == ""
    for said in ("row 2 (group Pair 1): clarity of code is 25, outside 0 to 10", "row 3 (group Pair 2): clarity of code is -3, outside 0 to 10",
                 "row 3 (group Pair 2): reporting is 'x', not a number",
                 "row 4 names student id '999', who is in neither the download, the roster nor the group set"):
        assert said in err, err
    assert "row 5" not in err  # Kari's 8,5 is a number, read as 8.5
    assert "nothing was graded or written, and the previous outputs are as they were" in err


def test_a_mistyped_marks_path_after_marks_were_merged_is_refused(tmp_path, grade):
    root = write_class(tmp_path / "class")
    assert grade(root)[0] == 0
    before = snapshot(root)
    code, err, _ = grade(root, "--marks", str(root / "mark.csv"), marks=False)
    assert code == 2 and "mark.csv does not exist, but the previous run merged marks" in err
    assert snapshot(root) == before and not (root / "mark.csv").exists()


def test_the_first_template_names_who_each_row_is_for_and_their_points_so_far(tmp_path, grade):
    root = write_class(tmp_path / "class")
    (root / "marks.csv").unlink()
    code, err, _ = grade(root)
    assert code == 0 and "no marks yet: wrote" in err
    with open(root / "marks.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["student id", "submission", "group", "students", "graded parts", "clarity of code", "reporting", "comment"]
    by_group = {row[2] or row[3]: row for row in rows[1:]}
    assert by_group["Pair 1"][:5] == ["201", "pair1_201", "Pair 1", "Åse Søreide and Marte Olsen", "100.0"]
    assert by_group["Pair 2"][:5] == ["204", "pair2_204", "Pair 2", "Ida Karlsen and Magnus Jensen", "60.0"]
    assert by_group["Kari Aas"][:5] == ["206", "", "", "Kari Aas", ""]
    rows[1][5:7] = ["7", "15"]  # the TA fills it in, Excel saves it: the next run reads it
    write_csv(root / "marks.csv", rows, "excel norwegian windows", numbers=(4, 5, 6))
    assert grade(root)[0] == 0
    assert book(root)[rows[1][0]]["clarity of code"] == "7.0"


def test_a_deadline_without_an_offset_needs_a_time_zone(tmp_path, grade):
    root = write_class(tmp_path / "class")
    code, err, _ = grade(root, "--deadline", "2026-02-20T23:59")
    assert code == 2 and "--deadline '2026-02-20T23:59' has no UTC offset" in err and not (root / "out").exists()
    code, err, _ = grade(root, "--deadline", "2026-02-20T23:59", "--timezone", "Europe/Oslo")
    assert code == 0 and "Deadline: Friday 2026-02-20 23:59 +01:00 (Europe/Oslo)" in err
    assert book(root)["204"]["late"] == "2 min late: 1 started 12-hour period: -4 points"


def test_times_that_name_nobody_are_refused(tmp_path, grade):
    root = write_class(tmp_path / "class")
    write_csv(root / "times.csv", [["ID", "submitted_at"], *TIMES, ("777", "2026-02-20T12:00:00Z")])
    code, err, _ = grade(root)
    assert code == 2 and "The submission times name '777'" in err


def test_a_group_member_or_submitter_missing_from_the_roster_is_refused(tmp_path, grade):
    root = write_class(tmp_path / "class")
    rows = [row for row in roster_rows() if row[1] not in ("202", "205")]
    write_csv(root / "roster.csv", rows)
    code, err, _ = grade(root)
    assert code == 2 and "nilsenper_205 handed in but is not on the roster" in err
    assert "The group set groups.csv has members who are not on the roster (202)" in err


def test_every_problem_of_every_file_is_said_at_once(tmp_path, grade):
    root = write_class(tmp_path / "class")
    (root / "roster.csv").write_bytes(b"PK\x03\x04")
    write_csv(root / "groups.csv", group_rows(("name", "user_id", "group_name")))
    code, err, _ = grade(root, "--deadline", "tomorrow")
    assert code == 2 and "Refused (3 problems)" in err
    assert "roster.csv is an Excel workbook" in err and "groups.csv has no 'canvas_user_id'" in err and "'tomorrow'" in err
    assert "usage:" not in err  # a file's problem is no command-line error


def test_other_options_move_the_earlier_feedback_aside_with_the_gradebooks(tmp_path, grade):
    root = write_class(tmp_path / "class")
    assert grade(root)[0] == 0
    assert sorted(p.name for p in (root / "out" / "feedback").glob("*.md"))[0] == "Aas_Kari_206.md"
    assert grade(root, groups=False, roster=False, marks=False)[0] == 0  # the same folder, without the group set
    now = sorted(p.name for p in (root / "out" / "feedback").glob("*.md"))
    assert now == ["nilsenper_205.md", "pair1_201.md", "pair2_204.md"]  # none of the earlier run's files left beside them
    kept = [p for p in (root / "out").iterdir() if p.name.startswith("feedback.")]
    assert len(kept) == 1 and (kept[0] / "Aas_Kari_206.md").exists()
    assert len(list((root / "out").glob("gradebook.*.csv"))) == 1


def test_check_inputs_says_who_gets_which_row_and_writes_nothing(tmp_path, grade):
    root = write_class(tmp_path / "class", "excel norwegian windows")
    code, err, out = grade(root, "--check-inputs")
    assert code == 0 and not (root / "out").exists(), err
    assert "SUBMISSIONS: 3 submission(s) to grade; roster: 6 student(s); group set: 2 group(s)" in out
    assert "Olsen, Marte (202); group Pair 1; graded: pair1_201, the group's upload by Åse Søreide" in out
    assert "Jensen, Magnus (204); group Pair 2; graded: pair2_204, their own upload for the group; 2 min late" in out
    assert "Aas, Kari (206); on the roster; nothing handed in; marks clarity of code 5, reporting 10 (row 4)" in out
    write_csv(root / "marks.csv", marks_rows([("999", "5", "5", "")]))
    code, err, out = grade(root, "--check-inputs")
    assert code == 2 and "row 2 names student id '999'" in err


def test_only_regrades_one_group_into_the_existing_gradebooks(tmp_path, grade):
    root = write_class(tmp_path / "class")
    assert grade(root)[0] == 0
    before = book(root)
    VERDICTS["pair2_204"] = ("pass", "pass")  # say the TA fixed a grader setting for this pair and regrades it
    try:
        code, err, _ = grade(root, "--only", "Pair 2")
    finally:
        VERDICTS["pair2_204"] = ("pass", "missing")
    assert code == 0, err
    after = book(root)
    assert after["203"]["sgd"] == after["204"]["sgd"] == "pass" and after["203"]["total points"] == "122.5"
    assert {k: v for k, v in after.items() if k not in ("203", "204")} == {k: v for k, v in before.items() if k not in ("203", "204")}
    assert "Graded 1 submission(s)" in err and "2 kept as the previous run graded them" in err
    code, err, _ = grade(root, "--only", "Nobody Here")
    assert code == 2 and "no student, submission or group of the class is named so" in err
    code, err, _ = grade(root, "--only", "Kari Aas")
    assert code == 2 and "they handed in nothing" in err


def test_only_refuses_when_another_submission_changed_since(tmp_path, grade):
    root = write_class(tmp_path / "class")
    assert grade(root)[0] == 0
    (root / "download" / "nilsenper_205_7041_backpropagation-1.ipynb").write_text('{"cells": []}')
    code, err, _ = grade(root, "--only", "203")
    assert code == 2 and "nilsenper_205 uploaded again since the previous run" in err


def test_the_summary_names_the_students_and_the_exit_status_says_all_was_used(tmp_path, grade):
    root = write_class(tmp_path / "class")
    write_csv(root / "marks.csv", marks_rows(MARKS[:1]))
    code, err, _ = grade(root)
    assert code == 0
    assert "Marks still to enter in" in err and "(3): Per Nilsen, Ida Karlsen, Magnus Jensen." in err
    assert "Late (2): Ida Karlsen (2 min late, -4); Magnus Jensen (2 min late, -4)." in err


def test_times_may_name_students_as_the_roster_does(tmp_path, grade):
    root = write_class(tmp_path / "class")
    write_csv(root / "times.csv", [["Student", "Submitted"], ["Jensen, Magnus", "20.02.2026 23:00"], ["Søreide, Åse", "20.02.2026 12:00"]],
              "excel norwegian windows")
    code, err, _ = grade(root, "--timezone", "Europe/Oslo")
    assert code == 0, err
    assert book(root)["204"]["late"] == "on time" and book(root)["201"]["late"] == "on time"


def test_a_notebook_over_the_size_limit_is_handed_in_and_too_large(tmp_path):
    from harness.classroom import collect
    from harness.classroom.staging import MAX_CODE_FILE
    from harness.grading.grade import Options, said_too_large

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "olsenmarte_202_7001_backpropagation.ipynb").write_text("{}")
    with open(tmp_path / "d" / "olsenmarte_202_7002_gradient_decent.ipynb", "wb") as file:
        file.truncate(MAX_CODE_FILE + (6 << 20))  # a notebook full of figures, named her way
    [submission] = collect.collect(tmp_path / "d", tmp_path / "stage")
    assert submission.oversized == {"gradient_descent.ipynb": (MAX_CODE_FILE + (6 << 20), MAX_CODE_FILE)}
    facts = {"notebooks": {"gradient_descent.ipynb": {"present": False, "run": False, "why": "not submitted", "tests": [0, 0]}}}
    result = SubmissionResult("olsenmarte_202", {"backpropagation": Verdict(Status.PASS, ""), "sgd": Verdict(Status.MISSING, "")},
                              deliverables=facts)
    said_too_large(result, submission.oversized, Options())
    assert result.verdicts["sgd"].status is Status.ERROR and "70 MiB; the grader reads notebooks of at most 64 MiB" in \
        result.verdicts["sgd"].message
    assert facts["notebooks"]["gradient_descent.ipynb"]["present"] is True


def test_the_overview_counts_a_cause_once_per_submission():
    from harness.classroom.gradebook import default_points
    from harness.classroom.overview import class_facts

    cause = {"cause": "likely cause: gradients not zeroed", "count": 1, "first": "", "case": "", "detail": ""}
    sgd = Verdict(Status.FAIL, "", passed=1, total=4, failures=[dict(cause, case=str(i)) for i in range(3)])
    pair = [SubmissionResult("pair1_201", {"backpropagation": Verdict(Status.PASS, ""), "sgd": sgd}, student_id=user, group="Pair 1")
            for user in ("201", "202")]
    facts = class_facts(pair, default_points())
    assert facts["causes"]["sgd"] == [("likely cause: gradients not zeroed", 1)] and facts["submissions"] == 1


def test_feedback_says_the_total_of_130_and_the_marks_to_come():
    from harness.classroom import feedback
    from harness.classroom.gradebook import MANUAL_DEFAULT, default_points, parse_manual_points

    manual = parse_manual_points(MANUAL_DEFAULT)
    verdicts = {"backpropagation": Verdict(Status.PASS, "", distinctions={"vectorised over a batch": {"yes": True, "detail": ""}}),
                "sgd": Verdict(Status.PASS, "", distinctions={"momentum+nesterov (beyond the course)": {"yes": False, "detail": ""}})}
    result = SubmissionResult("pair2_204", verdicts, student_id="203", display_name="Karlsen, Ida", named=True, group="Pair 2",
                              partners=["Jensen, Magnus", "Berg, Per"], marks={"reporting": 17.5}, penalty=4)
    text = feedback.feedback_markdown(result, default_points(), manual=manual)
    assert text.startswith("# Feedback for Ida Karlsen (group Pair 2, with Magnus Jensen and Per Berg)\n\n**Points so far: 113.5 of "
                           "130**: graded parts 100 of 100, reporting 17.5 of 20, late penalty -4; your teaching assistant's marks "
                           "for clarity of code (of 10) are still to come.")
    assert "Beyond what the course asks (never a cause of lost points): your backpropagation also gives the right gradients for a " \
           "batch of several samples; your SGD does not handle Nesterov momentum." in text
    assert "A part earns its points only when it passes: all or nothing." in text
    result.marks["clarity of code"] = 9
    assert "**Total: 122.5 of 130 points**: graded parts 100 of 100, clarity of code 9 of 10, reporting 17.5 of 20, late penalty -4." \
        in feedback.feedback_markdown(result, default_points(), manual=manual)
    assert all(not line.startswith("#") or text.split("\n")[i - 1] == "" for i, line in enumerate(text.split("\n")) if i)


@pytest.mark.parametrize("name", ["Søreide, Åse", "Håkon Ødegård", "Bjørn Ærø", "Élise Müller-Lüdenscheidt", "José Nuñez"])
@pytest.mark.parametrize("codec", ["cp1252", "mac_roman"])
def test_names_read_right_from_windows_or_mac_excel(tmp_path, name, codec):
    (tmp_path / "roster.csv").write_bytes(f'Student,ID\r"{name}",203\r'.encode(codec))
    assert read_roster(tmp_path / "roster.csv")["203"]["Student"] == name


def test_the_benign_twins_of_the_size_limit_and_the_lone_zip(tmp_path):
    """A notebook with large outputs under the limit is graded as it is; a zip beside the notebooks (data,
    an archive of figures) is not unpacked over them."""
    from harness.classroom import collect
    from harness.classroom.staging import MAX_CODE_FILE
    from tests.fixtures import submissions as S

    files = S.both()
    files["gradient_descent.ipynb"] = files["gradient_descent.ipynb"].replace('"cells"', '"padding": "' + " " * (MAX_CODE_FILE - (4 << 20)) + '", "cells"', 1)
    folder = S.write(tmp_path / "d", "large_outputs", files)
    (folder / "figures.zip").write_bytes(S.zip_bytes({"backpropagation.ipynb": "{}"}))
    [submission] = collect.collect(tmp_path / "d", tmp_path / "stage")
    assert submission.oversized == {} and (submission.folder / "gradient_descent.ipynb").stat().st_size > MAX_CODE_FILE - (5 << 20)
    assert (submission.folder / "figures.zip").exists() and (submission.folder / "backpropagation.ipynb").read_text() != "{}"
    assert not any("unpacked" in note for note in submission.notes)
