"""Grading harness: hand-written backpropagation and hand-written SGD, checked against PyTorch.

    python tests_backpropagation.py            # check this project's notebooks
    python tests_backpropagation.py grade DIR  # grade a folder of submissions (see README)

Gradients (``run_gradient_checks``). The loss is the course's sum of squared errors over the batch
and the outputs, L = sum_{i,k} (y_pred[i,k] - y_true[i,k])^2. A submission fills model.dL_dw[l] and
model.dL_db[l]; each is compared with autograd in float64 and, on small nets, with centred finite
differences. It runs with autograd made unusable, and the weights are checked for edits.

SGD (``check_sgd_equivalence``). A submission's ``train_manual_update`` must leave every parameter
bit for bit equal (``torch.equal``) to ``torch.optim.SGD(..., foreach=False)`` after every epoch.

The course's ``main_test(backprop_fn, model, ...)`` is kept, with its banners, so course notebooks
still run against this file.
"""

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

PROJECT_ROOT = Path(__file__).resolve().parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.append(str(PROJECT_ROOT))

from utils.metrics import relative_error  # noqa: E402  (one definition, used everywhere)
from utils.mynet import ACTIVATIONS, MyNet  # noqa: E402

# Hand-written and autograd gradients compute the same sums in different orders, so in float64 they
# differ by round-off only: about eps * (number of terms) * (depth) = 2.2e-16 * 64 * 5 < 1e-13 relative.
# 1e-10 leaves three orders of margin for cancellation, and is still 7 orders below the smallest
# mistake worth catching (a factor 1 + 1e-3 on one layer).
AUTOGRAD_RTOL = 1e-10
# Centred differences with step h: truncation error ~ h^2 |L'''| ~ 1e-12, round-off ~ eps |L| / h
# ~ 2e-10 |L| per entry (see finite_difference_bound); 1e-6 relative on top is a safe bound.
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_RTOL = 1e-6
FLOAT64_EPS = torch.finfo(torch.float64).eps
# Finite differences are only used where every parameter can be perturbed cheaply ...
FINITE_DIFFERENCE_MAX_PARAMETERS = 150
# ... and, for kinked activations, where no pre-activation lies within reach of the step.
KINK_MARGIN = 1e-4


# --- measuring --------------------------------------------------------------------------------

def finite_difference_bound(got, estimate, loss, eps=FINITE_DIFFERENCE_STEP):
    """The largest |got - estimate| a right gradient can show against a finite-difference estimate.

        bound = RTOL * (max |got| + max |estimate|) + 100 * eps_float64 * |L| / eps

    The second term is the round-off of (L+ - L-) / (2 eps): each loss carries a relative error of a
    few eps_float64 (100 leaves margin for the sums inside L), divided by the step.
    """
    scale = (got.abs().max() + estimate.abs().max()).item()
    return FINITE_DIFFERENCE_RTOL * scale + 100 * FLOAT64_EPS * abs(float(loss)) / eps


def sum_squared_error(y_pred, y_true):
    """The course loss: L = sum over batch and outputs of (y_pred - y_true)^2."""
    return ((y_pred - y_true) ** 2).sum()


