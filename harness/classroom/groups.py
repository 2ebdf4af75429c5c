"""Pairs, as Canvas keeps them: a group set, a group assignment, one submission per group.

The handout: "Projects have to be done in pairs ... both students will get the same grade regardless
of the division of labor." On Canvas that is a group assignment. Its "Download Submissions" holds one
submission per group, its files named by the group and the user id of the member who handed in; the
grade must reach every member. The teacher exports the group set (People > Groups > the set's menu >
Export: a CSV with `name`, `canvas_user_id`, `user_id`, `login_id`, `group_name`, `canvas_group_id`,
`group_id`) and gives it as `--groups`.

    read_groups(path)        {user id: Group}
    assign(submissions, ...) which submission is each group's, and what the teacher should know
    by_student(...)          one result per student: the group's result for every member, the
                             roster's students who handed in nothing, names as the roster has them
"""

import csv
import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field

from harness.classroom.quoting import ascii_letters, printable

USER_COLUMNS = ("canvas_user_id", "user_id", "id")
GROUP_COLUMNS = ("group_name", "group")


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


def read_groups(path):
    """{Canvas user id: Group} from Canvas's group-set export; ValueError in one sentence if it is not one."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        user = next((fields[c] for c in USER_COLUMNS if c in fields), None)
        group = next((fields[c] for c in GROUP_COLUMNS if c in fields), None)
        if user is None or group is None:
            raise ValueError(f"{path} is not Canvas's group-set export: it needs canvas_user_id and group_name columns "
                             f"(People > Groups > the set's menu > Export); it has {', '.join(reader.fieldnames or []) or 'none'}")
        groups, by_user = {}, {}
        for row in reader:
            user_id, name = (row.get(user) or "").strip(), (row.get(group) or "").strip()
            if not user_id or not name:
                continue  # a student in no group of the set
            found = groups.setdefault(name, Group(name, (row.get(fields.get("canvas_group_id", "")) or "").strip()))
            found.members.append(Member(user_id, (row.get(fields.get("name", "")) or "").strip(),
                                        (row.get(fields.get("login_id", "")) or "").strip()))
            by_user[user_id] = found
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


def by_student(results, submissions, groups, roster, not_handed_in):
    """One result per student. A group's result is given to each member (the same verdicts, lateness
    and marks), named as the roster names them, with the partner's name; every roster student with
    none gets not_handed_in(user id, name). Results with no user id (folders) stay as they are."""
    students = []
    for result, submission in zip(results, submissions):
        group = groups.get(submission.student_id)
        members = group.members if group else [Member(submission.student_id)]
        for member in members:
            name = display_name(member.user_id, roster, groups, submission.canvas_name or submission.name)
            partners = [display_name(m.user_id, roster, groups, m.user_id) for m in members if m.user_id != member.user_id]
            students.append(dataclasses.replace(
                result, student_id=member.user_id, display_name=name, group=group.name if group else "", partners=partners,
                notes=list(result.notes), marks=dict(result.marks), attachment_id=submission.attachment_id,
                download_prefix=submission.download_prefix))
    covered = {r.student_id for r in students if r.student_id}
    for user_id, row in roster.items():
        if user_id not in covered:
            group = groups.get(user_id)
            missing = not_handed_in(user_id, display_name(user_id, roster, groups, user_id))
            missing.group = group.name if group else ""
            students.append(missing)
    return students


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
