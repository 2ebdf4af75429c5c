"""What runs inside a submission's sandbox: load the notebooks, call the functions, send raw outputs.

    python -m harness.grading.sandbox.worker SUBMISSION INPUTS        (INPUTS/job.json: the parts and the time limit)

or grade_folder(), called by a slot's zygote (harness.grading.sandbox.zygote) in the submission's own namespaces.
This process never runs submitted code. First, in a child of its own, it
checks the deliverables (harness.grading.parts.deliverables: notebooks run, the report; data only). For each part it copies the
(read-only) submission afresh into a new folder of the tmpfs and forks a child that loads the part's
notebook and calls the function on the grader's inputs (harness.grading.part_*). A part with
lockdown first imports, from the installed packages only, the modules its notebook imports, then
locks autograd away (harness.grading.sandbox.lockdown) before the submission's code loads. The child writes
its payload (harness.grading.sandbox.protocol) into a pipe; after it ends or its time is up, every other
process in the sandbox is killed, and this process writes one frame per part to stdout.

No expected value exists here: verdicts are decided outside the sandbox.
"""

import ast
import ctypes
import importlib
import importlib.machinery
import json
import os
import select
import shutil
import sys
import tempfile
import time

from harness.checks.notebook import NotebookError, load_notebook, parse_cells
from harness.grading.parts import deliverables
from harness.grading.sandbox import protocol
from harness.grading.sandbox import bubblewrap as sandbox
from harness.grading.sandbox.protocol import RunStatus, envelope, frame_bytes, pack
from harness.grading.sandbox.packing import not_needed

MAX_PREIMPORT_NOTEBOOK = 20 * 2**20
NOT_PREIMPORTED = {"tests_backpropagation", "harness", "utils", "__future__"}
# Standard modules backed by extension modules that right code (or torch, lazily) imports without the
# notebook naming them (torch.testing's assert_close imports sympy, which imports decimal): imported
# before the lockdown, which lets no extension module load after it.
ALWAYS_PREIMPORTED = ("decimal", "fractions", "statistics", "csv", "json", "pickle", "datetime", "random", "bisect", "heapq",
                      "array", "cmath", "unicodedata", "zlib", "hashlib", "struct", "uuid", "torch.testing")


# --- in the child -------------------------------------------------------------------------------------

def run_part(part, work, inputs, verify=None):
    """Load the part's notebook and run the part; returns the payload's bytes."""
    path = os.path.join(work, part.notebook)
    if os.path.islink(path):
        return pack(envelope("load_error", f"{part.notebook} is a symbolic link, not a notebook: submit the file itself."), {})
    if not os.path.isfile(path):
        return pack(envelope("missing", f"{part.notebook} is not in the submission."), {})
    try:
        loaded = load_notebook(path)
    except NotebookError as error:
        return pack(envelope("load_error", str(error)), {})
    except BaseException as error:  # SystemExit from a class body, say
        return pack(envelope("load_error", f"loading {part.notebook} raised {type(error).__name__}: {error}"), {})
    import torch

    function = loaded.get(part.function)
    if function is None:  # "error" when the notebook tried: a syntax error or a failing definition
        return pack(envelope("load_error" if loaded.tries_to_define(part.function) else "missing",
                             loaded.why_missing(part.function)), {})
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    if not part.lockdown:
        torch.set_grad_enabled(True)
    data, arrays = part.run(function, loaded, inputs, verify)
    return pack(envelope("ran", notes=[str(n)[:protocol.MAX_TEXT] for n in loaded.notes[:protocol.MAX_NOTES]], data=data), arrays)


def trusted_imports(notebook):
    """Import, from the installed packages only, the modules the notebook imports (the lockdown lets
    no extension module load afterwards). Nothing of the submission runs: its folder is not searched."""
    try:
        parsed = parse_cells(notebook)[0] if os.path.getsize(notebook) <= MAX_PREIMPORT_NOTEBOOK else []
    except Exception:
        parsed = []
    names = []
    for _, tree in parsed:
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    trusted = [p for p in sys.path if p and os.path.isabs(p) and p != sandbox.GRADER and p != sandbox.STUDENT_HELPERS]
    for name in dict.fromkeys([*ALWAYS_PREIMPORTED, *names]):
        if name.split(".")[0] in NOT_PREIMPORTED or name in sys.modules:
            continue
        if importlib.machinery.PathFinder.find_spec(name.split(".")[0], trusted) is None and name.split(".")[0] not in sys.builtin_module_names:
            continue
        saved = sys.path[:]
        sys.path[:] = trusted
        try:
            importlib.import_module(name)
        except BaseException:  # a name that is an attribute, not a module; a package that fails here
            pass
        finally:
            sys.path[:] = saved


class GraderNotAvailable(ImportError):
    pass


def _unavailable(*args, **kwargs):
    raise GraderNotAvailable("the harness is not available to submissions while they are graded")


def hide_the_grader():
    """Submissions cannot import the harness (nor reach its code by module name) while graded: a
    course notebook's `from tests_backpropagation import main_test, MyNet` gets MyNet and stubs."""
    import types

    from utils.mynet import MyNet

    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != sandbox.GRADER]
    for name in [m for m in sys.modules if m in ("harness", "tests_backpropagation") or m.startswith("harness.")]:
        del sys.modules[name]
    for name in [m for m in sys.modules if m == "utils" or m.startswith("utils.")]:
        del sys.modules[name]  # a submission's own utils/ must win for its own imports
    stub = types.ModuleType("tests_backpropagation")
    stub.MyNet = MyNet
    stub.main_test = stub.run_gradient_checks = stub.check_sgd_equivalence = _unavailable
    sys.modules["tests_backpropagation"] = stub