def autograd_gradients(model, x, y_true):
    """({l: dL/dW[l]}, {l: dL/db[l]}) from autograd, for the loss above; the model is unchanged."""
    params = [p for l in range(1, model.L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.enable_grad():
        loss = sum_squared_error(model(x), y_true)
        grads = torch.autograd.grad(loss, params)
    return ({l: grads[2 * l - 2] for l in range(1, model.L + 1)},
            {l: grads[2 * l - 1] for l in range(1, model.L + 1)})


def finite_difference_gradients(model, x, y_true, eps=FINITE_DIFFERENCE_STEP):
    """Centred differences on every weight and bias entry, in float64.

        dL/dtheta_j ~ (L(theta + eps e_j) - L(theta - eps e_j)) / (2 eps)

    Error: O(eps^2) truncation plus O(machine eps * |L| / eps) round-off (see FINITE_DIFFERENCE_RTOL).
    Every perturbed entry is restored, also when the forward pass raises.
    Returns ({l: dL/dW[l]}, {l: dL/db[l]}) shaped like the parameters.
    """
    dL_dw, dL_db = {}, {}
    with torch.no_grad():
        for l in range(1, model.L + 1):
            for param, out in ((model.fc[str(l)].weight, dL_dw), (model.fc[str(l)].bias, dL_db)):
                grad = torch.zeros_like(param, dtype=torch.float64)
                flat, flat_grad = param.view(-1), grad.view(-1)
                for j in range(flat.numel()):
                    original = flat[j].item()
                    try:
                        flat[j] = original + eps
                        loss_plus = sum_squared_error(model(x), y_true).item()
                        flat[j] = original - eps
                        loss_minus = sum_squared_error(model(x), y_true).item()
                    finally:
                        flat[j] = original
                    flat_grad[j] = (loss_plus - loss_minus) / (2 * eps)
                out[l] = grad
    return dL_dw, dL_db


def reference_backpropagation(model, y_true, y_pred, derivative_at="z", skip_derivative_below=False):
    """The matrix-form backward pass, with switches that reproduce two classic mistakes.

    Used to name a submission's mistake by its effect: derivative_at="a" takes f' at a[l] instead of
    z[l]; skip_derivative_below=True drops f'(z[l]) on the hidden layers.
    """
    point = model.z if derivative_at == "z" else model.a
    delta = 2 * (y_pred - y_true) * model.df[model.L](point[model.L])
    dL_dw, dL_db = {}, {}
    for l in range(model.L, 0, -1):
        dL_dw[l], dL_db[l] = delta.T @ model.a[l - 1], delta.sum(0)
        if l > 1:
            delta = delta @ model.fc[str(l)].weight
            if not skip_derivative_below:
                delta = delta * model.df[l - 1](point[l - 1])
    return dL_dw, dL_db


# --- cases ------------------------------------------------------------------------------------

@dataclass
class GradientCase:
    name: str
    n_l: list
    activation: str
    x: torch.Tensor
    y_true: torch.Tensor
    seed: int

    def build(self, net_class):
        """A fresh float64 net with this case's seeded weights."""
        torch.manual_seed(self.seed)
        try:
            model = net_class(self.n_l, activation=self.activation)
        except TypeError:  # a course MyNet(n_l) without the activation keyword: tanh only
            model = net_class(self.n_l)
        return model.to(torch.float64)


def course_toy_data(n_in, n_out, n=10, generator=None):
    """The course's toy data: x_i = i + noise, y_i = [i, -i, i, ...] for i = 0..n-1."""
    i = torch.arange(n, dtype=torch.float64)[:, None]
    x = i + torch.randn(n, n_in, dtype=torch.float64, generator=generator)
    signs = torch.tensor([(-1.0) ** j for j in range(n_out)], dtype=torch.float64)
    return x, i * signs


def gradient_cases(n_random=50, seed=0):
    """The course toy case, a course-size net, and n_random seeded random nets."""
    generator = torch.Generator().manual_seed(seed)
    x, y = course_toy_data(2, 2, generator=generator)
    cases = [
        GradientCase("course toy [2, 3, 2] tanh, batch 10", [2, 3, 2], "tanh", x, y, seed),
        GradientCase("course toy [2, 3, 2] tanh, one sample", [2, 3, 2], "tanh", x[3:4], y[3:4], seed),
        GradientCase("course size [576, 16, 10] tanh, batch 8", [576, 16, 10], "tanh",
                     torch.randn(8, 1, 24, 24, dtype=torch.float64, generator=generator),
                     torch.eye(10, dtype=torch.float64)[torch.randint(10, (8,), generator=generator)], seed + 1),
    ]
    activations = list(ACTIVATIONS)
    batch_sizes = [1, 2, 3, 5, 8, 17, 32, 64]
    scales = [0.1, 1.0, 3.0]
    for k in range(n_random):
        draw = lambda high, low=1: int(torch.randint(low, high + 1, (1,), generator=generator))
        depth = 1 + k % 5
        if k % 3 == 0:  # square hidden layers: a transposed dW has the right shape there
            width = draw(12, 2)
            n_l = [width] * (depth + 1)
        else:
            n_l = [draw(12) for _ in range(depth + 1)]
        activation = activations[k % len(activations)]
        batch = batch_sizes[k % len(batch_sizes)]
        scale = scales[k % len(scales)]
        x = scale * torch.randn(batch, n_l[0], dtype=torch.float64, generator=generator)
        y_true = torch.randn(batch, n_l[-1], dtype=torch.float64, generator=generator)
        name = f"random {n_l} {activation}, batch {batch}, input scale {scale}"
        cases.append(GradientCase(name, n_l, activation, x, y_true, seed + 100 + k))
    return cases


# --- running a submission ---------------------------------------------------------------------

class AutogradUsedError(RuntimeError):
    """Raised when a submission calls autograd while the harness has made it unusable."""


class _autograd_unusable:
    """Parameters stop requiring grad and autograd's entry points raise AutogradUsedError."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        def forbidden(what):
            def raise_error(*args, **kwargs):
                raise AutogradUsedError(f"backpropagation called {what}")
            return raise_error

        self.saved = (torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad)
        torch.Tensor.backward = forbidden(".backward()")
        torch.autograd.backward = forbidden("torch.autograd.backward")
        torch.autograd.grad = forbidden("torch.autograd.grad")
        self.requires_grad = [(p, p.requires_grad) for p in self.model.parameters()]
        for p, _ in self.requires_grad:
            p.requires_grad_(False)
        self.grad_mode = torch.no_grad()
        self.grad_mode.__enter__()

    def __exit__(self, *exc):
        self.grad_mode.__exit__(*exc)
        torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad = self.saved
        for p, flag in self.requires_grad:
            p.requires_grad_(flag)
        return False


STORES = {"weight": "dL_dw", "bias": "dL_db"}  # where a submission stores each parameter's gradient


def _parameter_items(model):
    for l in range(1, model.L + 1):
        yield l, "weight", model.fc[str(l)].weight
        yield l, "bias", model.fc[str(l)].bias


def _pick(gradients, l, kind):
    """The (l, kind) entry of a ({l: dL/dW[l]}, {l: dL/db[l]}) pair."""
    return gradients[kind == "bias"][l]


def _short(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def check_case(backpropagation, case, net_class=MyNet, model=None, eps=FINITE_DIFFERENCE_STEP):
    """Run one case; return (failures, worst autograd error, worst finite-difference error, fd_failures).

    model: the float64 net to run on; by default a fresh one built by case.build(net_class).
    eps: the finite-difference step.
    failures: contract problems, an exception, weight edits, or disagreement with autograd.
    fd_failures: disagreement with finite differences (on small nets whenever the contract holds).
    """
    model = case.build(net_class) if model is None else model
    reference = autograd_gradients(model, case.x, case.y_true)
    with torch.no_grad():
        y_pred = model(case.x)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.dL_db[l] = None
    saved = {(l, kind): p.detach().clone() for l, kind, p in _parameter_items(model)}

    try:
        with _autograd_unusable(model):
            backpropagation(model, case.y_true, y_pred)
    except AutogradUsedError as error:
        return [f"{case.name}: {error}; autograd is not allowed here: compute the gradients from model.z, model.a and the weights."], math.inf, None, []
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: one submission must not stop the battery
        hint = ""
        if "does not require grad" in str(error) or "grad_fn" in str(error):
            hint = " (this is what autograd says when it is used: compute the gradients by hand)"
        return [f"{case.name}: backpropagation raised {_short(error)}{hint}."], math.inf, None, []

    failures = []
    for l, kind, p in _parameter_items(model):
        if not torch.equal(p.detach(), saved[l, kind]):
            with torch.no_grad():
                p.copy_(saved[l, kind])
            failures.append(f"{case.name}: backpropagation changed fc['{l}'].{kind} (restored); it must only read the weights, updating them is the optimizer's job.")
    if failures:
        return failures, math.inf, None, []

    worst, results, submitted = 0.0, {}, {}
    for l, kind, p in _parameter_items(model):
        stored = getattr(model, STORES[kind], None)
        got = stored.get(l) if isinstance(stored, dict) else None
        problem = _contract_problem(got, _pick(reference, l, kind), f"{case.name}: {STORES[kind]}[{l}]")
        if problem:
            failures.append(problem)
            worst = math.inf
            continue
        submitted[l, kind] = got
        results[l, kind] = relative_error(got, _pick(reference, l, kind))
        worst = max(worst, results[l, kind])
    wrong = [(l, kind) for (l, kind), error in results.items() if error > AUTOGRAD_RTOL]
    if wrong:  # report where the mistake enters: the highest wrong layer (the bias first, it has no a[l-1])
        l, kind = max(wrong, key=lambda item: (item[0], item[1] == "bias"))
        cause = _likely_cause(model, case, l, kind, submitted[l, kind], _pick(reference, l, kind), results, y_pred)
        more = f" ({len(wrong) - 1} more wrong below)" if len(wrong) > 1 else ""
        failures.append(f"{case.name}: {STORES[kind]}[{l}] differs from autograd, relative error {results[l, kind]:.2e} > {AUTOGRAD_RTOL:.0e}{more}; likely cause: {cause}.")

    fd_worst, fd_failures = None, []
    if worst < math.inf and _finite_differences_apply(model):
        estimates = finite_difference_gradients(model, case.x, case.y_true, eps)
        loss = sum_squared_error(y_pred, case.y_true)
        fd_worst = 0.0
        for (l, kind), got in submitted.items():
            fd = _pick(estimates, l, kind)
            difference = (got - fd).abs().max().item()
            bound = finite_difference_bound(got, fd, loss, eps)
            fd_worst = max(fd_worst, relative_error(got, fd))
            if difference > bound:
                fd_failures.append(f"{case.name}: {STORES[kind]}[{l}] differs from finite differences by {difference:.2e}, "
                                   f"more than a right gradient can ({bound:.2e}: {FINITE_DIFFERENCE_RTOL:.0e} relative plus round-off).")
    return failures, worst, fd_worst, fd_failures


def _contract_problem(got, expected, where):
    if got is None:
        return f"{where} was not set; backpropagation must fill model.dL_dw[l] and model.dL_db[l] for every layer l = 1..L."
    if not isinstance(got, torch.Tensor):
        return f"{where} is a {type(got).__name__}, not a torch.Tensor."
    if got.shape != expected.shape:
        hint = ""
        if got.dim() == 2 and got.shape == expected.shape[::-1]:
            hint = " (transposed: dL/dW[l] = delta[l].T @ a[l-1] has the shape of fc[l].weight)"
        elif got.numel() == expected.numel():
            hint = " (reshape it: gradients have the shapes of the parameters, a bias gradient is 1-D)"
        elif expected.dim() == 1 or got.dim() > expected.dim():
            hint = " (sum over the batch dimension: dL/db[l] = delta[l].sum(0))"
        return f"{where} has shape {tuple(got.shape)}, expected {tuple(expected.shape)} like the parameter{hint}."
    if got.dtype != expected.dtype:
        return f"{where} has dtype {got.dtype}, expected {expected.dtype} like the parameter (do not convert with .float() or build it with torch.tensor(...))."
    if not torch.isfinite(got).all():
        return f"{where} holds NaN or inf; check divisions and the derivative functions."
    return None


def _finite_differences_apply(model):
    n_parameters = sum(p.numel() for p in model.parameters())
    if n_parameters > FINITE_DIFFERENCE_MAX_PARAMETERS:
        return False
    if getattr(model, "activation", "tanh") in ("relu", "leaky_relu"):
        return all(model.z[l].abs().min() > KINK_MARGIN for l in range(1, model.L + 1))
    return True


def _fits(got, candidate):
    return candidate is not None and candidate.shape == got.shape and relative_error(got, candidate) < 1e-8


def _multiple_of(got, reference):
    """The c with got ~ c * reference (least squares), or None when got is no multiple of it."""
    scale = ((got * reference).sum() / (reference * reference).sum()).item() if reference.abs().max() > 0 else 0.0
    return scale if _fits(got, scale * reference) else None


def _likely_cause(model, case, l, kind, got, expected, errors, y_pred):
    """Name a mistake by its effect: compare with gradients that classic mistakes produce."""
    batch = case.x.shape[0]
    scale = _multiple_of(got, expected)
    if scale is not None:
        if abs(scale + 1) < 1e-6:
            return "the sign is flipped (the gradient points uphill): delta[L] = 2 (y_pred - y_true) * f'(z[L])"
        if batch > 1 and abs(scale - 1 / batch) < 1e-6:
            if kind == "bias":
                return "the bias gradient is averaged over the batch (mean) instead of summed"
            return "the gradient is divided by the batch size, but the loss is a sum over the batch"
        if abs(scale - 0.5) < 1e-6:
            return "the factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing"
        return f"the gradient is off by a constant factor {scale:.3g}"
    if kind == "weight" and got.shape[0] == got.shape[1] and _fits(got, expected.T):
        return "dL_dw is transposed: dL/dW[l] = delta[l].T @ a[l-1], shaped like fc[l].weight (n_l, n_{l-1})"
    if batch > 1:
        singles = [autograd_gradients(model, case.x[i:i + 1], case.y_true[i:i + 1]) for i in (0, batch - 1)]
        with torch.no_grad():
            model(case.x)  # restore the batch's stored z and a
        if any(_multiple_of(got, _pick(single, l, kind)) is not None for single in singles):
            return "only one sample of the batch is used; sum delta[l].T @ a[l-1] and delta[l] over the whole batch"
    at_a = reference_backpropagation(model, case.y_true, y_pred, derivative_at="a")
    if _fits(got, _pick(at_a, l, kind)):
        return "f' is evaluated at a[l] = f(z[l]) instead of at z[l]"
    no_df = reference_backpropagation(model, case.y_true, y_pred, skip_derivative_below=True)
    if _fits(got, _pick(no_df, l, kind)):
        return "the factor f'(z[l]) is missing on a hidden layer"
    above_right = all(errors.get((k, t), math.inf) <= AUTOGRAD_RTOL for k in range(l + 1, model.L + 1) for t in ("weight", "bias"))
    if l == model.L:
        return "the output layer is already wrong: check delta[L] = 2 (y_pred - y_true) * f'(z[L]) and dL/dW[L] = delta[L].T @ a[L-1]"
    if above_right:
        return (f"layers above {l} are right, so the error enters between layer {l + 1} and {l}: check "
                f"delta[{l}] = (delta[{l + 1}] @ W[{l + 1}]) * f'(z[{l}]) (a skipped layer, a wrong weight, a wrong derivative)")
    return "an error in a layer above propagates down; fix the highest wrong layer first"


# --- the battery ------------------------------------------------------------------------------

@dataclass
class CheckResult:
    """Outcome of a battery: passed is True only when every case passed."""
    passed: bool
    n_passed: int
    n_total: int
    failures: list = field(default_factory=list)
    worst_error: float = 0.0
    worst_finite_difference_error: float = 0.0

    def summary(self):
        if self.passed:
            return f"{self.n_passed} / {self.n_total}: ALL TEST PASSED :)"
        return f"{self.n_passed} / {self.n_total} tests passed: SOME TESTS FAILED"


def run_gradient_checks(backpropagation, net_class=MyNet, n_random=50, seed=0, verbose=True):
    """Check backpropagation(model, y_true, y_pred) on the course cases and n_random random nets.

    Returns a CheckResult; prints per-case lines only when verbose, then the summary line and the
    failures.
    """
    previous_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # a submission that changed it must not change the cases
    try:
        cases = gradient_cases(n_random, seed)
        failures, n_passed, worst, fd_worst = [], 0, 0.0, 0.0
        for case in cases:
            case_failures, error, fd_error, fd_failures = check_case(backpropagation, case, net_class)
            case_failures = case_failures or fd_failures  # finite differences add news only when autograd agreed
            worst = max(worst, error)
            fd_worst = max(fd_worst, fd_error or 0.0)
            n_passed += not case_failures
            failures += case_failures
            if verbose:
                fd_text = f", finite differences {fd_error:.1e}" if fd_error is not None else ""
                status = "ok  " if not case_failures else "FAIL"
                print(f"{status} {case.name}: autograd {error:.1e}{fd_text}")
    finally:
        torch.set_default_dtype(previous_dtype)
    result = CheckResult(not failures, n_passed, len(cases), failures, worst, fd_worst)
    print(result.summary())
    for message in failures[:10]:
        print(" -", message)
    if len(failures) > 10:
        print(f" - ... and {len(failures) - 10} more")
    return result


# --- the course's main_test -------------------------------------------------------------------

def _banner(title):
    print("\n __________________________________________________________________ ")
    print(title.center(68).rstrip())
    print(" __________________________________________________________________ ")


def main_test(backprop_fn, model, eps=1e-6, verbose=True, data="toy"):
    """The course's test, kept with its banners: toy data, one sample at a time, 5 epochs of SGD.

    Checks gradients against autograd and finite differences with step eps, that the weights were
    updated by the optimizer, and that every parameter is still a leaf that requires grad.
    """
    if data != "toy":
        raise ValueError(f"data={data!r} is not available offline; use data='toy' (or run_gradient_checks for the full battery).")
    model = model.to(torch.float64)
    generator = torch.Generator().manual_seed(0)
    x, y_true = course_toy_data(model.n_l[0], model.n_l[-1], generator=generator)
    initial = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    _banner("Check gradients")
    autograd_ok = finite_differences_ok = True
    for epoch in range(5):
        for i in range(len(x)):
            case = GradientCase(f"epoch {epoch + 1}, sample {i}", model.n_l, getattr(model, "activation", "tanh"),
                                x[i:i + 1], y_true[i:i + 1], 0)
            failures, error, _, fd_failures = check_case(backprop_fn, case, model=model, eps=eps)
            autograd_ok &= error <= AUTOGRAD_RTOL
            finite_differences_ok &= error < math.inf and not fd_failures
            if verbose and failures:
                print("\n".join(" " + m for m in failures[:3]))
            optimizer.zero_grad()
            sum_squared_error(model(x[i:i + 1]), y_true[i:i + 1]).backward()
            optimizer.step()
    print("\n TEST PASSED: Gradients consistent with autograd's computations." if autograd_ok
          else "\n TEST FAILED: Gradients NOT consistent with autograd's computations.")
    print("\n TEST PASSED: Gradients consistent with finite differences computations." if finite_differences_ok
          else "\n TEST FAILED: Gradients NOT consistent with finite differences computations.")

    _banner("Check that weights have been updated")
    updated = all(not torch.equal(a, p.detach()) for a, p in zip(initial, model.parameters()))
    print("\n TEST PASSED: Weights have been updated." if updated else "\n TEST FAILED: Weights have NOT been updated.")

    _banner("Check computational graph")
    graph_ok = all(p.requires_grad and p.is_leaf for p in model.parameters())
    print("\n TEST PASSED: All parameters seem correctly attached to the computational graph!" if graph_ok
          else "\n TEST FAILED: Some parameters are NOT correctly attached to the computational graph!")

    _banner("Conclusion")
    tests = [autograd_ok, finite_differences_ok, updated, graph_ok]
    if all(tests):
        print(f"\n {len(tests)} / {len(tests)}: ALL TEST PASSED :)")
    else:
        print(f"\n {sum(tests)} / {len(tests)}: SOME TESTS FAILED, use 'verbose=True' and check the output for more details")
    return all(tests)


# --- SGD, bit for bit -------------------------------------------------------------------------

# Each setting alone, then combinations: which ones fail tells what is wrong (see _sgd_cause).
SGD_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01, "nesterov": True},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.001},
]


def parameter_state(model):
    """{parameter name: detached copy} of every parameter of model."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


class ParameterRecorder:
    """Wraps a training loader and snapshots the model's parameters each time an epoch starts.

    A training function iterates its loader once per epoch, so snapshot k (k >= 1) holds the
    parameters after epoch k; call finish() after training for the last one. No callbacks needed.
    """

    def __init__(self, loader, model):
        self.loader, self.model, self.snapshots = loader, model, []

    def __iter__(self):
        self._snapshot()
        return iter(self.loader)

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):  # .dataset, .batch_size, ... as on the wrapped loader
        return getattr(self.loader, name)

    def _snapshot(self):
        self.snapshots.append(parameter_state(self.model))

    def finish(self):
        """Parameters after each epoch: [after epoch 1, after epoch 2, ...]."""
        self._snapshot()
        return self.snapshots[1:]


def first_difference(states, reference_states):
    """(epoch, parameter name, largest |difference|, relative error) of the first mismatch, or None."""
    for epoch, (state, reference) in enumerate(zip(states, reference_states), start=1):
        for name, expected in reference.items():
            got = state[name]
            if not torch.equal(got, expected):
                return epoch, name, (got - expected).abs().max().item(), relative_error(got, expected)
    return None


def _sgd_problem(model_seed, data_seed):
    """A small seeded float64 model and a function making its seeded, shuffled training loader."""
    from utils.data import make_loader

    generator = torch.Generator().manual_seed(data_seed)
    x = torch.randn(70, 3, 2, 2, dtype=torch.float64, generator=generator)
    y = torch.randint(0, 3, (70,), generator=generator)
    dataset = torch.utils.data.TensorDataset(x, y)
    torch.manual_seed(model_seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3)).to(torch.float64)
    return model, lambda: make_loader(dataset, batch_size=16, shuffle=True, seed=data_seed)


