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
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.classroom.github import commit_note, has_git, repository_commit
from harness.classroom.staging import MAX_CODE_FILE, Staging, extract_zip, stage_tree
from harness.grading.sandbox.packing import UnpackableSubmission

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
DUPLICATE = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<suffix>\.[^.]+)?$")
NOTEBOOK_WORDS = {"backpropagation.ipynb": ("backprop",), "gradient_descent.ipynb": ("gradient", "descent", "decent")}


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
    attachment_id: str = ""   # Canvas's id of one file handed in: a file sent back for Canvas's re-upload names it
    download_prefix: str = "" # <name>[_LATE] as the download named the files: feedback sent back is named alike
    content: str = ""         # a hash of the staged files (harness.classroom.record), where a run keeps one
    too_large: list = field(default_factory=list)   # [(path as handed in, bytes)] of code files left out for their size
    oversized: dict = field(default_factory=dict)   # {handout notebook: (bytes, limit)}: handed in, but too large to grade
    commit: str = ""          # the commit a repository (GitHub Classroom's clone) had checked out


def layout_of(entries):
    """"canvas" or "folders" for the entries of SUBMISSIONS, else CollectError. Judged by name and
    lstat: an entry that is neither a folder nor a file (a pipe, a link) is its submission's problem."""
    visible = [e for e in entries if not e.name.startswith(".")]
    kinds = {e: e.lstat().st_mode for e in visible}
    canvas = [e for e in visible if not stat.S_ISDIR(kinds[e]) and CANVAS_NAME.match(e.name)]
    folders = [e for e in visible if e not in canvas and (stat.S_ISDIR(kinds[e]) or not stat.S_ISREG(kinds[e])
                                                         or e.suffix.lower() == ".zip")]
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
    return _arranged(submissions)


ONE_NAME = "your notebooks"


def collect_one(folder, stage):
    """[Submission] of one folder, staged as the grader stages each submission (the student's check)."""
    submissions = [_folder(Path(folder), Path(stage) / "0000")]
    submissions[0].name = ONE_NAME
    return _arranged(submissions)


def _arranged(submissions):
    """Each staged submission with its project found and its notebooks matched to the handout's names."""
    for submission in submissions:
        if not submission.error:
            _unpack_a_lone_zip(submission)
            try:
                submission.folder, notes = find_project(submission.folder)
                submission.notes += notes + match_notebooks(submission.folder)
                submission.oversized = oversized_notebooks(submission.folder, submission.too_large)
            except OSError as error:
                submission.error = f"its files cannot be arranged for grading ({error.strerror or error}): hand in the notebooks and the report as files"
    return submissions


def _unpack_a_lone_zip(submission):
    """A folder that holds no notebook but a zip (an upload Gradescope or a teacher left packed): the zip unpacked in place."""
    folder = submission.folder
    if any(p.suffix == ".ipynb" for p in folder.rglob("*.ipynb")):
        return
    zips = sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and p.suffix.lower() == ".zip")
    if len(zips) != 1:
        return
    staging = Staging()
    if _unpack_into(zips[0], zips[0].name, folder, folder / f".{zips[0].stem}-unpacked", staging, submission.notes):
        shutil.rmtree(folder / f".{zips[0].stem}-unpacked", ignore_errors=True)
        zips[0].unlink()  # the staged copy's: the zip is now its files
        submission.too_large += staging.too_large


def _unpack_into(archive, shown, folder, scratch, staging, notes):
    """A zip a student handed in (shown: its name as handed in), unpacked under bounds (extract_zip) into
    scratch and moved into folder where nothing of the name is; a note says it. False when it cannot be."""
    try:
        unpacked = extract_zip(archive, scratch, staging)
        for item in unpacked.iterdir():
            if not (folder / item.name).exists():
                shutil.move(str(item), folder / item.name)
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as error:
        notes.append(f"{shown} cannot be unpacked ({type(error).__name__})")
        return False
    notes.append(f"{shown} unpacked")
    return True


