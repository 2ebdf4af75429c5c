"""The autograd lockdown (harness.grading.sandbox.lockdown), in fresh processes since it is for good: every route
to a gradient by autograd is closed, no reference to a switch survives anywhere, and what a right
backpropagation and the grader need still works."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import importlib, sys, torch
from harness.grading.sandbox import lockdown
from harness.grading.sandbox.worker import ALWAYS_PREIMPORTED  # as the worker imports them before the lockdown
for name in ALWAYS_PREIMPORTED:
    importlib.import_module(name)
w = torch.randn(3, 3, dtype=torch.float64)
"""


def run(body, engage=True):
    code = PRELUDE + ("verify = lockdown.engage()\n" if engage else "") + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    return result.stdout.strip(), result.stderr


ROUTES = {
    "grad mode": "with torch.enable_grad():\n    x = w.clone().requires_grad_()\n    torch.autograd.grad((x * x).sum(), [x])",
    "inference mode left to switch grad mode on": "with torch.inference_mode(False):\n    x = w.clone().requires_grad_()\n    (x * x).sum().grad_fn(torch.ones(()))",
    "the engine, by its internal entry": "from torch.autograd.graph import _engine_run_backward as run\nrun((w,), (w,), False, False, (w,), False)",
    "the engine's C method on a new engine": "torch._C._ImperativeEngine().run_backward((w,), (w,), False, False, (w,), False)",
    "a thread, which starts with grad mode on": "import threading\nthreading.Thread(target=lambda: None).start()",
    "forward-mode AD": "import torch.autograd.forward_ad as fw\nwith fw.dual_level():\n    fw.make_dual(w, w)",
    "torch.func.grad": "torch.func.grad(lambda x: (x * x).sum())(w)",
    "torch.func.jacfwd": "torch.func.jacfwd(lambda x: (x * x).sum())(w)",
    "TorchScript's symbolic differentiation": "torch._C._jit_differentiate(torch._C.parse_ir('graph(%x : Tensor):\\n  %y : Tensor = aten::mul(%x, %x)\\n  return (%y)'))",
    "a fresh torch._C": "import importlib.util\nimportlib.util.module_from_spec(importlib.util.find_spec('torch._C'))._set_grad_enabled(True)",
    "a thread through _thread.start_new, the other name of the same builtin": "import _thread\n_thread.start_new(print, ())",
    "a thread through threading's own reference": "import threading\nthreading._start_new_thread(print, ())",
    "_thread reloaded": "import importlib, _thread\nimportlib.reload(_thread).start_new_thread(print, ())",
    "the garbage collector": "import gc\n[o for o in gc.get_objects() if getattr(o, '__name__', '') == '_set_grad_enabled']",
    "the frames of every thread": "import sys\nsys._current_frames()",
    "a generator's frame": "def g():\n    yield 1\ng().gi_frame",
    "ctypes (GradMode::set_enabled)": "import ctypes\nctypes.CDLL('libc10.so')._ZN3c108GradMode11set_enabledEb(1)",
    "a subprocess with autograd": "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import torch'])",
    "fork_exec, below subprocess": "import _posixsubprocess\n_posixsubprocess.fork_exec(['true'], [b'/bin/true'], True, (), None, None, -1, -1, -1, -1, -1, -1, -1, -1, True, False, None, None, None, -1, None, False)",
    "os.fork": "import os\nos.fork()",
    "tracing": "import sys\nsys.settrace(lambda *a: None)",
    "signalling the worker": "import os\nos.kill(1, 9)",
    "/proc": "open('/proc/self/environ').read()",
    "the excluded dispatch keys, set back": "torch._C._dispatch_tls_set_dispatch_key_excluded(torch._C.DispatchKey.AutogradFunctionality, False)",
    "a guard that sets an excluded key back": "with torch._C._SetExcludeDispatchKeyGuard(torch._C.DispatchKey.AutogradFunctionality, False):\n    pass",
    "a forced dispatch key set": "torch._C._ForceDispatchKeyGuard(torch._C.DispatchKeySet(torch._C.DispatchKey.CPU), torch._C.DispatchKeySet(torch._C.DispatchKey.CPU))",
}

# C++ operators that switch grad mode on and run the engine, past every Python replacement: grad mode
# comes on, but with the autograd dispatch keys excluded no operation records a graph.
SCRIPTED = '''
def f(x: torch.Tensor) -> torch.Tensor:
    torch.set_grad_enabled(True)
    y = x.detach().requires_grad_(True)
    grads = torch.autograd.grad([(y * y).sum()], [y])
    torch.set_grad_enabled(False)
    g = grads[0]
    assert g is not None
    return g
'''
OPERATOR_ROUTES = {  # (made before the lockdown, called after it)
    "torch.ops": ("", "torch.ops.aten.set_grad_enabled(True)\n"
                      "x = w.clone().requires_grad_()\n"
                      "gradient = lambda: torch.ops.aten.grad([(x * x).sum()], [x])[0]\n"),
    # compiled before: TorchScript cannot compile under the lockdown (it reads frames), but a module
    # saved with torch.jit.save loads without compiling
    "TorchScript": (f"scripted = torch.jit.CompilationUnit({SCRIPTED!r})\n", "gradient = lambda: scripted.f(w)\n"),
}
CHECK = """
try:
    print(torch.equal(gradient(), 2 * w))
except RuntimeError as error:
    print('no graph' if 'does not require grad' in str(error) else repr(error))
"""