def _states_with_torch_sgd(model, loader, n_epochs, config):
    optimizer = torch.optim.SGD(model.parameters(), foreach=False, **config)
    loss_fn, states = nn.CrossEntropyLoss(), []
    with torch.enable_grad():  # even if a submission switched autograd off globally
        for _ in range(n_epochs):
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
            states.append(parameter_state(model))
    return states


def _describe(config):
    return "{" + ", ".join(f"{k}={v}" for k, v in config.items()) + "}"


def check_sgd_equivalence(train_manual_update, configs=None, n_epochs=3, seed=0):
    """Run torch.optim.SGD(foreach=False) and train_manual_update on the same seeded model and data.

    train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0,
    dampening=0.0, nesterov=False) is called with each configuration's keywords; after every epoch
    every parameter must be torch.equal to PyTorch's. Returns a CheckResult whose failures name the
    configuration, epoch and parameter of the first difference, its size and the likely cause.
    """
    configs = SGD_CONFIGS if configs is None else configs
    previous_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    outcomes = []  # (config, None | (epoch, name, difference, relative) | error message)
    try:
        for config in configs:
            model, new_loader = _sgd_problem(seed, seed + 1)
            reference = _states_with_torch_sgd(copy.deepcopy(model), new_loader(), n_epochs, config)
            recorder = ParameterRecorder(new_loader(), model)
            try:
                with torch.enable_grad():
                    train_manual_update(n_epochs, model, nn.CrossEntropyLoss(), recorder, **config)
            except KeyboardInterrupt:
                raise
            except BaseException as error:
                outcomes.append((config, f"train_manual_update raised {_short(error)}"))
                continue
            finally:
                torch.set_default_dtype(torch.float64)
            states = recorder.finish()
            if len(states) != n_epochs:
                outcomes.append((config, f"train_manual_update iterated the training loader {len(states)} times for n_epochs={n_epochs}; it must run exactly n_epochs epochs"))
                continue
            outcomes.append((config, first_difference(states, reference)))
    finally:
        torch.set_default_dtype(previous_dtype)

    failures = []
    for config, outcome in outcomes:
        if outcome is None:
            continue
        if isinstance(outcome, str):
            failures.append(f"{_describe(config)}: {outcome}.")
            continue
        epoch, name, difference, relative = outcome
        cause = _sgd_cause(config, outcome, lambda: _one_step_differences(train_manual_update, config, seed))
        failures.append(f"{_describe(config)}: after epoch {epoch} parameter '{name}' differs from torch.optim.SGD "
                        f"by up to {difference:.2e} (relative {relative:.1e}); likely cause: {cause}.")
    n_passed = sum(outcome is None for _, outcome in outcomes)
    result = CheckResult(not failures, n_passed, len(outcomes), failures)
    print(f"SGD equivalence: {result.summary()}")
    for message in failures:
        print(" -", message)
    return result


