"""Autograd made impossible, for good, in the sandboxed process that runs a submitted backpropagation.

A check of the source by names cannot win against code that resolves names at run time, so the
runtime decides. The worker engages the lockdown before the submission's notebook is loaded, in a
process that never gets autograd back (it ends with the part):

1. Grad mode and forward-grad mode are switched off, and every way back is taken away. With grad
   mode off no operation records a graph, so there is nothing to differentiate: not by the engine,
   not by calling grad_fn nodes by hand. What could switch it on is replaced by a version that only
   switches off (torch._C._set_grad_enabled, _set_fwd_grad_enabled, _InferenceMode), and so is what
   could start a thread, under every name _thread gives it (a new thread starts with grad mode on),
   or create an extension module again (a fresh torch._C would bring the originals back).
2. The autograd dispatch keys are excluded from this thread's dispatch key set, so that no operation
   records a graph or a tangent even with grad mode on. This gate holds where Python's replacements
   cannot reach: the C++ operators that switch grad mode and run the engine, called through torch.ops
   (torch.ops.aten.set_grad_enabled, torch.ops.aten.grad) or from TorchScript. What could take the
   keys out of the excluded set again is replaced by what refuses (_dispatch_tls_set_dispatch_key_excluded,
   the guards that force or restore a key set; InferenceMode(False) is refused by 1).
3. Every entry to gradient computation raises besides: the engine's run_backward, forward AD's dual
   levels, functorch's grad and jvp transforms, TorchScript's symbolic differentiation.
4. Each original is replaced wherever Python holds it (module and class dicts, lists, sets, tuples
   and cells anywhere in the process, found by one pass over the garbage collector's objects), so no
   reference to an original is left to restore it from.
5. An audit hook (PEP 578: it cannot be removed, and it keeps no state to change), installed just
   before the submission's code loads, refuses what could reach around the above: the garbage
   collector's object lists, the frames of other threads and of generators (a function's own stack
   stays readable: sys._getframe, tracebacks, for torch.testing, logging and traceback.print_exc),
   tracing, profiling, breakpoints, ctypes, starting processes (fork, exec, spawn, subprocess), signalling
   other processes, reading /proc, and rewriting the code or defaults of the grader's own functions
   (a function the submission or the standard library makes, namedtuple's say, is its own to set).
6. verify(), made before the submission loads and unreachable from it (no frames, no gc; what it
   reads is bound in its defaults, which cannot be rewritten), tells after each call whether grad
   mode, forward-grad mode, the excluded keys and every replacement are still as engaged, and
   whether a thread is running that was not before.

Not covered: autograd in another part (train_manual_update may use it; it runs in a process of its
own). A compiled extension the submission ships cannot load: no extension module can be created
after the lockdown.
"""

import _thread
import gc
import os
import sys
import types
from pathlib import Path

import torch

from harness.checks.guard import AutogradUsedError


class Refused(RuntimeError):
    """What the grader does not allow while a submitted backpropagation is loaded and run."""


class RefusedFile(Refused, PermissionError):
    """A refused file (under /proc): an OSError, as an open() that the system refuses is."""


class RefusedFrame(Refused, ValueError):
    """A refused frame. CPython's own sys._getframe raises ValueError when the stack is too short, and
    the standard library's callers (namedtuple, TypeVar, enum, logging) fall back when it does."""


def _raiser(what):
    def refuse(*args, **kwargs):
        raise AutogradUsedError(f"backpropagation called {what}, which the grader has switched off: compute the gradients by hand")
    refuse.__name__ = what.rsplit(".", 1)[-1]
    return refuse


def _only_off(what):
    def switch(mode, *args, **kwargs):
        if mode:
            raise AutogradUsedError(f"backpropagation switched {what} on, which the grader does not allow: compute the gradients by hand")
    switch.__name__ = what
    return switch


class _NoInferenceMode:
    """torch._C._InferenceMode(True) leaves grad mode off, as it is; (False) would switch it on."""

    def __init__(self, mode=True):
        if not mode:
            raise AutogradUsedError("backpropagation left inference mode to switch grad mode on, which the grader does not allow")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _nothing(*args, **kwargs):
    """Leaving a nesting level that could not be entered: nothing to undo."""


def _no_new(what):
    def refuse(*args, **kwargs):
        raise Refused(f"{what} is not available while backpropagation is graded")
    refuse.__name__ = what.rsplit(".", 1)[-1]
    return refuse


