"""A paired class from Canvas and back: Canvas's download of a group assignment (one submission per group,
named by the group and the member who handed in), its group-set export and roster; every student graded,
named as the roster names them, in both gradebooks, with feedback of their own and a re-upload zip that
Canvas attaches member for member."""

import csv
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.classroom import groups as G
from tests.fixtures import reports
from tests.fixtures import submissions as S

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RIGHT, WRONG = S.both(), S.both(S.replaced(S.RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred"))
ROSTER = {"201": "Søreide, Åse", "202": "Olsen, Marte", "203": "Hansen, Jonas", "204": "Berg, Ida", "205": "Dahl, Emil",
          "206": "Lie, Nora", "207": "Moen, Sander", "208": "Bakke, Thea", "209": "Strand, Ola", "210": "Eide, Sara",
          "211": "Nilsen, Per", "212": "Aas, Kari"}
PAIRS = {"Pair 1": ("201", "202"), "Pair 2": ("203", "204"), "Pair 3": ("205", "206"), "Pair 4": ("207", "208"),
         "Pair 5": ("209", "210")}
DEADLINE = "2026-02-20T23:59:00+01:00"


def first_last(user_id):
    last, first = ROSTER[user_id].split(", ")
    return f"{first} {last}"


def report_naming(*user_ids):
    return reports.pdf("= INF265 Project 1\n\n" + " and ".join(first_last(u) for u in user_ids) + "\n\n" + reports.LABOUR + reports.ANSWERS)


zipped = S.zip_bytes


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    root = tmp_path_factory.mktemp("paired")
    download = root / "download"
    download.mkdir()
    files = {
        # Pair 1, handed in by Åse; Marte also handed in alone
        "pair1_201_7001_backpropagation.ipynb": RIGHT["backpropagation.ipynb"],
        "pair1_201_7002_gradient_descent.ipynb": RIGHT["gradient_descent.ipynb"],
        "pair1_201_7003_report.pdf": report_naming("201", "202"),
        "olsenmarte_202_7050_backpropagation.ipynb": WRONG["backpropagation.ipynb"],
        # Pair 2, late by two minutes
        "pair2_LATE_204_7010_backpropagation.ipynb": RIGHT["backpropagation.ipynb"],
        "pair2_LATE_204_7011_gradient_descent.ipynb": RIGHT["gradient_descent.ipynb"],
        # Pair 3: a wrong notebook, then the right one uploaded again (Canvas's -1)
        "pair3_205_7020_backpropagation.ipynb": WRONG["backpropagation.ipynb"],
        "pair3_205_7021_backpropagation-1.ipynb": RIGHT["backpropagation.ipynb"],
        "pair3_205_7022_gradient_descent.ipynb": RIGHT["gradient_descent.ipynb"],
        # Pair 4: their own zip, whose report names one of them only
        "pair4_208_7030_project.zip": zipped({"project/backpropagation.ipynb": RIGHT["backpropagation.ipynb"],
                                              "project/report.pdf": report_naming("208")}),
        # Per: in no group
        "nilsenper_211_7040_backpropagation.ipynb": RIGHT["backpropagation.ipynb"],
    }
    for name, content in files.items():
        (download / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with open(root / "groups.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "canvas_user_id", "user_id", "login_id", "sections", "group_name", "canvas_group_id", "group_id"])
        for i, (group, members) in enumerate(PAIRS.items(), start=1):
            for member in members:
                writer.writerow([first_last(member), member, f"sis{member}", f"login{member}", "INF265", group, 900 + i, ""])
        for loner in ("211", "212"):
            writer.writerow([first_last(loner), loner, f"sis{loner}", f"login{loner}", "INF265", "", "", ""])
    with open(root / "roster.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Project 1 (123)"])
        writer.writerow(["    Points Possible", "", "", "", "", "130"])
        for user_id, name in ROSTER.items():
            writer.writerow([name, user_id, f"sis{user_id}", f"login{user_id}", "INF265", ""])
    # as Canvas's submissions API gives them: Pair 2's member handed in two minutes late
    (root / "times.json").write_text(json.dumps([{"user_id": 204, "submitted_at": "2026-02-20T23:00:30Z"},
                                                 {"user_id": 201, "submitted_at": "2026-02-20T12:00:00Z"},
                                                 {"user_id": 209, "submitted_at": None}]))
    out = root / "out"
    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(download),
                          "--groups", str(root / "groups.csv"), "--roster", str(root / "roster.csv"),
                          "--deadline", DEADLINE, "--times", str(root / "times.json"),
                          "--csv", str(out / "gradebook.csv"), "--canvas-csv", str(out / "canvas.csv"),
                          "--feedback", str(out / "feedback"), "--json", str(out / "verdicts.json"),
                          "--marks", str(out / "marks.csv"), "--timeout", "60", "--jobs", "2"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        book = {row["student id"]: row for row in csv.DictReader(file)}
    with open(out / "canvas.csv", newline="", encoding="utf-8") as file:
        canvas = list(csv.reader(file))
    return {"download": download, "out": out, "book": book, "canvas": canvas, "stderr": run.stderr, "files": files}


def test_every_roster_student_has_one_row_in_canvas_named_as_the_roster_names_them(paired):
    rows = paired["canvas"]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == 130
    by_id = {row[1]: row for row in rows[2:]}
    assert set(by_id) == set(ROSTER)
    assert {user: row[0] for user, row in by_id.items()} == ROSTER
    assert by_id["201"][2:5] == ["sis201", "login201", "INF265"]
    for a, b in PAIRS.values():
        assert by_id[a][5] == by_id[b][5]  # "both students will get the same grade"
    assert by_id["201"][5] == "100.0" and by_id["205"][5] == "100.0"  # Pair 3's newer upload is the one graded
    assert by_id["203"][5] == "96.0"  # Pair 2: 2 min late, 1 started period: 2 + 2 points
    assert by_id["207"][5] == "60.0"  # Pair 4 handed in no gradient_descent.ipynb
    assert by_id["211"][5] == "60.0"  # Per, in no group, graded alone
    assert by_id["209"][5] == by_id["210"][5] == by_id["212"][5] == ""  # nothing handed in: blank (--missing blank)


def test_lateness_is_said_as_a_person_would_for_both_members(paired):
    for member in PAIRS["Pair 2"]:
        assert paired["book"][member]["late"] == "2 min late: 1 started 12-hour period: -4 points"
        assert paired["book"][member]["group"] == "Pair 2"
    assert paired["book"]["201"]["late"] == "on time"


def test_the_teacher_is_told_what_the_class_did(paired):
    said = paired["stderr"]
    assert "olsenmarte_202 handed in alone as well as in group Pair 1: the group's submission (pair1_201) is graded for every member" in said
    assert "nilsenper_211 handed in but is in no group of the group set: graded alone" in said
    assert "group Pair 5 (Ola Strand, Sara Eide) handed in nothing" in said
    assert "Summary: graded 5 submission(s) for 9 student(s)." in said
    # by name, not by count: who handed in nothing, who was late, whose marks are still to enter
    assert "Handed in nothing (3; blank in the gradebooks unless marked): Ola Strand, Sara Eide, Kari Aas." in said
    assert "Late (2): Jonas Hansen (2 min late, -4); Ida Berg (2 min late, -4)." in said
    assert "marks.csv (9): Per Nilsen, Åse Søreide, Marte Olsen, Jonas Hansen, Ida Berg, Emil Dahl, Nora Lie, Sander Moen, Thea Bakke." in said
    assert "Points Possible must be 130" in said


def test_each_member_gets_feedback_of_their_own_named_with_its_letters(paired):
    folder = paired["out"] / "feedback"
    names = sorted(p.name for p in folder.glob("*.md"))
    assert "Soreide_Ase_201.md" in names and "Olsen_Marte_202.md" in names and len(names) == len(ROSTER)
    ase = (folder / "Soreide_Ase_201.md").read_text(encoding="utf-8")
    assert ase.startswith("# Feedback for Åse Søreide (group Pair 1, with Marte Olsen)\n\n**Points so far: 100 of 130**: graded "
                          "parts 100 of 100; your teaching assistant's marks for clarity of code (of 10) and reporting (of 20) "
                          "are still to come.")
    assert ase.index("in backpropagation.ipynb: pass") < ase.index("## What was handed in") < ase.index("Beyond what the course asks")
    assert len([line for line in ase.splitlines() if "Beyond what the course asks" in line]) == 1
    assert "your SGD is equal to torch.optim.SGD bit for bit" in ase and "Statuses: pass, right by the course" in ase
    thea = (folder / "Bakke_Thea_208.md").read_text(encoding="utf-8")
    assert "the report's first page does not name Moen, Sander" in thea
    assert "does not name" not in ase
    assert "Nothing was handed in" in (folder / "Aas_Kari_212.md").read_text(encoding="utf-8")


def test_the_reupload_zip_names_each_member_as_the_download_named_the_submission(paired):
    with zipfile.ZipFile(paired["out"] / "feedback" / "canvas_reupload.zip") as archive:
        names = sorted(archive.namelist())
        first = archive.read(names[0])
    assert first.startswith(b"%PDF")
    downloaded = {}
    for name in paired["files"]:
        prefix, user, attachment = re.match(r"^(.+?)_(\d+)_(\d+)_", name).groups()
        downloaded.setdefault(prefix, set()).add(attachment)
    by_member = {}
    for name in names:
        prefix, user, attachment = re.fullmatch(r"(.+?)_(\d+)_(\d+)_feedback\.pdf", name).groups()
        assert attachment in downloaded[prefix], name  # a file of that very submission: Canvas matches it
        by_member[user] = prefix
    expected = {"201": "pair1", "202": "pair1", "203": "pair2_LATE", "204": "pair2_LATE", "205": "pair3", "206": "pair3",
                "207": "pair4", "208": "pair4", "211": "nilsenper"}
    assert by_member == expected


def test_a_group_set_file_that_is_not_one_is_one_sentence(tmp_path):
    (tmp_path / "groups.csv").write_text("Student,ID\nx,1\n")
    with pytest.raises(ValueError, match="groups.csv has no 'canvas_user_id' column and no 'group_name' column .it has 'Student', 'ID'"):
        G.read_groups(tmp_path / "groups.csv")