ROUND_OFF = 1e-10  # relative differences below this are the same mathematics in another float order


def _one_step_differences(train_manual_update, config, seed):
    """Names of the parameters that differ from torch.optim.SGD after a single step (one full batch)."""
    from utils.data import make_loader

    model, _ = _sgd_problem(seed, seed + 1)
    generator = torch.Generator().manual_seed(seed + 2)
    data = torch.utils.data.TensorDataset(torch.randn(16, 3, 2, 2, dtype=torch.float64, generator=generator),
                                          torch.randint(0, 3, (16,), generator=generator))
    reference = _states_with_torch_sgd(copy.deepcopy(model), make_loader(data, 16), 1, config)[0]
    try:
        train_manual_update(1, model, nn.CrossEntropyLoss(), make_loader(data, 16), **config)
    except Exception:
        return set()
    return {name for name, p in model.named_parameters() if not torch.equal(p.detach(), reference[name])}


def _sgd_cause(config, outcome, one_step_differences):
    """Name the mistake by the setting that fails: SGD_CONFIGS tries each setting alone first."""
    epoch, _, _, relative = outcome
    momentum, decay = config.get("momentum", 0), config.get("weight_decay", 0)
    if relative < ROUND_OFF and set(config) == {"lr"}:
        return ("the same update in another floating-point order, e.g. p - lr * g instead of p.add_(g, alpha=-lr) "
                "(a fused multiply-add rounds once): follow torch.optim.SGD operation for operation")
    if set(config) == {"lr"}:
        return "the plain step is wrong: zero the gradients before each backward and update theta <- theta - lr * g"
    if decay and not momentum:
        differing = one_step_differences()
        if differing and all(n.endswith("bias") for n in differing) and relative >= ROUND_OFF:
            return "weight decay is not applied to the biases (torch.optim.SGD decays every parameter)"
        return "weight decay differs: PyTorch adds it to the gradient first, g <- g.add(theta, alpha=weight_decay)"
    if momentum and not decay and not config.get("dampening") and not config.get("nesterov"):
        if epoch > 1 and relative >= ROUND_OFF:
            return "the momentum buffer does not persist across epochs (reset each epoch?)"
        if relative < ROUND_OFF:
            return ("momentum in another floating-point order (e.g. the learning rate folded into the velocity): "
                    "use buf.mul_(momentum).add_(g, alpha=1 - dampening), then p.add_(buf, alpha=-lr)")
        return "the momentum buffer is wrong: on the first step b <- g, then b <- mu * b + (1 - dampening) * g"
    if config.get("dampening") and not decay:
        return ("dampening misapplied: the first step sets b <- g (a copy, no (1 - dampening) and no buffer from zero), "
                "later steps b <- mu * b + (1 - dampening) * g")
    if config.get("nesterov") and not decay:
        return "Nesterov momentum ignored or wrong: with nesterov=True the step uses g + mu * b"
    if decay and momentum:
        return "weight decay combined with momentum in the wrong order: add lambda * theta to g before the momentum buffer"
    return "the update differs from torch.optim.SGD; compare with g <- g + lambda theta; b <- mu b + (1 - tau) g; theta <- theta - gamma g"