def _targets():
    """(owner, name, replacement) of everything the lockdown replaces."""
    import _imp
    import _posixsubprocess
    import _thread

    functorch = torch._C._functorch
    targets = [
        (torch._C, "_set_grad_enabled", _only_off("grad mode")),
        (torch._C, "_set_fwd_grad_enabled", _only_off("forward-mode AD")),
        (torch._C, "_InferenceMode", _NoInferenceMode),
        (torch._C, "_enter_dual_level", _raiser("torch.autograd.forward_ad (a dual level)")),
        (torch._C._ImperativeEngine, "run_backward", _raiser("the autograd engine (run_backward)")),
        (torch._C._ImperativeEngine, "queue_callback", _raiser("the autograd engine (queue_callback)")),
        (torch._C, "_jit_differentiate", _raiser("TorchScript's symbolic differentiation")),
        (functorch, "_grad_increment_nesting", _raiser("torch.func's grad transform")),
        (functorch, "_jvp_increment_nesting", _raiser("torch.func's jvp transform")),
        (functorch, "_grad_decrement_nesting", _nothing),
        (functorch, "_jvp_decrement_nesting", _nothing),
        (_posixsubprocess, "fork_exec", _no_new("starting a process")),
        (_imp, "create_dynamic", _no_new("loading an extension module")),
        (_imp, "create_builtin", _no_new("creating a built-in module")),
        (torch._C, "_dispatch_tls_set_dispatch_key_excluded", _raiser("a change of the excluded dispatch keys")),
        (torch._C, "_ForceDispatchKeyGuard", _raiser("a forced dispatch key set")),
        (torch._C, "_SetExcludeDispatchKeyGuard", _raiser("a change of the excluded dispatch keys")),
        (torch._C, "_RestorePythonTLSSnapshot", _raiser("a restored dispatch key set")),
    ]
    for device in (torch.cuda, torch.xpu, getattr(torch, "mtia", None)):  # torch.manual_seed, without walking frames
        if device is not None and hasattr(device, "_lazy_call"):
            targets.append((device, "_lazy_call", _lazy_device_call(device)))
    # Every name _thread starts a thread under (start_new_thread, its alias start_new, and
    # start_joinable_thread where it exists): each name is a builtin object of its own.
    targets += [(_thread, name, _no_new("starting a thread")) for name in sorted(vars(_thread)) if name.startswith("start_")]
    return targets


def _replace_everywhere(replacements):
    """Replace every reference Python holds to each original by its replacement: every object the
    garbage collector tracks that refers to an original (gc.get_referrers: one pass in C over the
    same objects gc.get_objects lists). replacements: {id(original): (original, replacement)}. Returns
    the holders it could not rewrite (none is expected; engage() refuses to go on if there are any)."""
    ids = set(replacements)
    own = {id(replacements), *map(id, replacements.values())}  # this function's own bookkeeping
    left = []
    for holder in gc.get_referrers(*(original for original, _ in replacements.values())):
        if id(holder) in own:
            continue
        kind = type(holder)
        if kind is dict:
            if ids.isdisjoint(map(id, holder.values())) and ids.isdisjoint(map(id, holder)):
                continue
            for key, value in list(holder.items()):
                if id(value) in ids:
                    holder[key] = replacements[id(value)][1]
                if id(key) in ids:
                    holder[replacements[id(key)][1]] = holder.pop(key)
        elif kind is list:
            if not ids.isdisjoint(map(id, holder)):
                holder[:] = [replacements[id(v)][1] if id(v) in ids else v for v in holder]
        elif kind is set:
            found = [v for v in holder if id(v) in ids]
            for value in found:
                holder.discard(value)
                holder.add(replacements[id(value)][1])
        elif kind is types.CellType:
            try:
                if id(holder.cell_contents) in ids:
                    holder.cell_contents = replacements[id(holder.cell_contents)][1]
            except ValueError:  # an empty cell
                pass
        elif kind is tuple or kind is frozenset:
            if not ids.isdisjoint(map(id, holder)):
                left.append(holder)
    return left


def _tuples_rewritten(tuples, replacements):
    """Rebuild tuples that hold an original where they are a function's defaults; the rest stay left."""
    left = []
    for old in tuples:
        if isinstance(old[0], type) and id(old[0]) in replacements and old is old[0].__mro__:
            continue  # a replaced class's own MRO: reachable only through the class itself
        new = type(old)(replacements[id(v)][1] if id(v) in replacements else v for v in old)
        rewritten = False
        for holder in gc.get_referrers(old):
            if isinstance(holder, types.FunctionType) and holder.__defaults__ is old:
                holder.__defaults__, rewritten = new, True
            elif type(holder) is dict:
                for key, value in list(holder.items()):
                    if value is old:
                        holder[key], rewritten = new, True
        if not rewritten:
            left.append(old)
    return left


def _type_dicts_changed(targets):
    """CPython caches method lookups per type: tell it that the types we changed have changed."""
    import ctypes

    for owner, _, _ in targets:
        if isinstance(owner, type):
            ctypes.pythonapi.PyType_Modified(ctypes.py_object(owner))


DENIED_EVENTS = {
    "gc.get_objects": "the garbage collector's object lists", "gc.get_referrers": "the garbage collector's object lists",
    "gc.get_referents": "the garbage collector's object lists",
    "sys._current_frames": "frames", "sys.settrace": "tracing", "sys.setprofile": "profiling",
    "builtins.breakpoint": "breakpoints", "os.fork": "starting a process", "os.forkpty": "starting a process",
    "os.exec": "starting a program", "os.posix_spawn": "starting a program", "os.spawn": "starting a program",
    "os.system": "starting a program", "subprocess.Popen": "starting a program", "os.kill": "signalling a process",
    "os.killpg": "signalling a process", "signal.pthread_kill": "signalling a thread",
}
# A function's own stack stays readable (sys._getframe, a traceback's frames): torch.testing, logging
# and traceback.print_exc walk it, and the frames it leads to (the grader's, by f_back) hold no
# expected value and no original of a switch.
FRAME_ATTRIBUTES = {"gi_frame", "cr_frame", "ag_frame"}
FUNCTION_ATTRIBUTES = {"__code__", "__defaults__", "__kwdefaults__"}  # what verify() and the hook keep
GRADERS_CODE = str(Path(__file__).resolve().parents[2]) + os.sep  # harness/