def _child(part, work, inputs, write_end, stdout_copy):
    os.setsid()
    os.close(stdout_copy)  # the only way out of the sandbox; the child must not hold it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        verify = None
        if part.lockdown:
            os.chdir(tempfile.mkdtemp())  # no file of the submission is read by the imports below
            trusted_imports(os.path.join(work, part.notebook))
            from harness.grading.sandbox import lockdown
            verify = lockdown.engage()
        os.chdir(work)
        hide_the_grader()
        sys.path.insert(0, work)
        payload = run_part(part, work, inputs, verify)
    except BaseException as error:  # noqa: BLE001
        payload = pack(envelope("load_error", f"grading stopped: {type(error).__name__}: {str(error)[:300]}"), {})
    _write_all(write_end, payload)
    os._exit(0)


# --- in the worker ---------------------------------------------------------------------------------------

def _collect(read_end, pid, timeout):
    """(RunStatus, code, payload) of the child writing into read_end."""
    status, payload = read_until_end(read_end, timeout, protocol.MAX_PAYLOAD_BYTES)
    if status is not RunStatus.OK:
        return status, 0, b""
    code = wait_for_exit(pid, 2.0)  # the child writes, then exits at once
    if code is None:
        return RunStatus.EXITED, -1, b""
    if os.WIFSIGNALED(code):
        return RunStatus.SIGNALLED, os.WTERMSIG(code), b""
    if os.WEXITSTATUS(code) != 0 or not payload:
        return RunStatus.EXITED, os.WEXITSTATUS(code), b""
    return RunStatus.OK, 0, payload


def read_until_end(fd, seconds, max_bytes):
    """(RunStatus.OK, the bytes) read from fd until end of file; (TIMEOUT, what came so far) when it
    takes longer than seconds; (OVERSIZED, b"") past max_bytes."""
    chunks, size, deadline = [], 0, time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return RunStatus.TIMEOUT, b"".join(chunks)
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return RunStatus.OK, b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            return RunStatus.OVERSIZED, b""
        chunks.append(chunk)


def wait_for_exit(pid, seconds):
    """The wait status of the child pid, or None when it has not ended within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)


def main(argv):
    submission, inputs = argv[0], argv[1]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no sandboxed process may read this one's memory or fds
    grade_folder(submission, inputs, os.dup(1), in_namespace=os.getpid() <= 3)  # bwrap's PID namespace: its init is 1, this process 2
    return 0


def load_job(inputs):
    with open(os.path.join(inputs, "job.json")) as file:
        return json.load(file)


def grade_folder(submission, inputs, out_fd, in_namespace):
    """Write one frame per part of the job (and the deliverables') to out_fd. in_namespace: this
    process may kill every other process it can signal (it is alone with its children in a PID namespace)."""
    job = load_job(inputs)
    present = [entry for entry in job["parts"] if os.path.lexists(os.path.join(submission, entry["notebook"]))]
    if job.get("deliverables"):  # data only (JSON, PDF), in a child of its own: a hostile PDF costs only that child
        _write_frame(out_fd, deliverables.KEY, *_in_child(lambda: _deliverables(submission), job["timeout"], in_namespace, out_fd))
    for entry in job["parts"]:  # nothing to load: no need for torch or a child process
        if entry not in present:
            missing = pack(envelope("missing", f"{entry['notebook']} is not in the submission."), {})
            _write_frame(out_fd, entry["key"], RunStatus.OK, 0, missing)
    parts = [importlib.import_module(entry["module"]).PART for entry in present]
    scratch = tempfile.mkdtemp(prefix="parts-")  # a fresh name: nothing a part left behind is in the way
    for part in parts:
        work = os.path.join(tempfile.mkdtemp(dir=scratch), "submission")
        shutil.copytree(submission, work, symlinks=True, ignore=not_needed)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(part, work, inputs, write_end, out_fd)
        os.close(write_end)
        status, code, payload = _collect(read_end, pid, job["timeout"])
        os.close(read_end)
        # everything this part started, and its child, is gone before the next part starts
        sandbox.kill_until_gone(lambda: [-1] if in_namespace else [-pid], reap=True)
        _write_frame(out_fd, part.key, status, code, payload)


def _write_frame(fd, key, status, code, payload):
    _write_all(fd, frame_bytes(key, status, code, payload))


def _write_all(fd, data):
    """Write all of data to fd, a megabyte at a time (a pipe takes what fits and blocks on the rest)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:1 << 20]):]


def _deliverables(submission):
    return pack(envelope("ran", data=deliverables.inspect(submission)), {})


def _in_child(make_payload, timeout, in_namespace, stdout_copy=None):
    """(RunStatus, code, payload) of make_payload() run in a forked child with a time limit."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        if stdout_copy is not None:
            os.close(stdout_copy)
        os.setsid()
        try:
            payload = make_payload()
        except BaseException as error:  # noqa: BLE001
            payload = pack(envelope("load_error", f"{type(error).__name__}: {str(error)[:300]}"), {})
        _write_all(write_end, payload)
        os._exit(0)
    os.close(write_end)
    result = _collect(read_end, pid, timeout)
    os.close(read_end)
    sandbox.kill_until_gone(lambda: [-1] if in_namespace else [-pid], reap=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)  # tearing torch down takes most of a second, and the sandbox is killed anyway