# --- this project's notebooks, as pytest collects them and as `python tests_backpropagation.py` runs them

def notebook_function(notebook, name):
    """The function `name` as defined by the notebook (definitions only, see utils/notebook.py)."""
    from utils.notebook import load_definitions

    namespace = load_definitions(PROJECT_ROOT / notebook)
    if not callable(namespace.get(name)):
        raise LookupError(f"{notebook} defines no function {name!r}.")
    return namespace[name]


def test_notebook_backpropagation_passes_every_gradient_check():
    result = run_gradient_checks(notebook_function("backpropagation.ipynb", "backpropagation"), verbose=False)
    assert result.passed, result.failures[:3]
    assert result.worst_error <= 1e-12


def test_notebook_train_manual_update_is_bitwise_sgd():
    result = check_sgd_equivalence(notebook_function("gradient_descent.ipynb", "train_manual_update"))
    assert result.passed, result.failures[:3]


def main(argv):
    if argv[:1] == ["grade"]:
        from utils.grading import main as grade

        return grade(argv[1:])
    if argv:
        print("usage: python tests_backpropagation.py [grade SUBMISSIONS_DIR [--json PATH] [--timeout SECONDS] [--jobs N]]", file=sys.stderr)
        return 2
    print("backpropagation.ipynb: backpropagation")
    passed = run_gradient_checks(notebook_function("backpropagation.ipynb", "backpropagation"), verbose=False).passed
    print("gradient_descent.ipynb: train_manual_update")
    passed &= check_sgd_equivalence(notebook_function("gradient_descent.ipynb", "train_manual_update")).passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
