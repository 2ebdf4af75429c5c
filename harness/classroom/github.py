"""GitHub Classroom: the folder `gh classroom clone student-repos` writes, one repository per student or
team named `<assignment>-<github user or team>`, and the classroom roster (`identifier`,
`github_username`, `github_id`, `name`; Classroom > Students > Download).

    read_classroom_roster(path)   {row key: roster row}, keyed by the identifier (the course's, as the
                                  teacher linked it), else the GitHub user name
    repository_commit(folder)     the commit a clone has checked out, read from .git without running git
                                  (a student's repository can set hooks and filters that git would run)
    match(submissions, roster)    each repository given to its student; a team's said

Lateness comes from --times as with Canvas: a commit's date is the student's clock, never used.
"""

import os
import re
from pathlib import Path

from harness.classroom.quoting import printable
from harness.classroom.tables import Column, InputError, read_table
from harness.grading.sandbox.packing import read_regular_file

COLUMNS = [Column("identifier", ("identifier",)), Column("username", ("github_username",)),
           Column("github id", ("github_id",), False), Column("name", ("name",), False)]
HINT = ": give the classroom roster as GitHub Classroom downloads it (identifier, github_username, github_id, name)"
SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def read_classroom_roster(path):
    """{key: {"Student", "ID", "SIS User ID", "SIS Login ID", "Section"}} as a Canvas roster has them (so the
    gradebooks name students alike): the key and ID the identifier (else the GitHub user name), the
    Student the roster's name (else the identifier), SIS User ID the identifier, SIS Login ID the user name."""
    table = read_table(path, "The classroom roster", COLUMNS, HINT)
    roster, twice = {}, []
    for row in table.rows:
        identifier, username = row.cells["identifier"], row.cells["username"]
        key = identifier or username
        if not key:
            continue
        if key in roster:
            twice.append(key)
            continue
        roster[key] = {"Student": row.cells.get("name") or identifier or username, "ID": key, "SIS User ID": identifier,
                       "SIS Login ID": username, "Section": ""}
    if twice:
        raise InputError(f"The classroom roster {table.path.name} lists {', '.join(twice[:5])} twice: download it again")
    return roster


def repository_commit(folder):
    """The commit checked out in a clone at folder ("" where it has none), from .git/HEAD, its ref, or packed-refs."""
    git = Path(folder) / ".git"
    head = (read_regular_file(git / "HEAD", 4096) or "").strip()
    if SHA.fullmatch(head):
        return head
    ref = head.removeprefix("ref:").strip()
    if not head.startswith("ref:") or not re.fullmatch(r"refs/[\w./-]+", ref) or ".." in ref:
        return ""
    found = (read_regular_file(git / ref, 4096) or "").strip()
    if SHA.fullmatch(found):
        return found
    for line in (read_regular_file(git / "packed-refs", 1 << 20) or "").splitlines():
        sha, _, name = line.partition(" ")
        if name.strip() == ref and SHA.fullmatch(sha):
            return sha
    return ""


def match(submissions, roster):
    """Give each repository (a collect.Submission of the folder layout) to the roster student whose GitHub
    user name ends its name; notes for the teacher: a repository matched to nobody (a team's, or a
    student not on the roster) is graded as its own row."""
    usernames = {row["SIS Login ID"].casefold(): key for key, row in roster.items() if row["SIS Login ID"]}
    notes = []
    for submission in submissions:
        name = submission.name.casefold()
        found = max((u for u in usernames if name == u or name.endswith("-" + u)), key=len, default=None)
        if found is None:
            notes.append(f"{printable(submission.name, 60)} is nobody's on the classroom roster (a team's repository?): "
                         "graded as a row of its own")
            continue
        submission.student_id = usernames[found]
        submission.canvas_name = roster[usernames[found]]["SIS Login ID"]
    return notes


def commit_note(commit):
    return (f"graded at commit {commit[:12]} of the repository (its commit dates are the student's clock: lateness "
            "comes from the submission times given)")


def has_git(folder):
    return os.path.isdir(os.path.join(folder, ".git")) and not os.path.islink(os.path.join(folder, ".git"))
