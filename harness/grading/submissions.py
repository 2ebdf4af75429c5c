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
MAX_PACKED_BYTES = 128 * 2**20  # what one submission may bring into a slot sandbox (harness.grading.slot)
MAX_PACKED_ENTRIES = 20_000


class UnpackableSubmission(ValueError):
    """A submission's files cannot be taken into a sandbox; the message says why and what to do."""


class SubmissionTooLarge(UnpackableSubmission):
    """A submission's needed files are more than a sandbox takes."""


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
                            (self.too_large, f"code file(s) over {MAX_CODE_FILE >> 20} MiB left out")):
            if found:
                notes.append(f"{len(found)} {what} ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})")
        return notes

    def count(self, size):
        self.entries += 1
        self.bytes += size
        if self.entries > self.max_entries:
            raise SubmissionTooLarge(f"the submission holds more than {self.max_entries} files and folders: "
                                     "hand in the notebooks, the report and code files only")
        if self.bytes > self.limit:
            raise SubmissionTooLarge(f"the submission's files take more than {self.limit >> 20} MiB (datasets and "
                                     "archives are left out; what is left is still too large): hand in the "
                                     "notebooks, the report and code files only")

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
                self.too_large.append(shown)
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
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise UnpackableSubmission(f"{shown} cannot be read ({error.strerror or error}): hand in readable files only") from None
    with os.fdopen(fd, "rb") as source:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        with open(target, "wb") as out:
            left = size
            while left > 0:
                chunk = source.read(min(left, 1 << 20))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)


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


def pack_folder(folder, limit=MAX_PACKED_BYTES, max_entries=MAX_PACKED_ENTRIES):
    """The needed() files of folder as an uncompressed tar (bytes): symbolic links as links (never
    followed), FIFOs, devices and sockets left out. SubmissionTooLarge past limit bytes or max_entries;
    UnpackableSubmission when a file cannot be read."""
    try:
        return _pack(folder, limit, max_entries)
    except OSError as error:
        where = os.path.relpath(error.filename, folder) if isinstance(error.filename, str) else "a file"
        raise UnpackableSubmission(f"{where} cannot be read ({error.strerror or error}): hand in readable files only") from None


def _pack(folder, limit, max_entries):
    import io
    import tarfile

    buffer, entries = io.BytesIO(), 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, folders, files in os.walk(folder):
            relative = os.path.relpath(root, folder)
            below = [] if relative == "." else Path(relative).parts
            kept = []
            for name in sorted(folders):
                path = os.path.join(root, name)
                if os.path.islink(path):
                    files.append(name)  # a link to a folder goes in as a link
                elif needed([*below, name], 0, is_folder=True):
                    kept.append(name)
            folders[:] = kept
            for name in sorted(files) + kept:
                path = os.path.join(root, name)
                info = os.lstat(path)
                keep = stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode) or (
                    stat.S_ISREG(info.st_mode) and needed([*below, name], info.st_size))
                if not keep:
                    continue
                entries += 1
                if entries > max_entries:
                    raise SubmissionTooLarge(f"the submission holds more than {max_entries} files and folders: "
                                             "hand in the notebooks, the report and code files only")
                if buffer.tell() + info.st_size > limit:
                    raise SubmissionTooLarge(f"the submission's files take more than {limit >> 20} MiB (datasets and "
                                             "archives are left out; what is left is still too large): hand in the "
                                             "notebooks, the report and code files only")
                tar.add(path, arcname=os.path.normpath(os.path.join(relative, name)), recursive=False)
    return buffer.getvalue()


def unpack_into(data, target):
    """Extract pack_folder's bytes into target: what tarfile's "data" filter allows (no absolute or
    escaping paths, no devices, no member written through a link), and symbolic links as they were,
    wherever they point (the worker refuses a linked notebook with a clear error, as it did with the
    submission's own folder); any other member the filter refuses is left out."""
    import io
    import tarfile

    def safe(member, path):
        try:
            return tarfile.data_filter(member, path)
        except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
            return tarfile.tar_filter(member, path) if member.issym() else None
        except tarfile.FilterError:
            return None

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(target, filter=safe)