@pytest.mark.parametrize("route", OPERATOR_ROUTES, ids=list(OPERATOR_ROUTES))
def test_operators_below_python_find_no_graph_to_differentiate(route):
    """Each gives the right gradient without the lockdown (so the refusal is the lockdown's)."""
    made, called = OPERATOR_ROUTES[route]
    free, err = run(made + called + CHECK, engage=False)
    assert free == "True", (free, err[-2000:])
    locked, err = run(made + "verify = lockdown.engage()\n" + called + CHECK, engage=False)
    assert locked == "no graph", (locked, err[-2000:])


def run_each(snippets):
    """{name: (what it raised or "REACHED", grad mode and verify() after it)}: every snippet in one locked process."""
    body = "results = {}\n"
    for name, code in snippets.items():
        body += f"""
try:
{textwrap.indent(code, '    ')}
    outcome = 'REACHED'
except Exception as error:
    outcome = f'{{type(error).__name__}}: {{error}}'
results[{name!r}] = (outcome, f"grad mode {{'on' if torch.is_grad_enabled() else 'off'}} {{verify()}}")
"""
    out, err = run(body + "import json\nprint(json.dumps(results))")
    import json
    assert out, err[-3000:]
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def attempts():
    return run_each(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_every_route_to_autograd_or_around_the_lockdown_raises(attempts, route):
    outcome, after = attempts[route]
    assert outcome.split(":")[0] in ("AutogradUsedError", "Refused", "RefusedFrame", "RefusedFile"), (route, outcome)
    assert after == "grad mode off []", (route, after)


def test_no_reference_to_a_switch_survives_wherever_it_was_kept():
    """A module attribute, a list, a set, a dict key, a closure, a default: each is rewritten."""
    out, err = run("""
original = torch._C._set_grad_enabled
kept_list, kept_set, kept_key = [original], {original}, {original: 1}
def closure():
    return original
def default(f=original):
    return f
verify = lockdown.engage()
replacement = torch._C._set_grad_enabled
print(all(x is replacement for x in (original, kept_list[0], next(iter(kept_set)), next(iter(kept_key)), closure(), default())))
""", engage=False)
    assert out == "True", (out, err[-2000:])


def test_what_a_right_backpropagation_and_the_grader_need_still_works():
    out, err = run("""
from tests.fixtures.backprops import right
from harness.checks.cases import gradient_cases
from harness.checks.guard import run_backpropagation
from harness.checks.references import autograd_gradients
from utils.metrics import relative_error
case = gradient_cases(n_random=0)[1]
expected = autograd_gradients(case.build(), case.x, case.y_true)
verify = lockdown.engage()
import collections, enum, logging, numpy, math, typing
torch.manual_seed(0)
with torch.no_grad(), torch.inference_mode():
    pass
Point, T = collections.namedtuple("Point", "x y"), typing.TypeVar("T")
logging.getLogger("x").warning("logging still works")
outcome = run_backpropagation(right, case.build(), case.x, case.y_true, verify)
print(outcome.error, max(relative_error(outcome.gradients[key], expected[key]) for key in expected.keys()) < 1e-12, Point(1, 2).y)
""", engage=False)
    assert out == "None True 2", (out, err[-2000:])


# What right functions do, each a line; under the lockdown every one must run (the benign twin of ROUTES).
ORDINARY = {
    "print a tensor": "print(w)", "repr and str": "repr(w); str(w); f'{w:}'", "format a float": "f'{w.sum().item():.3f}'",
    "sys.stdout.write": "sys.stdout.write(str(w) + '\\n')", "IPython's display": "from IPython.display import display\ndisplay(w)",
    "numpy round trip": "import numpy as np\ntorch.from_numpy(np.asarray(w.numpy()) * 2)", "einsum": "torch.einsum('ij,jk->ik', w, w)",
    "logging": "import logging\nlogging.basicConfig()\nlogging.getLogger('s').warning('delta %s', w)",
    "traceback.print_exc": "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()",
    "logging.exception": "import logging\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('s').exception('caught')",
    "warnings": "import warnings\nwarnings.warn('careful')", "tqdm": "from tqdm import tqdm\nfor _ in tqdm(range(3)):\n    pass",
    "a dataclass": "import dataclasses\n@dataclasses.dataclass\nclass D:\n    a: int = 1\nD()",
    "a namedtuple with defaults": "import collections\ncollections.namedtuple('P', 'a b', defaults=[1])(2)",
    "functools caches": "import functools\nfunctools.lru_cache(None)(lambda n: n)(3)\nfunctools.cache(lambda n: n)(3)",
    "defaults of one's own function": "def f(a=1):\n    return a\nf.__defaults__ = (2,)",
    "no_grad, inference_mode, set_grad_enabled(False)": "with torch.no_grad(), torch.inference_mode(), torch.set_grad_enabled(False):\n    w @ w",
    "state_dict": "torch.nn.Linear(2, 2).state_dict()", "timing": "import time\ntime.perf_counter(); time.time(); time.process_time()",
    "torch.testing.assert_close (it reads its caller's frame)": "torch.testing.assert_close(w, w.clone())",
    "inspect.currentframe": "import inspect\ninspect.currentframe()",
    "a typing.NamedTuple": "import typing\nclass N(typing.NamedTuple):\n    a: int = 0\nN()",
}


def test_what_ordinary_right_code_does_still_runs_under_the_lockdown():
    results = run_each(ORDINARY)
    assert {what: outcome for what, (outcome, _) in results.items() if outcome != "REACHED"} == {}
    assert {after for _, after in results.values()} == {"grad mode off []"}


def test_verify_reports_a_switch_put_back_and_cannot_be_rewritten():
    out, err = run("""
torch._C._set_fwd_grad_enabled = print
print(verify())
try:
    verify.__defaults__ = (lambda: False, lambda: False, ())
except Exception as error:
    print(type(error).__name__)
""")
    assert out.splitlines() == ["['_set_fwd_grad_enabled was put back']", "Refused"], (out, err[-2000:])
