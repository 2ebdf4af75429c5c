"""Who gets a row in the gradebooks, and why: every roster student, every student who handed in, every
member of a group; the submission graded for each, decided before anything is graded.

    class_list(submissions, groups, roster)  [Student] in the order of the gradebooks
    results_per_student(students, results)   one SubmissionResult per Student: the submission's result
                                             given to each, named as the roster names them; a student
                                             with nothing handed in gets every part missing

A group's submission (harness.classroom.groups.assign chose it) is every member's: "both students will
get the same grade regardless of the division of labor".
"""

import dataclasses
from dataclasses import dataclass, field

from harness.classroom.groups import display_name
from harness.classroom.roster import natural_name


@dataclass
class Student:
    """One row of the gradebooks, as decided before grading."""
    key: str                # the Canvas user id; the submission's name where the layout has no ids
    user_id: str
    name: str               # as the roster names them ("Søreide, Åse"), else the group set, else the download
    group: str = ""
    partners: list = field(default_factory=list)   # the other members' names, as name is
    submission: object = None                      # the collect.Submission graded for them, or None
    why: str = ""                                  # how the row comes about (--check-inputs says it)
    named: bool = False                            # name comes from the roster or the group set, not the download

    @property
    def said(self):
        """The name as a sentence says it: "Åse Søreide"."""
        return natural_name(self.name)


def class_list(submissions, groups, roster):
    """[Student]: each graded submission's students (every member of its group), then every roster
    student or group member who handed in nothing."""
    students, covered = [], set()
    for submission in submissions:
        group = groups.get(submission.student_id)
        if group is None:
            key = submission.student_id or submission.name
            name = display_name(submission.student_id, roster, groups, submission.canvas_name or submission.name)
            why = "their own upload" if submission.student_id else "a submission of the download (no Canvas user id)"
            students.append(Student(key, submission.student_id, name, submission=submission, why=why,
                                    named=_named(submission.student_id, roster, groups)))
            covered.add(key)
            continue
        members = group.members
        for member in members:
            name = display_name(member.user_id, roster, groups, member.user_id)
            partners = [display_name(m.user_id, roster, groups, m.user_id) for m in members if m.user_id != member.user_id]
            who = "their own upload for the group" if member.user_id == submission.student_id else \
                f"the group's upload by {natural_name(display_name(submission.student_id, roster, groups, submission.student_id))}"
            students.append(Student(member.user_id, member.user_id, name, group.name, partners, submission, who,
                                    _named(member.user_id, roster, groups)))
            covered.add(member.user_id)
    nobody = [user for user in roster if user not in covered]
    nobody += [m.user_id for g in {id(g): g for g in groups.values()}.values() for m in g.members
               if m.user_id not in covered and m.user_id not in roster]
    for user in nobody:
        group = groups.get(user)
        partners = [display_name(m.user_id, roster, groups, m.user_id) for m in group.members if m.user_id != user] if group else []
        where = "on the roster" if user in roster else "in the group set"
        students.append(Student(user, user, display_name(user, roster, groups, user), group.name if group else "", partners,
                                None, f"{where}; nothing handed in" + (" by the group" if group else ""),
                                _named(user, roster, groups)))
    return students


def _named(user, roster, groups):
    return bool(user) and display_name(user, roster, groups, "") != ""


def results_per_student(students, results, nothing_handed_in):
    """One SubmissionResult per Student: a copy of its submission's result ({submission name: result}) for
    each, or nothing_handed_in(user id, name) where they handed in nothing."""
    out = []
    for student in students:
        if student.submission is None:
            result = nothing_handed_in(student.user_id, student.name)
        else:
            submission, graded = student.submission, results[student.submission.name]
            result = dataclasses.replace(graded, notes=list(graded.notes), marks=dict(graded.marks),
                                         attachment_id=submission.attachment_id, download_prefix=submission.download_prefix)
        out.append(dataclasses.replace(result, student_id=student.user_id, display_name=student.name, named=student.named,
                                       group=student.group, partners=list(student.partners)))
    return out
