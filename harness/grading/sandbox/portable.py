"""Where no sandbox can be made (Windows, macOS, a Linux without user namespaces, a container): each
part of a submission run in a child process started portably, with the worker's own code, and killed
at its time limit. No fork, setsid, killpg, preexec_fn, resource, fcntl or select on pipes is needed;
where the platform has them they are used for more (a process group to kill, an address-space limit).

    run_portably(folder, inputs, options) -> {key: Frame}   in the grader: one child per part and the
                                                            deliverables, as the worker's frames
    python -m harness.grading.sandbox.portable SUBMISSION INPUTS KEY   in the child: the part's payload
                                                            on stdout, nothing else

The judges are the grader's, in the grader's process, on the same payloads: the statuses, counts and
causes are those of a sandboxed run. What is missing is the walls (the student's own code on their own
machine, or a container that is the isolation).
"""

import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness.grading.parts.deliverables import KEY as DELIVERABLES_KEY
from harness.grading.sandbox import protocol
from harness.grading.sandbox.protocol import Frame, RunStatus, envelope, pack

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _start(command, cwd, env):
    """A child in a process group (or job) of its own where the platform has one, stdout a pipe."""
    extra = {"start_new_session": True} if os.name == "posix" else \
        {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, **extra)


def kill_tree(process):
    """The child and what it started: its process group on POSIX, its tree on Windows."""
    if os.name == "posix" and hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
    elif os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True)
    try:
        process.kill()
    except OSError:
        pass


def _run_child(key, folder, inputs, seconds):
    """The Frame of one child: its stdout read in a thread (bounded), killed at seconds."""
    scratch = tempfile.mkdtemp(prefix="inf265-part-")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": scratch,
           "TEMP": scratch, "TMP": scratch}
    process = _start([sys.executable, "-m", "harness.grading.sandbox.portable", str(folder), str(inputs), key], scratch, env)
    chunks, size, oversized = [], [0], [False]

    def read():
        while True:
            chunk = process.stdout.read(1 << 20)
            if not chunk:
                return
            size[0] += len(chunk)
            if size[0] > protocol.MAX_PAYLOAD_BYTES:
                oversized[0] = True
                kill_tree(process)
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=seconds)
        reader.join(timeout=5)
        status = RunStatus.OVERSIZED if oversized[0] else None
    except subprocess.TimeoutExpired:
        status = RunStatus.TIMEOUT
    finally:
        kill_tree(process)  # whatever it started goes with it
        process.wait()
        reader.join(timeout=5)
        process.stdout.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if status is not None:
        return Frame(key, status)
    if process.returncode < 0:
        return Frame(key, RunStatus.SIGNALLED, -process.returncode)
    payload = b"".join(chunks)
    if process.returncode != 0 or not payload:
        return Frame(key, RunStatus.EXITED, process.returncode)
    return Frame(key, RunStatus.OK, 0, payload)


def run_portably(folder, inputs, options):
    """{key: Frame} of one submission folder: the deliverables and each part in a child of its own,
    one after another (everything one started is gone before the next starts)."""
    frames = {}
    if options.deliverables:
        frames[DELIVERABLES_KEY] = _run_child(DELIVERABLES_KEY, folder, inputs, options.timeout)
    for part in options.parts:
        if not os.path.lexists(os.path.join(folder, part.notebook)):
            frames[part.key] = Frame(part.key, RunStatus.OK, 0, pack(envelope("missing", f"{part.notebook} is not in the submission."), {}))
            continue
        frames[part.key] = _run_child(part.key, folder, inputs, options.timeout)
    return frames


# --- in the child --------------------------------------------------------------------------------------------

def child(submission, inputs, key):
    """Write one part's (or the deliverables') payload to stdout, as the worker's forked child does."""
    from harness.grading.sandbox import worker
    from harness.grading.sandbox.packing import not_needed

    out = os.fdopen(os.dup(1), "wb")  # the only way out; what the submission prints goes nowhere
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        import resource  # where the platform has it: the worker's fallback limit on address space

        job_memory = 4 * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (4 * job_memory, 4 * job_memory))
    except (ImportError, ValueError, OSError, AttributeError):
        pass
    try:
        if key == DELIVERABLES_KEY:
            payload = worker._deliverables(submission)
        else:
            entry = next(e for e in worker.load_job(inputs)["parts"] if e["key"] == key)
            part = importlib.import_module(entry["module"]).PART
            work = os.path.join(tempfile.mkdtemp(), "submission")
            shutil.copytree(submission, work, symlinks=True, ignore=not_needed)
            verify = None
            if part.lockdown:
                os.chdir(tempfile.mkdtemp())  # no file of the submission is read by the imports below
                worker.trusted_imports(os.path.join(work, part.notebook))
                from harness.grading.sandbox import lockdown
                verify = lockdown.engage()
            os.chdir(work)
            worker.hide_the_grader()
            sys.path.insert(0, work)
            payload = worker.run_part(part, work, inputs, verify)
    except BaseException as error:  # noqa: BLE001 - the part's outcome, said as the worker says it
        payload = pack(envelope("load_error", f"grading stopped: {type(error).__name__}: {str(error)[:300]}"), {})
    out.write(payload)
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    child(*sys.argv[1:4])