def _is_graders(function, _prefix=GRADERS_CODE):
    """Whether function's code is the harness's (the lockdown's replacements, verify, this hook): those
    are not to be rewritten. A function the submission or the standard library makes (namedtuple's
    __new__, a dataclass's __init__, functools' wrappers) may have its defaults set as usual."""
    code = getattr(function, "__code__", None)
    return isinstance(getattr(code, "co_filename", None), str) and code.co_filename.startswith(_prefix)


def _refusal(event, args):
    """What an audited event reaches that the lockdown refuses, in words, or None."""
    what = DENIED_EVENTS.get(event)
    if what is None and event.startswith("ctypes."):
        what = "ctypes"
    elif what is None and event == "object.__getattr__" and args[1] in FRAME_ATTRIBUTES:
        what = "frames"
    elif what is None and event == "object.__setattr__" and args[1] in FUNCTION_ATTRIBUTES and _is_graders(args[0]):
        what = "rewriting the grader's functions"
    elif what is None and event == "open" and isinstance(args[0], str) and args[0].startswith("/proc/"):
        what = "/proc"
    return what


def _hook(event, args, _refusal=_refusal, _errors=(("frames", RefusedFrame), ("/proc", RefusedFile))):
    """The audit hook; everything it uses is bound in its defaults (immutable tuples and functions)."""
    what = _refusal(event, args)
    if what is not None:
        error = next((kind for name, kind in _errors if name == what), Refused)
        raise error(f"{what} ({event}) is not available while backpropagation is graded")


def _lazy_device_call(device):
    """torch.cuda._lazy_call (and xpu's, mtia's) without the stack trace it records for a device that
    is not initialised: in the sandbox none ever is (no device is visible), and recording walks frames."""
    def lazy_call(callable, **kwargs):
        if device.is_initialized():
            callable()
    return lazy_call


AUTOGRAD_KEYS = ("AutogradFunctionality", "AutogradOther", "AutogradNestedTensor")  # every backend's autograd


def _exclude_autograd_keys():
    """Exclude the autograd dispatch keys in this thread (2. above); returns them."""
    keys = tuple(getattr(torch._C.DispatchKey, name) for name in AUTOGRAD_KEYS)
    for key in keys:
        torch._C._dispatch_tls_set_dispatch_key_excluded(key, True)
    return keys


def _verify(_is_grad_enabled, _is_fwd_grad_enabled, _expected, _is_excluded, _keys, _threads, _count_threads):
    """What of the lockdown no longer holds: [] while it holds."""
    problems = []
    if _count_threads() != _threads:
        problems.append("a thread was started")
    if _is_grad_enabled():
        problems.append("grad mode is on")
    if _is_fwd_grad_enabled():
        problems.append("forward-mode AD is on")
    for key in _keys:
        if not _is_excluded(key):
            problems.append(f"the dispatch key {key} is no longer excluded")
    for namespace, name, replacement in _expected:
        if namespace.get(name) is not replacement:
            problems.append(f"{name} was put back")
    return problems


def engage():
    """Lock autograd away in this process, for good, and arm the audit hook: call it in the process
    that will run the submission, after the trusted imports and just before the submission's code
    loads. Returns verify(), which returns what of the lockdown no longer holds ([] while it holds)."""
    torch._C._set_grad_enabled(False)
    torch._C._set_fwd_grad_enabled(False)
    keys = _exclude_autograd_keys()
    targets = _targets()
    replacements = {}
    for owner, name, replacement in targets:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if isinstance(original, type) and original.__subclasses__():
            raise RuntimeError(f"the autograd lockdown cannot replace {name}: it has subclasses")
        replacements[id(original)] = (original, replacement)
    left = _tuples_rewritten(_replace_everywhere(replacements), replacements)
    _type_dicts_changed(targets)
    if left:
        raise RuntimeError(f"the autograd lockdown could not replace {len(left)} reference(s) to autograd's switches")
    del replacements  # the originals go with it: nothing else holds them now
    expected = tuple((owner.__dict__, name, replacement) for owner, name, replacement in targets)
    # Everything verify() needs is bound in its defaults: a tuple the audit hook forbids replacing.
    verify = types.FunctionType(_verify.__code__, {}, "verify",
                                (torch._C.is_grad_enabled, torch._C._is_fwd_grad_enabled, expected,
                                 torch._C._dispatch_tls_is_dispatch_key_excluded, keys, _thread._count(), _thread._count))
    sys.addaudithook(_hook)
    return verify
