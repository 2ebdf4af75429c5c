"""Points, late penalties, and the gradebooks: the detailed one and Canvas's import file.

    total = points of the graded parts (all or nothing, or --proportional)
          + the TA's marks for clarity of code and reporting (harness.classroom.marks)
          - the late penalty (harness.classroom.lateness), never below 0

Every CSV cell goes through quoting.csv_cell: no name or comment a student chose runs as a formula.
"""

import csv

from harness.classroom.quoting import csv_cell
from harness.classroom.roster import ROSTER_COLUMNS
from harness.grading.parts import PARTS
from harness.status import Status

MANUAL_DEFAULT = "clarity of code=10,reporting=20"


def default_points(parts=PARTS):
    return {part.key: part.points for part in parts}


def _pairs(text, option):
    pairs = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        try:
            pairs[key] = float(value)
        except ValueError:
            raise ValueError(f"{option} gives {key} the value {value!r}, which is not a number") from None
        if pairs[key] < 0:
            raise ValueError(f"{option} gives {key} a negative value")
    return pairs


def parse_points(text, parts=PARTS):
    """"backpropagation=60,sgd=40" -> {"backpropagation": 60.0, "sgd": 40.0}; ValueError says what is wrong."""
    keys = [part.key for part in parts]
    points = _pairs(text, "--points")
    unknown = [key for key in points if key not in keys]
    if unknown:
        raise ValueError(f"--points names an unknown part {unknown[0]!r}; the parts are {', '.join(keys)}")
    return {**{key: 0.0 for key in keys}, **points}


def parse_manual_points(text):
    """"clarity of code=10,reporting=20": the TA's marks and their maxima ("" for none)."""
    return _pairs(text, "--manual-points") if text.strip() else {}


def points_of(result, points, proportional=False, parts=PARTS):
    """{part key: points earned} for one submission's result."""
    earned = {}
    for part in parts:
        verdict = result.verdicts[part.key]
        if verdict.status is Status.PASS:
            earned[part.key] = points[part.key]
        elif proportional and verdict.status is Status.FAIL and verdict.total:
            earned[part.key] = round(points[part.key] * verdict.passed / verdict.total, 2)
        else:
            earned[part.key] = 0.0
    return earned


def total_of(result, points, proportional=False, parts=PARTS):
    """The final points: parts + marks - penalty, at least 0."""
    automatic = sum(points_of(result, points, proportional, parts).values())
    return round(max(0.0, automatic + sum(result.marks.values()) - result.penalty), 2)


# --- the gradebooks ----------------------------------------------------------------------------------------

def total_cell(result, points, proportional=False, parts=PARTS, missing="blank"):
    """The total a gradebook shows: for a student who handed in nothing, 0 or blank (--missing), or the
    TA's marks where work came another way (sent by email, marked from marks.csv)."""
    if not result.handed_in and not result.marks:
        return 0.0 if missing == "zero" else ""
    return total_of(result, points, proportional, parts)


def write_gradebook(results, path, points, proportional=False, parts=PARTS, manual=None, missing="blank"):
    """One row per student (per submission where no user id is known): statuses, cases passed, points,
    deliverables, marks, lateness, the total."""
    manual = manual or {}
    handed_in = list(deliverable_columns(None))
    header = ["student", "student id", "group", "submission"]
    for part in parts:
        header += [part.key, f"{part.key} passed"]
    header += [f"{part.key} points" for part in parts] + handed_in + list(manual)
    header += ["late", "late penalty", "total points", "similarity", "notes", "seconds"]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for result in results:
            earned = points_of(result, points, proportional, parts)
            row = [result.display_name or result.name, result.student_id, result.group, result.name if result.handed_in else ""]
            for part in parts:
                verdict = result.verdicts[part.key]
                row += [verdict.status.value, f"{verdict.passed} / {verdict.total}" if verdict.total is not None else ""]
            row += [earned[part.key] for part in parts]
            row += list(deliverable_columns(result.deliverables).values())
            row += [result.marks.get(column, "") for column in manual]
            row += [result.lateness, result.penalty, total_cell(result, points, proportional, parts, missing), result.similarity,
                    "; ".join(result.all_notes()), result.seconds]
            writer.writerow([csv_cell(value) for value in row])


def write_canvas(results, path, assignment, points_possible, points, proportional=False, parts=PARTS, roster=None, missing="blank"):
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment's
    column, with a Points Possible row. Canvas matches rows by ID (its user id); a missing row means
    "no change", so every roster student has one (nothing handed in: 0 or blank, by missing)."""
    roster = roster or {}
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*ROSTER_COLUMNS, assignment])
        writer.writerow(["Points Possible", "", "", "", "", points_possible])
        for result in results:
            known = roster.get(result.student_id, {})
            row = [known.get("Student") or result.display_name or result.canvas_name or result.name, result.student_id,
                   known.get("SIS User ID", ""), known.get("SIS Login ID", ""), known.get("Section", ""),
                   total_cell(result, points, proportional, parts, missing)]
            writer.writerow([csv_cell(value) for value in row])


# --- the deliverables' columns ----------------------------------------------------------------------------

def deliverable_columns(facts):
    """{gradebook column: value} of decoded facts (None: the deliverables could not be checked)."""
    if facts is None:
        return {"backpropagation.ipynb run": "", "course tests passing": "", "gradient_descent.ipynb run": "",
                "report": "not checked", "report answers (a)-(g)": "", "division of labour": "", "README.txt": ""}
    bp, gd, report, readme = facts["notebooks"]["backpropagation.ipynb"], facts["notebooks"]["gradient_descent.ipynb"], facts["report"], facts["readme"]
    state = ("missing" if not report["found"] else "unreadable" if not report["readable"]
             else "notebook export" if report["export"] else "template not filled in" if report.get("template") else "ok")
    return {"backpropagation.ipynb run": _notebook_state(bp), "course tests passing": f"{bp['tests'][0]} / {bp['tests'][1]}",
            "gradient_descent.ipynb run": _notebook_state(gd), "report": state,
            "report answers (a)-(g)": f"{len(report['answers'])} / 7" if report["readable"] else "",
            "division of labour": ("yes" if report["labour"] else "no") if report["readable"] else "",
            "README.txt": "not needed" if not readme["needed"] else "missing" if not readme["present"]
            else "names every file" if not readme["unnamed"] else f"{len(readme['unnamed'])} file(s) unnamed"}


def _notebook_state(facts):
    if facts.get("too_large"):
        return "too large"
    return "missing" if not facts["present"] else "yes" if facts["run"] else "no"
