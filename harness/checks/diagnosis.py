"""Naming a wrong gradient's likely cause by its effect: compare it with what classic mistakes give.

Every candidate is computed with autograd: a multiple of the right gradient, its transpose, one
sample of the batch, and two mistakes in the local derivative (f' taken at a instead of z, f'
missing on the hidden layers), made by running the net's forward pass through an activation whose
backward uses the mistaken derivative. No backward pass is written out here.
"""

import torch

from harness.checks.references import Gradients, autograd_gradients, sum_squared_error
from harness.checks.tolerances import DIAGNOSIS_MATCH_RTOL, FACTOR_MATCH_ATOL
from utils.metrics import relative_error


TRANSPOSED = "dL_dw is transposed: dL_dw[l] has the shape of fc[str(l)].weight, (n_l, n_{l-1})"

def _fits(got, candidate):
    return candidate is not None and candidate.shape == got.shape and relative_error(got, candidate) < DIAGNOSIS_MATCH_RTOL


def multiple_of(got, reference):
    """The c with got ~ c * reference (least squares), or None when got is no multiple of it."""
    scale = ((got * reference).sum() / (reference * reference).sum()).item() if reference.abs().max() > 0 else 0.0
    return scale if _fits(got, scale * reference) else None


def describe_factor(scale):
    """A factor with the digits that tell it from 1: 1.001, 0.999, 1e-09, 3."""
    for digits in range(3, 17):
        text = f"{scale:.{digits}g}"
        if float(text) != 1.0 or digits == 16:
            return text
    return repr(scale)


class _Activation(torch.autograd.Function):
    """a = f(z) forward; backward by the local derivative given, right or mistaken: derivative(z, a)."""

    @staticmethod
    def forward(ctx, z, f, derivative):
        a = f(z)
        ctx.save_for_backward(z, a)
        ctx.derivative = derivative
        return a

    @staticmethod
    def backward(ctx, go):
        z, a = ctx.saved_tensors
        return go * ctx.derivative(z, a), None, None


MISTAKES = ("f' at a", "no f' on hidden layers")


def mistaken_gradients(model, x, y_true, mistake):
    """Gradients of the course loss, by autograd, when the local derivative has a classic mistake:
    "f' at a" evaluates f' at a[l] = f(z[l]); "no f' on hidden layers" leaves f' out below the output."""
    if mistake not in MISTAKES:
        raise ValueError(f"mistake must be one of {MISTAKES}, got {mistake!r}")
    L = model.L
    params = [p.detach().clone().requires_grad_() for l in range(1, L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.enable_grad():
        a = torch.flatten(x, 1)
        for l in range(1, L + 1):
            df = model.df[l]
            if mistake == "f' at a":
                derivative = lambda z, a, df=df: df(a)
            elif l < L:
                derivative = lambda z, a: torch.ones_like(z)
            else:
                derivative = lambda z, a, df=df: df(z)
            a = _Activation.apply(a @ params[2 * l - 2].T + params[2 * l - 1], model.f[l], derivative)
        grads = torch.autograd.grad(sum_squared_error(a, y_true), params)
    result = Gradients()
    for l in range(1, L + 1):
        result[l, "weight"], result[l, "bias"] = grads[2 * l - 2], grads[2 * l - 1]
    return result


def _near(scale, value):
    return abs(scale - value) < FACTOR_MATCH_ATOL


def likely_cause(model, case, l, kind, got, expected, wrong_keys, y_pred=None):
    """Why gradient (l, kind) of case is wrong. model: the reference net after a forward pass of case.x.

    wrong_keys: every (layer, kind) that is wrong, to tell where the error enters.
    """
    batch = case.x.shape[0]
    scale = multiple_of(got, expected)
    if scale is not None:
        if _near(scale, -1):
            return "the sign is flipped (the gradient points uphill): the loss grows along -gradient"
        if batch > 1 and _near(scale, 1 / batch):
            if kind == "bias":
                return "the bias gradient is averaged over the batch (mean) instead of summed"
            return "the gradient is divided by the batch size, but the loss is a sum over the batch"
        if _near(scale, 0.5):
            return "the factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing"
        return f"the gradient is off by a constant factor {describe_factor(scale)}"
    if kind == "weight" and got.dim() == 2 and got.shape[0] == got.shape[1] and _fits(got, expected.T):
        return TRANSPOSED
    if batch > 1:
        singles = [autograd_gradients(model, case.x[i:i + 1], case.y_true[i:i + 1]) for i in (0, batch - 1)]
        with torch.no_grad():
            model(case.x)  # restore the batch's stored z and a
        if any(multiple_of(got, single[l, kind]) is not None for single in singles):
            return "only one sample of the batch is used: the loss sums over every sample, and so do its gradients"
    if _fits(got, mistaken_gradients(model, case.x, case.y_true, "f' at a")[l, kind]):
        return "f' is evaluated at a[l] = f(z[l]) instead of at z[l]"
    if _fits(got, mistaken_gradients(model, case.x, case.y_true, "no f' on hidden layers")[l, kind]):
        return "the factor f'(z[l]) is missing on a hidden layer"
    if l == model.L:
        return "the output layer is already wrong: check the derivative of the loss with respect to z[L], then the output layer's weights and bias"
    if not any(k > l for k, _ in wrong_keys):
        return (f"layers above {l} are right, so the error enters between layer {l + 1} and {l}: check how the "
                f"error signal passes back through the weights of layer {l + 1} and f'(z[{l}]) (a skipped layer, a wrong weight, a wrong derivative)")
    return "an error in a layer above propagates down; fix the highest wrong layer first"
