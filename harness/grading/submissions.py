"""Unpacking submissions, reading their files safely, and what the sandbox's copy of one leaves out.

One rule for the copy and for zip extraction (needed): data folders, environments and large
non-code files are not needed to take functions out of notebooks, and would fill the sandbox's tmpfs.
"""

import os
import shutil
import stat
import zipfile
from pathlib import Path

MAX_ZIP_BYTES = 256 * 2**20
IGNORED_FOLDERS = {".git", ".venv", "venv", "env", "data", "datasets", "__pycache__", ".ipynb_checkpoints", "node_modules"}
MAX_COPIED_FILE = 20 * 2**20  # a dataset, a checkpoint or an archive is not needed to take functions out (code is kept)
CODE_SUFFIXES = (".ipynb", ".py")


def needed(parts, size, is_folder=False):
    """Whether a path (its parts below the submission's folder) goes into the sandbox's copy."""
    if set(parts[:-1] if not is_folder else parts) & IGNORED_FOLDERS:
        return False
    return is_folder or size <= MAX_COPIED_FILE or parts[-1].endswith(CODE_SUFFIXES)


def not_needed(folder, names):
    """copytree's ignore, by needed()."""
    skipped = set()
    for name in names:
        path = os.path.join(folder, name)
        if os.path.islink(path):
            continue
        if os.path.isdir(path) and not needed([name], 0, is_folder=True):
            skipped.add(name)
        elif os.path.isfile(path) and not needed([name], os.path.getsize(path)):
            skipped.add(name)
    return skipped


def extract_zip(archive, target):
    """Regular files only, inside target, at most MAX_ZIP_BYTES, what needed() keeps; one top folder is entered."""
    target.mkdir(parents=True)
    total = 0
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            mode = member.external_attr >> 16
            if member.is_dir() or (mode & 0o170000) == 0o120000:  # folders come with files; symlinks never
                continue
            parts = Path(member.filename).parts
            if not parts or not needed(list(parts), member.file_size):
                continue
            path = (target / member.filename).resolve()
            if target.resolve() not in path.parents:
                continue
            total += member.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError(f"the archive unpacks to more than {MAX_ZIP_BYTES >> 20} MiB")
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out)  # zipfile reads no more than the size a member declares
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def read_regular_file(path, limit=64 * 2**20):
    """The text of path if it is a regular file (no symlink, FIFO or device) of at most limit bytes, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return file.read(limit).decode("utf-8", errors="replace")
