"""A run's outputs, written together or not at all: each is first written beside its place under a
temporary name; only when every one of them was written are the previous run's moved aside (renamed
after that run: gradebook.2026-02-21T101500Z.csv, feedback.2026-02-21T101500Z/) and the new ones put in
their place. A run that is refused, or fails to write one output, leaves the previous outputs exactly
as they were.
"""

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path


class OutputError(OSError):
    """An output could not be written; nothing was replaced."""


class Outputs:
    def __init__(self):
        self.pending = []  # [(final path, temporary path)]

    def file(self, path, write):
        """Write the file at path with write(temporary path) (into its folder, made if needed)."""
        self._add(path, write, folder=False)

    def folder(self, path, write):
        """Write the folder at path with write(temporary folder); the previous one is moved aside whole."""
        self._add(path, write, folder=True)

    def _add(self, path, write, folder):
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if folder:
                temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent))
            else:
                handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
                os.close(handle)
                temporary = Path(name)
            self.pending.append((path, temporary))
            write(temporary)
        except Exception as error:  # noqa: BLE001 - any failure of one output abandons them all
            self.abandon()
            raise OutputError(f"{path} could not be written ({getattr(error, 'strerror', None) or error}); nothing was "
                              "replaced, the previous outputs are as they were") from None

    def abandon(self):
        for _, temporary in self.pending:
            shutil.rmtree(temporary, ignore_errors=True) if temporary.is_dir() else temporary.unlink(missing_ok=True)
        self.pending = []

    def commit(self, stamp=None):
        """Move each previous output aside (renamed after stamp, else after its own time) and put the new
        ones in place; returns the paths the previous ones were kept as."""
        kept = []
        for path, temporary in self.pending:
            if path.exists() or path.is_symlink():
                kept.append(str(keep_aside(path, stamp)))
            if temporary.is_file():
                os.chmod(temporary, 0o644)
            elif temporary.is_dir():
                os.chmod(temporary, 0o755)
            os.replace(temporary, path)
        self.pending = []
        return kept


def keep_aside(path, stamp=None):
    """Rename path after stamp (a run's ISO time), or after its own modification time: nothing is lost."""
    path = Path(path)
    if stamp is None:
        stamp = datetime.fromtimestamp(path.lstat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    stamp = stamp.replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    target, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
    os.replace(path, target)
    return target
