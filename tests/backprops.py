"""Backpropagations a student might write: one right one, and each mistake as the one line it changes.

`backpropagation(**mistake)` is the right matrix-form pass; every keyword swaps one line for a
classic mistake. The wrappers below change what a right pass leaves behind (dtype, shape, NaN, ...).
The harness's own reference (harness.checks.references) is not used here, so the tests are not circular.
"""

import functools

import torch

from tests.submissions import ONE_SAMPLE_BACKPROPAGATION, replaced


def backpropagation(model, y_true, y_pred, factor=2.0, at="z", hidden_derivative=True, bias_reduce="sum",
                    transpose=False, lowest_layer=1, only_first_sample=False, batch_summed=False):
    with torch.no_grad():
        point = model.z if at == "z" else model.a
        delta = factor * (y_pred - y_true) * model.df[model.L](point[model.L])
        a = dict(model.a)
        if only_first_sample:
            delta, a = delta[:1], {l: v[:1] for l, v in a.items()}
        if batch_summed:
            delta, a = delta.sum(0, keepdim=True), {l: v.sum(0, keepdim=True) for l, v in a.items()}
        for l in range(model.L, lowest_layer - 1, -1):
            dw = delta.T @ a[l - 1]
            model.dL_dw[l] = dw.T.contiguous() if transpose and (transpose == "all" or dw.shape[0] == dw.shape[1]) else dw
            model.dL_db[l] = delta.sum(0) if bias_reduce == "sum" else delta.mean(0)
            if l > 1:
                delta = delta @ model.fc[str(l)].weight
                if hidden_derivative:
                    z = point[l - 1][:1] if only_first_sample else point[l - 1]
                    z = z.sum(0, keepdim=True) if batch_summed else z
                    delta = delta * model.df[l - 1](z)


right = backpropagation


def mistake(**changes):
    wrong = functools.partial(backpropagation, **changes)
    wrong.__name__ = "_".join(f"{k}={v}" for k, v in changes.items())
    return wrong


def after_right(change):
    """A right pass, then change(model) on what it stored."""
    def wrong(model, y_true, y_pred):
        backpropagation(model, y_true, y_pred)
        change(model)
    wrong.__name__ = change.__name__
    return wrong


def _from_source(source):
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace["backpropagation"]


# Right for the course's batches of one: works on 1-D vectors after squeeze(0) (the notebook version,
# without its isinstance check of the notebook's MyNet).
one_sample_squeezed = _from_source(replaced(ONE_SAMPLE_BACKPROPAGATION, '    if not isinstance(model, MyNet):\n        raise ValueError("model must be an instance of MyNet")\n', ""))
one_sample_squeezed.__name__ = "one_sample_squeezed"


def one_sample_columns(model, y_true, y_pred):
    """Right for batches of one, written with column vectors: view(-1, 1) and a (1, n) bias gradient."""
    with torch.no_grad():
        delta = (2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])).view(-1, 1)
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta @ model.a[l - 1].view(1, -1)
            model.dL_db[l] = delta.view(1, -1)
            if l > 1:
                delta = (model.fc[str(l)].weight.T @ delta) * model.df[l - 1](model.z[l - 1]).view(-1, 1)


def per_sample_loop(model, y_true, y_pred):
    """Right on batches too, one sample at a time."""
    with torch.no_grad():
        for l in range(1, model.L + 1):
            model.dL_dw[l] = torch.zeros_like(model.fc[str(l)].weight)
            model.dL_db[l] = torch.zeros_like(model.fc[str(l)].bias)
        for i in range(len(y_pred)):
            delta = 2 * (y_pred[i] - y_true[i]) * model.df[model.L](model.z[model.L][i])
            for l in range(model.L, 0, -1):
                model.dL_dw[l] += torch.outer(delta, model.a[l - 1][i])
                model.dL_db[l] += delta
                if l > 1:
                    delta = (model.fc[str(l)].weight.T @ delta) * model.df[l - 1](model.z[l - 1][i])


def in_float32(model):
    for l in model.dL_dw:
        model.dL_dw[l] = model.dL_dw[l].float()


def with_nan(model):
    model.dL_dw[1] = model.dL_dw[1] / 0 * 0


def biases_never_set(model):
    for l in model.dL_db:
        model.dL_db[l] = None


def as_lists(model):
    model.dL_dw[1] = model.dL_dw[1].tolist()


def edits_weights(model):
    with torch.no_grad():
        for l in model.dL_dw:
            model.fc[str(l)].weight -= 0.1 * model.dL_dw[l]


def raises(model, y_true, y_pred):
    raise IndexError("list index out of range")


def exits(model, y_true, y_pred):
    raise SystemExit(3)


def calls_backward(model, y_true, y_pred):
    ((y_pred - y_true) ** 2).sum().backward()
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = model.fc[str(l)].weight.grad, model.fc[str(l)].bias.grad


def reruns_forward_with_autograd(model, y_true, y_pred):
    params = [p for l in range(1, model.L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.enable_grad():
        grads = torch.autograd.grad(((model(model.a[0]) - y_true) ** 2).sum(), params)
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = grads[2 * l - 2], grads[2 * l - 1]


def switches_guard_off(model, y_true, y_pred):
    """Puts autograd's entry points back (from a copy made at import) and uses them."""
    torch.autograd.grad = ORIGINAL_GRAD
    reruns_forward_with_autograd(model, y_true, y_pred)


ORIGINAL_GRAD = torch.autograd.grad
