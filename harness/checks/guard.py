"""Running a submitted backpropagation: autograd made unusable, weights watched, results collected.

This is the only part of the gradient check that calls submitted code. It returns raw outputs (the
tensors the submission stored, or what went wrong); judging them is harness.checks.gradients' job,
which in grading happens in another process (see harness.grading). In a student's notebook the guard
below is enough; in grading the sandbox also locks autograd away for good (harness.grading.sandbox.lockdown)
and hands its verify() to run_backpropagation.
"""

import importlib
from dataclasses import dataclass, field

import torch

from harness.checks.references import STORES, parameter_items


class AutogradUsedError(RuntimeError):
    """Raised when a submission calls autograd while the harness has made it unusable."""


# (module, attribute) of every autograd entry point a submission could call.
AUTOGRAD_ENTRY_POINTS = [
    ("torch.Tensor", "backward"), ("torch.autograd", "backward"), ("torch.autograd", "grad"),
    ("torch.autograd.functional", "jacobian"), ("torch.autograd.functional", "vjp"),
    ("torch.autograd.functional", "jvp"), ("torch.autograd.functional", "hessian"),
    ("torch.func", "grad"), ("torch.func", "grad_and_value"), ("torch.func", "vjp"),
    ("torch.func", "jacrev"), ("torch.func", "jacfwd"), ("torch.func", "jvp"), ("torch.func", "hessian"),
]


def _resolve(path):
    if path == "torch.Tensor":
        return torch.Tensor
    return importlib.import_module(path)


class autograd_unusable:
    """Parameters stop requiring grad, grad mode is off, and autograd's Python entry points raise
    AutogradUsedError. switched_off() tells afterwards whether the
    submission put any of them back while it ran."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        def forbidden(what):
            def raise_error(*args, **kwargs):
                raise AutogradUsedError(f"backpropagation called {what}")
            return raise_error

        self.saved, self.installed = [], []
        for path, name in AUTOGRAD_ENTRY_POINTS:
            owner = _resolve(path)
            replacement = forbidden(f"{path}.{name}" if path != "torch.Tensor" else ".backward()")
            self.saved.append((owner, name, getattr(owner, name)))
            self.installed.append((owner, name, replacement))
            setattr(owner, name, replacement)
        self.requires_grad = [(p, p.requires_grad) for p in self.model.parameters()]
        for p, _ in self.requires_grad:
            p.requires_grad_(False)
        self.grad_mode = torch.no_grad()
        self.grad_mode.__enter__()
        return self

    def switched_off(self):
        """The entry points the submission restored or replaced while it ran."""
        return [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name, mine in self.installed
                if getattr(owner, name) is not mine]

    def __exit__(self, *exc):
        self.grad_mode.__exit__(*exc)
        for owner, name, original in self.saved:
            setattr(owner, name, original)
        for p, flag in self.requires_grad:
            p.requires_grad_(flag)
        return False


@dataclass
class RawOutcome:
    """What a submission's backpropagation left behind on one case.

    error: None, or (kind, message) with kind in "raised", "autograd", "edited".
    gradients: {(l, "weight"|"bias"): tensor, or the type name of a non-tensor, or None if unset}.
    """
    error: tuple = None
    gradients: dict = field(default_factory=dict)


def _short(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_backpropagation(backpropagation, model, x, y_true, verify=None):
    """Forward x through model, call backpropagation(model, y_true, y_pred), collect what it stored.

    The weights are restored if the submission changed them. KeyboardInterrupt passes through;
    everything else (SystemExit too) becomes an error of the outcome. verify: called after the call,
    returns what of a lockdown no longer holds (then the outcome is an autograd error).
    """
    with torch.no_grad():
        y_pred = model(x)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.dL_db[l] = None
    saved = {(l, kind): p.detach().clone() for l, kind, p in parameter_items(model)}
    outcome, switched_off = RawOutcome(), []
    try:
        with autograd_unusable(model) as guard:
            try:
                backpropagation(model, y_true, y_pred)
            finally:
                switched_off = guard.switched_off()
    except AutogradUsedError as error:
        outcome.error = ("autograd", str(error))
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: one submission must not stop the battery
        hint = ""
        if "does not require grad" in str(error) or "grad_fn" in str(error):
            hint = " (this is what autograd says when it is used: compute the gradients by hand)"
        outcome.error = ("raised", f"backpropagation raised {_short(error)}{hint}")
    if switched_off:
        outcome.error = ("autograd", f"backpropagation switched off the harness's autograd guard ({', '.join(switched_off)})")
    undone = verify() if verify is not None else []
    if undone:
        outcome.error = ("autograd", f"backpropagation undid the grader's autograd lockdown ({', '.join(undone)})")
    edited = []
    for l, kind, p in parameter_items(model):
        if not torch.equal(p.detach(), saved[l, kind]):
            with torch.no_grad():
                p.copy_(saved[l, kind])
            edited.append(f"fc['{l}'].{kind}")
    if edited and outcome.error is None:
        outcome.error = ("edited", f"backpropagation changed {', '.join(edited)} (restored); it must only read the weights, updating them is the optimizer's job")
    for l, kind, _ in parameter_items(model):
        stored = getattr(model, STORES[kind], None)
        got = stored.get(l) if isinstance(stored, dict) else None
        if got is not None and not isinstance(got, torch.Tensor):
            got = type(got).__name__
        elif isinstance(got, torch.Tensor):
            got = got.detach().clone()
        outcome.gradients[l, kind] = got
    return outcome
