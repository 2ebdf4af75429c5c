"""The TA's marks (by default clarity of code of 10 and reporting of 20, and a comment): the template the
first run writes, and the file the TA fills in, read as Excel writes it and checked cell by cell before
anything is graded or written.

    student id, submission, group, students, graded parts   whose row it is and the points so far: to read
    clarity of code, reporting, comment                      to fill in

A row gives its marks to the student its id names and, in a group, to every member ("both students will
get the same grade"); a row without an id is found by its submission. A row with no mark and no comment
is no row. Refused, every bad cell listed (MarksRefused): a mark that is not a number or lies outside 0
to its maximum (nothing is capped), a row that names a student nobody knows, two rows that mark the same
student. Marks for a roster student who handed in nothing (work sent by email) are taken.
"""

import csv
from dataclasses import dataclass, field

from harness.classroom.quoting import csv_cell, printable
from harness.classroom.tables import Column, InputError, number, read_table, user_id

READ_ONLY = ("group", "students", "graded parts")
MAX_LISTED = 20


class MarksRefused(InputError):
    """The marks file has cells that cannot be used; the message lists each."""


@dataclass
class Marks:
    marks: dict = field(default_factory=dict)   # {column: points}
    comment: str = ""
    line: int = 0                                # the row of the file they came from


def columns(manual):
    return [Column("student id", ("student id", "ID", "user_id", "canvas_user_id"), False),
            Column("submission", ("submission",), False),
            *[Column(f"mark:{name}", (name,)) for name in manual],
            Column("comment", ("comment", "comments"), False)]


def read_marks(path, manual, students):
    """{student key: Marks} of the marks file at path, each row resolved against students (the class list,
    harness.classroom.classlist). InputError when the file cannot be read; MarksRefused, every bad cell
    listed, when a cell cannot be used."""
    table = read_table(path, "The marks file", columns(manual),
                       ": give the marks file the first run wrote (graded/marks.csv), filled in")
    if not table.found & {"student id", "submission"}:
        raise InputError(f"The marks file {table.path.name} has neither a 'student id' nor a 'submission' column, so its "
                         "rows cannot be matched to students: give the marks file the first run wrote, filled in")
    by_user = {s.user_id: s for s in students if s.user_id}
    by_submission = {}
    for student in students:
        if student.submission is not None:
            by_submission.setdefault(student.submission.name, []).append(student)
    members = {}
    for student in students:
        if student.group:
            members.setdefault(student.group, []).append(student.key)
    found, problems, marked_by = {}, [], {}
    for row in table.rows:
        values, bad = {}, []
        for name, maximum in manual.items():
            text = row.cells[f"mark:{name}"]
            if not text:
                continue
            try:
                value = number(text)
            except ValueError:
                bad.append(f"{name} is {printable(text, 40)!r}, not a number")
                continue
            if not 0 <= value <= maximum:
                bad.append(f"{name} is {value:g}, outside 0 to {maximum:g}")
                continue
            values[name] = value
        comment = row.cells.get("comment", "")
        if not values and not comment and not bad:
            continue  # a row left as the template wrote it
        raw_id, submission = row.cells.get("student id", "").lstrip("'"), row.cells.get("submission", "").lstrip("'")
        keys, who = _resolve(raw_id, submission, by_user, by_submission, members, students)
        where = f"row {row.line}" + (f" ({who})" if who else "")
        if keys is None:
            named = f"student id {raw_id!r}" if raw_id else f"submission {printable(submission, 60)!r}" if submission else "no student"
            problems.append(f"{where} names {named}, who is in neither the download, the roster nor the group set")
        problems += [f"{where}: {text}" for text in bad]
        if keys is None or bad:
            continue
        for key in keys:
            if key in marked_by:
                problems.append(f"rows {marked_by[key]} and {row.line} both mark {who or key}")
                break
        else:
            for key in keys:
                marked_by[key] = row.line
                found[key] = Marks(dict(values), comment, row.line)
    if problems:
        shown = problems[:MAX_LISTED] + ([f"and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else [])
        raise MarksRefused(f"The marks file {table.path.name} has {len(problems)} cell(s) that cannot be used; correct them "
                           "and grade again (nothing was written):\n" + "\n".join(f"  - {p}" for p in shown))
    return found


def _resolve(raw_id, submission, by_user, by_submission, members, students):
    """(the keys of the students a row marks, who they are as said) or (None, what the row says)."""
    if raw_id:
        student = by_user.get(user_id(raw_id) or "")
        if student is None:
            return None, ""
        if student.group:
            return members[student.group], f"group {student.group}"
        return [student.key], student.said
    if submission:
        marked = by_submission.get(submission)
        if not marked:
            return None, ""
        group = marked[0].group
        return ([s.key for s in marked], f"group {group}" if group else marked[0].said)
    return None, ""


def template_rows(students, earned):
    """The template's rows: one per group (its members named) and one per student in no group, each
    with the points of the graded parts so far (earned: {student key: points}, "" for none)."""
    rows, seen = [], set()
    for student in students:
        if student.group:
            if student.group in seen:
                continue
            seen.add(student.group)
            group = [s for s in students if s.group == student.group]
            first = next((s for s in group if s.submission is not None and s.user_id == s.submission.student_id), group[0])
            rows.append([first.user_id, first.submission.name if first.submission else "", student.group,
                         " and ".join(s.said for s in group), earned.get(first.key, "")])
        else:
            rows.append([student.user_id, student.submission.name if student.submission else "", "", student.said,
                         earned.get(student.key, "")])
    return rows


def write_template(path, students, manual, earned):
    """The marks file the TA fills in: who (to read), then a column per mark and a comment (to fill)."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student id", "submission", *READ_ONLY, *manual, "comment"])
        for row in template_rows(students, earned):
            writer.writerow([csv_cell(value) for value in row] + [""] * len(manual) + [""])
