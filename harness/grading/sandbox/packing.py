"""What of a staged submission goes into its sandbox: packed as a tar (links kept as links, never
followed), unpacked inside, every size bounded; reading a file safely.

One rule for the copy, the staging (harness.classroom.staging) and zip extraction (needed): data
folders, environments and large non-code files are not needed to take functions out of notebooks,
and would fill the sandbox's tmpfs.
"""

import os
import stat
from pathlib import Path

IGNORED_FOLDERS = {".git", ".venv", "venv", "env", "data", "datasets", "__pycache__", ".ipynb_checkpoints", "node_modules"}
MAX_COPIED_FILE = 20 * 2**20  # a dataset, a checkpoint or an archive is not needed to take functions out (code is kept)
CODE_SUFFIXES = (".ipynb", ".py")
MAX_PACKED_BYTES = 128 * 2**20  # what one submission may bring into a slot sandbox (harness.grading.sandbox.slot)
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


def open_regular(path):
    """(binary file, its fstat) of path opened without following a link or blocking on a FIFO;
    (None, None) when what is there is not a regular file. OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None, None
    return os.fdopen(fd, "rb"), info


def read_regular_file(path, limit=64 * 2**20):
    """The text of path if it is a regular file (no symlink, FIFO or device) of at most limit bytes, else None."""
    try:
        file, info = open_regular(path)
    except OSError:
        return None
    if file is None:
        return None
    with file:
        return None if info.st_size > limit else file.read(limit).decode("utf-8", errors="replace")


def too_many_entries(max_entries):
    return SubmissionTooLarge(f"the submission holds more than {max_entries} files and folders: "
                              "hand in the notebooks, the report and code files only")


def too_many_bytes(limit):
    return SubmissionTooLarge(f"the submission's files take more than {limit >> 20} MiB (datasets and "
                              "archives are left out; what is left is still too large): hand in the "
                              "notebooks, the report and code files only")


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
                    raise too_many_entries(max_entries)
                if buffer.tell() + info.st_size > limit:
                    raise too_many_bytes(limit)
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
