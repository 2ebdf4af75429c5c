"""Pairs, as Canvas keeps them: a group set, a group assignment, one submission per group.

The handout: "Projects have to be done in pairs ... both students will get the same grade regardless
of the division of labor." On Canvas that is a group assignment. Its "Download Submissions" holds one
submission per group, its files named by the group and the user id of the member who handed in; the
grade must reach every member. The teacher exports the group set (People > Groups > the set's menu >
Export: a CSV with `name`, `canvas_user_id`, `user_id`, `login_id`, `group_name`, `canvas_group_id`,
`group_id`) and gives it as `--groups`.

    read_groups(path)        {user id: Group}, read as Excel or Canvas writes it (harness.classroom.tables)
    assign(submissions, ...) which submission is each group's, and what the teacher should know
    authors_missing(result)  the members the report's first page does not name

Who gets a row, and the group's result given to every member, is harness.classroom.classlist's.
"""

import re
import unicodedata
from dataclasses import dataclass, field

from harness.classroom.quoting import ascii_letters, listed, printable
from harness.classroom.tables import Column, InputError, ids_lost_to_excel, read_table, user_id


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str = ""       # as the group set names the student ("First Last"); the roster's name wins where given
    login_id: str = ""


@dataclass
class Group:
    name: str
    group_id: str = ""
    members: list = field(default_factory=list)

    def download_name(self):
        """The group's name as Canvas's download writes it: letters and digits only, lower case."""
        return re.sub(r"[^\w]", "", self.name, flags=re.UNICODE).lower()


COLUMNS = [Column("user", ("canvas_user_id",)), Column("group", ("group_name",)), Column("name", ("name",), False),
           Column("login", ("login_id",), False), Column("group id", ("canvas_group_id",), False)]
HINT = (": give Canvas's group-set export as it comes (People > Groups > the set's menu > Export); its canvas_user_id "
        "is the id Canvas's download and gradebook use (user_id there is the SIS id)")


def read_groups(path):
    """{Canvas user id: Group} from Canvas's group-set export (harness.classroom.tables reads it as Excel
    or Canvas writes it); InputError in one sentence when it is not one."""
    table = read_table(path, "The group set", COLUMNS, HINT)
    groups, by_user, bad, twice = {}, {}, [], []
    for row in table.rows:
        raw, name = row.cells["user"], row.cells["group"]
        if not name:
            continue  # a student in no group of the set
        found = user_id(raw)
        if found is None:
            bad.append(f"row {row.line} ({raw or 'empty'}{', which Excel rounded' if ids_lost_to_excel(raw) else ''})")
            continue
        if found in by_user:
            twice.append(f"{found} (in {by_user[found].name} and {name})")
            continue
        group = groups.setdefault(name, Group(name, row.cells.get("group id", "")))
        group.members.append(Member(found, row.cells.get("name", ""), row.cells.get("login", "")))
        by_user[found] = group
    if bad:
        raise InputError(f"The group set {table.path.name} has rows whose canvas_user_id is not a Canvas user id "
                         f"({listed(bad)}){HINT}")
    if twice:
        raise InputError(f"The group set {table.path.name} puts a student in two groups ({listed(twice)}): "
                         "export the group set again from Canvas")
    return by_user


def assign(submissions, groups):
    """(the submissions to grade, notes for the teacher): for each group, the one submission that is
    the group's (the one its download names by the group; else the newest), a member's other one left
    out; a submission of a student in no group graded alone; a group with nothing said."""
    if not groups:
        return submissions, []
    notes, chosen = [], {}
    for submission in submissions:
        group = groups.get(submission.student_id)
        if group is None:
            if submission.student_id:
                notes.append(f"{printable(submission.name, 60)} handed in but is in no group of the group set: graded alone")
            continue
        other = chosen.get(group.name)
        if other is None or _rank(submission, group) > _rank(other, group):
            chosen[group.name] = submission
    kept = []
    for submission in submissions:
        group = groups.get(submission.student_id)
        if group is None or chosen[group.name] is submission:
            kept.append(submission)
        else:
            notes.append(f"{printable(submission.name, 60)} handed in alone as well as in group {printable(group.name, 60)}: "
                         f"the group's submission ({printable(chosen[group.name].name, 60)}) is graded for every member")
    for group in {id(g): g for g in groups.values()}.values():
        if group.name not in chosen:
            names = ", ".join(printable(m.name or m.user_id, 40) for m in group.members)
            notes.append(f"group {printable(group.name, 60)} ({names}) handed in nothing")
    return kept, notes


def _rank(submission, group):
    return (submission.canvas_name == group.download_name(), int(submission.attachment_id or 0))


def display_name(user_id, roster, groups, fallback=""):
    """A student's name as the roster has it ("Søreide, Åse"), else as the group set has it, else fallback."""
    known = roster.get(user_id, {}).get("Student")
    if known:
        return known
    group = groups.get(user_id)
    member = next((m for m in group.members if m.user_id == user_id), None) if group else None
    return (member.name if member and member.name else "") or fallback


def authors_missing(result):
    """The group's members whose names the report's first page does not hold (ASCII letters, any case)."""
    facts = result.deliverables or {}
    head = (facts.get("report") or {}).get("head", "")
    if not head or not result.group:
        return []
    text = _plain(head)
    missing = []
    for name in [result.display_name, *result.partners]:
        words = [w for w in re.split(r"[\s,]+", _plain(name)) if len(w) > 1]
        if words and not all(word in text for word in words):
            missing.append(name)
    return missing


def _plain(text):
    return ascii_letters(unicodedata.normalize("NFC", str(text))).casefold()
