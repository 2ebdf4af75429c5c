"""What produced a run, kept beside its outputs, so that grading again explains itself.

run.json records the harness's version (a hash of its code), the options, each submission's content
hash and each student's outcome. Grading again with the same record says, student by student, whose
points changed and why: a new upload (the content changed), a part's status, the TA's marks, the
lateness, or the grader itself (same content, another harness or options). The previous outputs are
kept, renamed after the run that wrote them (harness.classroom.outputs).
"""

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent


def harness_version():
    """A short hash of every .py file of the harness: the grader that decided."""
    digest = hashlib.sha256()
    for path in sorted(HARNESS.rglob("*.py")):
        digest.update(str(path.relative_to(HARNESS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def content_hash(folder):
    """A hash of a staged submission's files (names and bytes, in order)."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode(errors="surrogateescape") + b"\0")
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def student_key(result):
    return result.student_id or result.name


def outcome(result, total):
    return {"name": result.display_name or result.name, "submission": result.name if result.handed_in else "",
            "total": total, "statuses": {key: verdict.status.value for key, verdict in result.verdicts.items()},
            "marks": dict(result.marks), "late": result.lateness, "content": result.content}


def make_record(students, totals, options, pairs=(), deadline=None):
    """The record of a run: when, by which grader, with which options and deadline (as understood), each
    student's outcome, and the similar pairs (a regrade of one student keeps them)."""
    return {"written": datetime.now(timezone.utc).isoformat(timespec="seconds"), "harness": harness_version(),
            "options": options, "deadline": deadline, "students": {student_key(s): outcome(s, t) for s, t in zip(students, totals)},
            "similar pairs": list(pairs)}


def changes(previous, current):
    """Sentences, one per student whose points or statuses changed, each with why."""
    said = []
    if previous.get("harness") != current["harness"]:
        said.append(f"the harness changed since the previous run ({previous.get('harness')} -> {current['harness']})")
    if previous.get("options") != current["options"]:
        said.append("the options changed since the previous run")
    before, now = previous.get("students", {}), current["students"]
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if old is None or new is None:
            who = (new or old)["name"]
            said.append(f"{who} ({key}): {'new in this run' if old is None else 'not in this run any more'}")
            continue
        if old["total"] == new["total"] and old["statuses"] == new["statuses"]:
            continue
        why = []
        if old["content"] != new["content"]:
            why.append("a new upload" if old["content"] and new["content"] else "handed in" if new["content"] else "the upload is gone")
        why += [f"{part} {old['statuses'].get(part)} -> {status}" for part, status in new["statuses"].items()
                if old["statuses"].get(part) != status]
        if old["marks"] != new["marks"]:
            why.append(marks_changed(old["marks"], new["marks"]))
        if old["late"] != new["late"]:
            why.append(f"lateness {old['late'] or 'none'} -> {new['late'] or 'none'}")
        if not why:
            why.append("the grader changed (same upload)")
        said.append(f"{new['name']} ({key}): {old['total']} -> {new['total']} points: {'; '.join(why)}")
    return said


def marks_changed(old, new):
    """The TA's marks as they changed: "marks entered: reporting 18", "marks changed: clarity of code 8 -> 9"."""
    if not old:
        return "marks entered: " + ", ".join(f"{k} {v:g}" for k, v in new.items())
    if not new:
        return "marks removed (were " + ", ".join(f"{k} {v:g}" for k, v in old.items()) + ")"
    return "marks changed: " + ", ".join(f"{k} {_mark(old.get(k))} -> {_mark(new.get(k))}" for k in {**old, **new}
                                         if old.get(k) != new.get(k))


def _mark(value):
    return "none" if value is None else f"{value:g}"
