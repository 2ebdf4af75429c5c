"""Collecting submissions as the learning platform hands them over, into one staged folder each.

Two layouts of SUBMISSIONS (a folder, or a .zip of one):

* Canvas's bulk "Download Submissions": flat files named <name>_<user id>_<submission id>_<original name>,
  with _LATE after the name for late ones (<name>_LATE_<user id>_...), and Canvas's -1, -2 before the
  extension of a file uploaded again under the same name. Files are grouped per student (user id); a
  zip a student uploaded is unpacked into that student's folder.
* One sub-folder or .zip per submission (named as the teacher likes).

Each submission is staged: what needed() keeps is copied (never changed in SUBMISSIONS) into a folder
of its own, where a notebook named otherwise than the handout's (gradient_decent.ipynb,
assignmentBackpropagation.ipynb) is given the handout's name, with a note. Anything else is refused
in one sentence (CollectError).
"""

import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.grading.submissions import extract_zip, needed, not_needed

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
DUPLICATE = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<suffix>\.[^.]+)?$")
NOTEBOOK_WORDS = {"backpropagation.ipynb": ("backprop",), "gradient_descent.ipynb": ("gradient", "descent", "decent")}
REPORT_SUFFIX = ".pdf"


class CollectError(ValueError):
    """SUBMISSIONS cannot be read as a layout the grader knows; the message says why, in one sentence."""


@dataclass
class Submission:
    """One student's (or pair's) work, staged in folder."""
    name: str                 # the folder's or zip's name, or Canvas's <name>_<user id>
    folder: Path              # the staged copy the grader reads and the sandbox gets
    student_id: str = ""      # Canvas's user id, where the layout says
    canvas_name: str = ""     # Canvas's <name> part (lastfirst)
    late: bool = False        # Canvas marked a file _LATE
    notes: list = field(default_factory=list)
    error: str = ""           # why it could not be staged (a broken zip): every part is then an error


def layout_of(entries):
    """"canvas" or "folders" for the entries of SUBMISSIONS, else CollectError."""
    visible = [e for e in entries if not e.name.startswith(".")]
    canvas = [e for e in visible if e.is_file() and CANVAS_NAME.match(e.name)]
    folders = [e for e in visible if e.is_dir() or (e.is_file() and e.suffix.lower() == ".zip" and not CANVAS_NAME.match(e.name))]
    if canvas and len(canvas) == len(visible):
        return "canvas"
    if folders and len(folders) == len(visible):
        return "folders"
    if not visible:
        return "folders"
    strays = [e for e in visible if e not in canvas and e not in folders] or (folders if canvas else visible)
    stray = strays[0].name
    raise CollectError(f"SUBMISSIONS mixes layouts or holds a file of neither ({stray!r}): give Canvas's download as it "
                       "comes (<name>_<user id>_<submission id>_<file>), or one sub-folder or .zip per submission")


def collect(path, stage):
    """[Submission] of path (a folder or a .zip of one), each staged under stage; CollectError if unknown."""
    path, stage = Path(path), Path(stage)
    if path.is_file() and path.suffix.lower() == ".zip":
        try:
            root = extract_zip(path, stage / "download")
        except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as error:
            raise CollectError(f"{path.name} cannot be unpacked ({type(error).__name__}: {error})") from None
    elif path.is_dir():
        root = path
    else:
        raise CollectError("not a folder" if path.exists() else "no such folder")
    entries = sorted(root.iterdir(), key=lambda e: e.name)
    if layout_of(entries) == "canvas":
        submissions = _canvas(entries, stage)
    else:
        submissions = [_folder(entry, stage / f"{i:04d}") for i, entry in enumerate(e for e in entries if not e.name.startswith("."))]
    for submission in submissions:
        if not submission.error:
            submission.notes += match_notebooks(submission.folder)
    return submissions


def _folder(entry, target):
    name = entry.stem if entry.is_file() else entry.name
    if entry.is_dir():
        shutil.copytree(entry, target / "s", symlinks=True, ignore=not_needed)
        return Submission(name, target / "s")
    try:
        return Submission(name, extract_zip(entry, target / "s"))
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as error:
        (target / "s").mkdir(parents=True, exist_ok=True)
        return Submission(name, target / "s", error=f"{entry.name} cannot be unpacked ({type(error).__name__}: {error}).")


def _canvas(entries, stage):
    students = {}
    for entry in entries:
        match = CANVAS_NAME.match(entry.name)
        students.setdefault(match["user"], []).append((entry, match))
    submissions = []
    for i, (user, files) in enumerate(sorted(students.items(), key=lambda item: (item[1][0][1]["name"], item[0]))):
        name = files[0][1]["name"]
        folder = stage / f"{i:04d}" / "s"
        folder.mkdir(parents=True)
        submission = Submission(f"{name}_{user}", folder, student_id=user, canvas_name=name,
                                late=any(match["late"] for _, match in files))
        chosen = {}  # original name -> (copy number, entry): Canvas's -1, -2 are later uploads of the same name
        for entry, match in files:
            original, number = match["original"], 0
            duplicate = DUPLICATE.match(original)
            if duplicate:
                original, number = duplicate["stem"] + (duplicate["suffix"] or ""), int(duplicate["n"])
            if original not in chosen or number > chosen[original][0]:
                chosen[original] = (number, entry)
        if len(chosen) < len(files):
            submission.notes.append(f"{len(files) - len(chosen)} older upload(s) under the same name left out (Canvas's -1, -2)")
        for original, (_, entry) in sorted(chosen.items()):
            if original.lower().endswith(".zip"):
                try:
                    unpacked = extract_zip(entry, folder.parent / f"zip-{len(os.listdir(folder.parent))}")
                    for item in unpacked.iterdir():
                        if not (folder / item.name).exists():
                            shutil.move(str(item), folder / item.name)
                    submission.notes.append(f"{original} unpacked")
                except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as error:
                    submission.notes.append(f"{original} cannot be unpacked ({type(error).__name__})")
            elif needed([original], entry.stat().st_size) and not entry.is_symlink():
                shutil.copyfile(entry, folder / Path(original).name)
        submissions.append(submission)
    return submissions


def _normal(name):
    return re.sub(r"[^a-z]", "", name.lower())


def match_notebooks(folder):
    """Give a notebook named otherwise the handout's name (in folder or one folder down); returns notes."""
    notes = []
    notebooks = [p for p in list(folder.glob("*.ipynb")) + list(folder.glob("*/*.ipynb"))
                 if not p.is_symlink() and ".ipynb_checkpoints" not in p.parts]
    for wanted, words in NOTEBOOK_WORDS.items():
        if (folder / wanted).exists() or (folder / wanted).is_symlink():
            continue
        candidates = [p for p in notebooks if any(word in _normal(p.stem) for word in words) and p.name not in NOTEBOOK_WORDS]
        if len(candidates) == 1:
            shutil.copyfile(candidates[0], folder / wanted)
            notes.append(f"{candidates[0].relative_to(folder)} is graded as {wanted}")
        elif len(candidates) > 1:
            notes.append(f"{wanted} is missing and {len(candidates)} notebooks could be it "
                         f"({', '.join(str(p.relative_to(folder)) for p in candidates[:3])}): none is graded")
    return notes