def _folder(entry, target):
    """One sub-folder or .zip of SUBMISSIONS, staged; a problem is this submission's error, never the run's."""
    info = entry.lstat()
    name = entry.stem if stat.S_ISREG(info.st_mode) else entry.name
    folder = target / "s"
    if stat.S_ISLNK(info.st_mode) or not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
        folder.mkdir(parents=True)
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "neither a folder nor a file"
        return Submission(name, folder, error=f"{entry.name} is {what}, which the grader does not follow: give a folder or a .zip.")
    if stat.S_ISDIR(info.st_mode):
        commit = repository_commit(entry) if has_git(entry) else ""  # before staging, which leaves .git out
        try:
            staging = stage_tree(entry, folder)
        except UnpackableSubmission as error:
            return Submission(name, folder, error=f"{error}.", commit=commit)
        return Submission(name, folder, notes=staging.notes() + ([commit_note(commit)] if commit else []),
                          too_large=staging.too_large, commit=commit)
    try:
        staging = Staging()
        return Submission(name, extract_zip(entry, folder, staging), notes=staging.notes(), too_large=staging.too_large)
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as error:
        folder.mkdir(parents=True, exist_ok=True)
        return Submission(name, folder, error=f"{entry.name} cannot be unpacked ({type(error).__name__}: {error}).")


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
        late = any(match["late"] for _, match in files)
        submission = Submission(f"{name}_{user}", folder, student_id=user, canvas_name=name, late=late,
                                download_prefix=name + ("_LATE" if late else ""))
        chosen = {}  # original name -> (copy number, entry): Canvas's -1, -2 are later uploads of the same name
        staging = Staging()
        for entry, match in files:
            original, number = match["original"], 0
            duplicate = DUPLICATE.match(original)
            if duplicate:
                original, number = duplicate["stem"] + (duplicate["suffix"] or ""), int(duplicate["n"])
            if original not in chosen or number > chosen[original][0]:
                chosen[original] = (number, entry)
        kept = min(entry.name for _, entry in chosen.values())
        submission.attachment_id = CANVAS_NAME.match(kept)["submission"]  # a file of the newest upload: re-upload matches it
        if len(chosen) < len(files):
            submission.notes.append(f"{len(files) - len(chosen)} older upload(s) under the same name left out (Canvas's -1, -2)")
        for original, (_, entry) in sorted(chosen.items()):
            if original.lower().endswith(".zip"):
                _unpack_into(entry, original, folder, folder.parent / f"zip-{len(os.listdir(folder.parent))}", staging,
                             submission.notes)
            else:
                try:
                    staging.take(entry, folder / Path(original).name, (original,))
                except UnpackableSubmission as error:
                    submission.error = submission.error or f"{error}."
        submission.notes += staging.notes()
        submission.too_large = staging.too_large
        submissions.append(submission)
    return submissions


MAX_DEPTH = 8  # folders below a submission's top that the project is looked for in


def find_project(folder):
    """(the folder holding the submission's notebooks, notes): the submission's own top, or the
    shallowest folder below it (at most MAX_DEPTH down) that holds a notebook of the handout's name,
    else one that could be it by name (gradient_decent.ipynb). A PDF report or README found on the
    way down, beside the project rather than in it, is moved into it (the deliverables are read there)."""
    def holds(path, exact):
        try:
            names = [e.name for e in os.scandir(path) if e.is_file(follow_symlinks=False) and e.name.lower().endswith(".ipynb")]
        except OSError:
            return False
        if exact:
            return any(name in NOTEBOOK_WORDS for name in names)
        return any(any(word in _normal(Path(name).stem) for words in NOTEBOOK_WORDS.values() for word in words) for name in names)

    for exact in (True, False):
        level = [folder]
        for _ in range(MAX_DEPTH + 1):
            found = next((path for path in level if holds(path, exact)), None)
            if found is not None:
                return (folder, []) if found == folder else _moved_into(folder, found)
            level = sorted(p for path in level for p in _subfolders(path))
    return folder, []


def _subfolders(path):
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)
                and e.name not in ("__MACOSX", ".ipynb_checkpoints") and not e.name.startswith(".")]
    except OSError:
        return []


def _moved_into(top, project):
    """(project, notes): the report and README files that stand beside the project folder, on the way
    down from top, moved into it where nothing of that name is there already."""
    relative = project.relative_to(top)
    notes = [f"the project was found in {relative.as_posix()}/ and is graded from there"]
    path = top
    for part in relative.parts:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            if entry.is_file(follow_symlinks=False) and entry.name.lower().endswith((".pdf", ".txt", ".md")) \
                    and not (project / entry.name).exists():
                shutil.move(entry.path, project / entry.name)
                notes.append(f"{Path(entry.path).relative_to(top).as_posix()} is read beside the notebooks")
        path = path / part
    return project, notes


def _normal(name):
    return re.sub(r"[^a-z]", "", name.lower())


def oversized_notebooks(folder, too_large):
    """{handout notebook: (bytes, the limit)} of the notebooks handed in (by name, or by a name that could
    be it) but left out for their size, where the project holds no notebook of that name."""
    found = {}
    for shown, size in too_large:
        name = Path(shown).name
        for wanted, words in NOTEBOOK_WORDS.items():
            could_be = name == wanted or (name.lower().endswith(".ipynb") and any(w in _normal(Path(name).stem) for w in words))
            if could_be and not (folder / wanted).exists():
                found[wanted] = (max(size, found.get(wanted, (0,))[0]), MAX_CODE_FILE)
    return found


def match_notebooks(folder):
    """Give a notebook named otherwise the handout's name (it is renamed, in its folder); returns notes."""
    notes = []
    notebooks = [p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()]
    for wanted, words in NOTEBOOK_WORDS.items():
        if (folder / wanted).exists() or (folder / wanted).is_symlink():
            continue
        candidates = [p for p in notebooks if any(word in _normal(p.stem) for word in words) and p.name not in NOTEBOOK_WORDS]
        if len(candidates) == 1:
            os.rename(candidates[0], folder / wanted)
            notes.append(f"{candidates[0].relative_to(folder)} is graded as {wanted}")
        elif len(candidates) > 1:
            notes.append(f"{wanted} is missing and {len(candidates)} notebooks could be it "
                         f"({', '.join(str(p.relative_to(folder)) for p in candidates[:3])}): none is graded")
    return notes
