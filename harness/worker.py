"""What runs inside a submission's sandbox: load the notebooks, call the functions, return raw outputs.

    python -m harness.worker SUBMISSION INPUTS TIMEOUT WORK

This process imports torch once, then for each part copies the (read-only) submission afresh to WORK-<part> (under /tmp) and forks
a child that loads the part's notebook and calls the submission's function on the grader's inputs
(INPUTS/cases.bin for backpropagation; the seeded SGD problem for train_manual_update). The child
writes its raw outputs (harness.payload: JSON and raw numbers, no pickle) into a pipe. After the child ends or
its time is up, every other process in the sandbox is killed, and the bytes go to stdout as one frame:

    PART <name> <status> <n_bytes>\\n<n_bytes bytes>      status: ok | timeout | died:<code>

No expected value exists in this process: verdicts are decided outside the sandbox.
"""

import ctypes
import json
import os
import select
import shutil
import signal
import sys
import time

import torch

from harness import sgd
from harness.cases import set_activation
from harness.guard import run_backpropagation
from harness.notebook import NotebookError, load_notebook
from harness.payload import pack, unpack
from harness.sandbox import MAX_RESULT_BYTES, PARTS, not_needed
from harness.tolerances import FORWARD_MATCH_RTOL
from utils.mynet import MyNet
from utils.metrics import relative_error

COURSE_ATTRIBUTES = ("L", "fc", "z", "a", "f", "df", "dL_dw", "dL_db")


def _array(tensor):
    return tensor.detach().cpu().numpy() if tensor.dtype != torch.bfloat16 else tensor.detach().to(torch.float32).numpy()


def notebook_net_class(namespace):
    """The notebook's MyNet when it fits the course's contract, else None (and why)."""
    cls = namespace.get("MyNet")
    if not isinstance(cls, type):
        return None, "the harness's MyNet (the notebook defines none)"
    try:
        torch.manual_seed(0)
        net = cls([2, 3, 2])
        missing = [name for name in COURSE_ATTRIBUTES if not hasattr(net, name)]
        if missing:
            return None, f"the harness's MyNet (the notebook's MyNet lacks {', '.join(missing)})"
    except Exception as error:
        return None, f"the harness's MyNet (the notebook's MyNet([2, 3, 2]) raised {type(error).__name__})"
    return cls, "the notebook's MyNet"


def _case_model(net_class, spec, weights, x):
    model = net_class(list(spec["n_l"]))
    set_activation(model, spec["activation"])
    model = model.to(torch.float64)
    with torch.no_grad():
        for l in range(1, len(spec["n_l"])):
            model.fc[str(l)].weight.copy_(weights[f"{l}.weight"])
            model.fc[str(l)].bias.copy_(weights[f"{l}.bias"])
        y = model(x)
    return model, y


def run_backpropagation_part(function, namespace, inputs):
    with open(os.path.join(inputs, "cases.bin"), "rb") as file:
        meta, data = unpack(file.read())
    specs = meta["cases"]
    net_class, net_note = notebook_net_class(namespace)
    meta, arrays = {"net": net_note, "cases": []}, {}
    for i, spec in enumerate(specs):
        x, y_true = torch.from_numpy(data[f"c{i}.x"].copy()), torch.from_numpy(data[f"c{i}.y"].copy())
        weights = {key: torch.from_numpy(data[f"c{i}.{key}"].copy()) for l in range(1, len(spec["n_l"]))
                   for key in (f"{l}.weight", f"{l}.bias")}
        harness_model, expected_output = _case_model(MyNet, spec, weights, x)
        model = harness_model
        if net_class is not None:
            try:
                candidate, output = _case_model(net_class, spec, weights, x)
                if output.shape == expected_output.shape and relative_error(output, expected_output) < FORWARD_MATCH_RTOL:
                    model = candidate
                else:
                    meta["net"] = "the harness's MyNet (the notebook's MyNet computes another forward pass)"
            except Exception as error:
                meta["net"] = f"the harness's MyNet (the notebook's MyNet failed: {type(error).__name__})"
        outcome = run_backpropagation(function, model, x, y_true)
        entry = {"error": list(outcome.error) if outcome.error else None, "gradients": {}}
        for (l, kind), got in outcome.gradients.items():
            key = f"{l}.{kind}"
            if isinstance(got, torch.Tensor):
                arrays[f"c{i}.{key}"] = _array(got)
                entry["gradients"][key] = "array"
            else:
                entry["gradients"][key] = got  # None or a type name
        meta["cases"].append(entry)
    return meta, arrays


def run_sgd_part(function, namespace, inputs):
    settings = json.loads(open(os.path.join(inputs, "sgd.json")).read())
    plan, outcomes = sgd.run_train_manual_update(function, settings["configs"], settings["n_epochs"], settings["seed"])
    meta = {"plan": {"roles": plan.roles, "unfillable": plan.unfillable, "positional_only": plan.positional_only},
            "outcomes": {}}
    arrays = {}
    for i, outcome in outcomes.items():
        meta["outcomes"][str(i)] = {"error": outcome.error, "epochs": len(outcome.states or [])}
        for epoch, state in enumerate(outcome.states or []):
            for name, value in state.items():
                arrays[f"o{i}.e{epoch}.{name}"] = _array(value)
        for name, value in (outcome.one_step or {}).items():
            arrays[f"o{i}.one.{name}"] = _array(value)
    return meta, arrays


