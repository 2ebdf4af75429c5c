"""Staging a submission: its files taken from what the teacher downloaded into a folder of the grader's,
each judged by lstat before anything is read (links never followed, pipes and devices left out, sizes
bounded before copying), and the zips students upload unpacked within bounds. What goes into a
sandbox from the staged folder is harness.grading.sandbox.packing's.
"""

import os
import shutil
import stat
import zipfile
from pathlib import Path

from harness.classroom.quoting import listed
from harness.grading.sandbox.packing import (MAX_PACKED_BYTES, MAX_PACKED_ENTRIES, UnpackableSubmission, needed, open_regular,
                                             too_many_bytes, too_many_entries)

MAX_ZIP_BYTES = 256 * 2**20
MAX_CODE_FILE = 64 * 2**20  # a notebook with many figures is large; one larger than the grader reads is left out


class Staging:
    """One submission's files taken in, each judged by lstat before anything is read: symbolic links
    are never followed (left out), FIFOs, devices and sockets are left out, a regular file is copied
    only up to the size lstat gave (a sparse file counts at its full size), and pack_folder's limits
    apply (past them SubmissionTooLarge, that submission's error). notes() says what was left out."""

    def __init__(self, limit=MAX_PACKED_BYTES, max_entries=MAX_PACKED_ENTRIES):
        self.limit, self.max_entries, self.bytes, self.entries = limit, max_entries, 0, 0
        self.links, self.special, self.too_large = [], [], []

    def notes(self):
        notes = []
        for found, what in ((self.links, "symbolic link(s) left out, never followed: hand in the files themselves"),
                            (self.special, "named pipe(s), device(s) or socket(s) left out"),
                            ([shown for shown, _ in self.too_large], f"code file(s) over {MAX_CODE_FILE >> 20} MiB left out")):
            if found:
                notes.append(f"{len(found)} {what} ({listed(found, 3)})")
        return notes

    def count(self, size):
        self.entries += 1
        self.bytes += size
        if self.entries > self.max_entries:
            raise too_many_entries(self.max_entries)
        if self.bytes > self.limit:
            raise too_many_bytes(self.limit)

    def take(self, path, target, parts, info=None):
        """Copy the file at path to target if needed() keeps it (parts: its path below the submission)."""
        info = info or os.lstat(path)
        shown = "/".join(parts)
        if stat.S_ISLNK(info.st_mode):
            self.links.append(shown)
        elif not stat.S_ISREG(info.st_mode):
            self.special.append(shown)
        elif needed(list(parts), info.st_size):
            if info.st_size > MAX_CODE_FILE:
                self.too_large.append((shown, info.st_size))
                return
            self.count(info.st_size)
            _copy_regular(path, target, info.st_size, shown)


def stage_tree(source, target, staging=None):
    """Copy what needed() keeps of the folder source into target (made here), by Staging's rules;
    returns the Staging. SubmissionTooLarge or UnpackableSubmission: that submission's error."""
    staging = staging or Staging()
    os.makedirs(target, exist_ok=True)
    stack = [(os.fspath(source), os.fspath(target), ())]
    while stack:
        folder, into, below = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            raise UnpackableSubmission(f"{'/'.join(below) or 'its folder'} cannot be read "
                                       f"({error.strerror or error}): hand in readable files only") from None
        for entry in entries:
            parts = (*below, entry.name)
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if needed(list(parts), 0, is_folder=True):
                    staging.count(0)
                    os.mkdir(os.path.join(into, entry.name))
                    stack.append((entry.path, os.path.join(into, entry.name), parts))
            else:
                staging.take(entry.path, os.path.join(into, entry.name), parts, info)
    return staging


def _copy_regular(path, target, size, shown):
    """Copy at most size bytes of the regular file path (not followed if it became a link since)."""
    try:
        source, _ = open_regular(path)
    except OSError as error:
        raise UnpackableSubmission(f"{shown} cannot be read ({error.strerror or error}): hand in readable files only") from None
    if source is None:
        return
    with source:
        with open(target, "wb") as out:
            left = size
            while left > 0:
                chunk = source.read(min(left, 1 << 20))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)


def extract_zip(archive, target, staging=None):
    """Regular files only, inside target, at most MAX_ZIP_BYTES, what needed() keeps; one top folder is entered.
    A code file over MAX_CODE_FILE is left out, and said in staging (a Staging) where one is given."""
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
            if member.file_size > MAX_CODE_FILE:
                if staging is not None:
                    staging.too_large.append(("/".join(parts), member.file_size))
                continue
            total += member.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError(f"the archive unpacks to more than {MAX_ZIP_BYTES >> 20} MiB")
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out)  # zipfile reads no more than the size a member declares
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target
