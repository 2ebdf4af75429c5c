"""Naming a wrong gradient's likely cause by its effect: compare it with what classic mistakes give."""

import torch

from harness.references import autograd_gradients, reference_backpropagation
from harness.tolerances import DIAGNOSIS_MATCH_RTOL
from utils.metrics import relative_error



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


def likely_cause(model, case, l, kind, got, expected, wrong_keys, y_pred):
    """Why gradient (l, kind) of case is wrong. model: the reference net after a forward pass of case.x.

    wrong_keys: every (layer, kind) that is wrong, to tell where the error enters.
    """
    batch = case.x.shape[0]
    scale = multiple_of(got, expected)
    if scale is not None:
        if abs(scale + 1) < 1e-6:
            return "the sign is flipped (the gradient points uphill): delta[L] = 2 (y_pred - y_true) * f'(z[L])"
        if batch > 1 and abs(scale - 1 / batch) < 1e-6:
            if kind == "bias":
                return "the bias gradient is averaged over the batch (mean) instead of summed"
            return "the gradient is divided by the batch size, but the loss is a sum over the batch"
        if abs(scale - 0.5) < 1e-6:
            return "the factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing"
        return f"the gradient is off by a constant factor {describe_factor(scale)}"
    if kind == "weight" and got.dim() == 2 and got.shape[0] == got.shape[1] and _fits(got, expected.T):
        return "dL_dw is transposed: dL/dW[l] = delta[l].T @ a[l-1], shaped like fc[l].weight (n_l, n_{l-1})"
    if batch > 1:
        singles = [autograd_gradients(model, case.x[i:i + 1], case.y_true[i:i + 1]) for i in (0, batch - 1)]
        with torch.no_grad():
            model(case.x)  # restore the batch's stored z and a
        if any(multiple_of(got, single[l, kind]) is not None for single in singles):
            return "only one sample of the batch is used; sum delta[l].T @ a[l-1] and delta[l] over the whole batch"
    if _fits(got, reference_backpropagation(model, case.y_true, y_pred, derivative_at="a")[l, kind]):
        return "f' is evaluated at a[l] = f(z[l]) instead of at z[l]"
    if _fits(got, reference_backpropagation(model, case.y_true, y_pred, skip_derivative_below=True)[l, kind]):
        return "the factor f'(z[l]) is missing on a hidden layer"
    if l == model.L:
        return "the output layer is already wrong: check delta[L] = 2 (y_pred - y_true) * f'(z[L]) and dL/dW[L] = delta[L].T @ a[L-1]"
    if not any(k > l for k, _ in wrong_keys):
        return (f"layers above {l} are right, so the error enters between layer {l + 1} and {l}: check "
                f"delta[{l}] = (delta[{l + 1}] @ W[{l + 1}]) * f'(z[{l}]) (a skipped layer, a wrong weight, a wrong derivative)")
    return "an error in a layer above propagates down; fix the highest wrong layer first"