def run_part(part, work, inputs):
    """In the forked child: load the notebook and run the part; returns the packed bytes."""
    key, notebook, name = part
    path = os.path.join(work, notebook)
    if os.path.islink(path):
        return pack({"load_error": f"{notebook} is a symbolic link, not a notebook: submit the file itself."}, {})
    if not os.path.isfile(path):
        return pack({"missing": f"{notebook} is not in the submission."}, {})
    try:
        loaded = load_notebook(path)
    except NotebookError as error:
        return pack({"load_error": str(error)}, {})
    except BaseException as error:  # SystemExit from a class body, say
        return pack({"load_error": f"loading {notebook} raised {type(error).__name__}: {error}"}, {})
    function = loaded.get(name)
    if function is None:  # "error" when the notebook tried: a syntax error or a failing definition
        return pack({"load_error" if loaded.tries_to_define(name) else "missing": loaded.why_missing(name)}, {})
    torch.set_default_dtype(torch.float64)
    torch.set_grad_enabled(True)
    torch.set_num_threads(1)
    runner = run_backpropagation_part if key == "backpropagation" else run_sgd_part
    meta, arrays = runner(function, loaded.namespace, inputs)
    meta["notes"] = loaded.notes
    return pack(meta, arrays)


def _child(part, work, inputs, write_end, stdout_copy):
    os.setsid()
    os.close(stdout_copy)  # the only way out of the sandbox; the child must not hold it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir(work)
    hide_the_grader()
    sys.path.insert(0, work)
    try:
        payload = run_part(part, work, inputs)
    except BaseException as error:  # noqa: BLE001
        payload = pack({"load_error": f"grading stopped: {type(error).__name__}: {error}"}, {})
    view = memoryview(payload)
    while view:
        view = view[os.write(write_end, view[:1 << 20]):]
    os._exit(0)


class GraderNotAvailable(ImportError):
    pass


def _unavailable(*args, **kwargs):
    raise GraderNotAvailable("the harness is not available to submissions while they are graded")


def hide_the_grader():
    """Submissions cannot import the harness (nor reach its code by module name) while graded: a
    course notebook's `from tests_backpropagation import main_test, MyNet` gets MyNet and stubs."""
    import types

    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != "/grader"]
    for name in [m for m in sys.modules if m in ("harness", "tests_backpropagation") or m.startswith("harness.")]:
        del sys.modules[name]
    for name in [m for m in sys.modules if m == "utils" or m.startswith("utils.")]:
        del sys.modules[name]  # a submission's own utils/ must win for its own imports
    stub = types.ModuleType("tests_backpropagation")
    stub.MyNet = MyNet
    stub.main_test = stub.run_gradient_checks = stub.check_sgd_equivalence = _unavailable
    sys.modules["tests_backpropagation"] = stub


def _kill_others(child, in_namespace):
    """SIGKILL every process of this sandbox but this one and its init, then reap.

    Outside a PID namespace (--unsafe-no-sandbox) only the child's process group can be reached."""
    if not in_namespace:
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
        return
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not any(d.isdigit() and int(d) not in (1, os.getpid()) for d in os.listdir("/proc")):
            return
        time.sleep(0.01)


def main(argv):
    submission, inputs, timeout, work = argv[0], argv[1], float(argv[2]), argv[3]
    in_namespace = os.getpid() <= 3  # bwrap's PID namespace: its init is 1, this process 2
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no sandboxed process may read this one's memory or fds
    stdout_copy = os.dup(1)
    for part in PARTS:
        # a fresh copy for each part: what the first part wrote cannot reach the second
        part_work = f"{work}-{part[0]}"
        shutil.copytree(submission, part_work, symlinks=True, ignore=not_needed)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(part, part_work, inputs, write_end, stdout_copy)
        os.close(write_end)
        chunks, size, status, deadline = [], 0, None, time.monotonic() + timeout
        while status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            ready, _, _ = select.select([read_end], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(read_end, 1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_RESULT_BYTES:
                    status = "oversized"
                    break
                chunks.append(chunk)
        os.close(read_end)
        if status is None:
            for _ in range(200):  # the child writes, then exits at once
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.01)
            else:
                code = None
            if code is None or not os.WIFEXITED(code) or os.WEXITSTATUS(code) != 0 or not chunks:
                signal_number = os.WTERMSIG(code) if code is not None and os.WIFSIGNALED(code) else None
                status = f"died:{'signal ' + str(signal_number) if signal_number else 'exit ' + str(os.WEXITSTATUS(code)) if code is not None else 'unknown'}"
            else:
                status = "ok"
        _kill_others(pid, in_namespace)
        payload = b"".join(chunks) if status == "ok" else b""
        os.write(stdout_copy, f"PART {part[0]} {status.replace(' ', '_')} {len(payload)}\n".encode())
        view = memoryview(payload)
        while view:
            view = view[os.write(stdout_copy, view):]
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)  # tearing torch down takes most of a second, and the sandbox is killed anyway
