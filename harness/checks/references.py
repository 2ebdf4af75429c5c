"""What a right gradient is: autograd, centred finite differences, and the round-off a right
gradient may show against autograd (itself computed by autograd, from an error model).

All of them take a course-contract net (MyNet: fc[str(l)], z, a, df, L) in float64 and the course's
loss L = sum over samples and outputs of (y_pred - y_true)^2.
"""

from dataclasses import dataclass, field

import torch

from harness.checks.tolerances import (
    FINITE_DIFFERENCE_ROUNDOFF_SAFETY, FINITE_DIFFERENCE_RTOL, FINITE_DIFFERENCE_STEP, FLOAT64_UNIT_ROUNDOFF,
)

KINDS = ("weight", "bias")
STORES = {"weight": "dL_dw", "bias": "dL_db"}  # where a submission stores each parameter's gradient


@dataclass
class Gradients:
    """One tensor per (layer, kind): weight[l] like fc[str(l)].weight, bias[l] like its bias."""
    weight: dict = field(default_factory=dict)
    bias: dict = field(default_factory=dict)

    def __getitem__(self, key):
        l, kind = key
        return getattr(self, kind)[l]

    def __setitem__(self, key, value):
        l, kind = key
        getattr(self, kind)[l] = value

    def keys(self):
        return [(l, kind) for l in sorted(self.weight) for kind in KINDS if l in getattr(self, kind)]


def parameter_items(model):
    """(l, kind, parameter) for every layer, weight before bias."""
    for l in range(1, model.L + 1):
        yield l, "weight", model.fc[str(l)].weight
        yield l, "bias", model.fc[str(l)].bias


def sum_squared_error(y_pred, y_true):
    """The course loss: L = sum over batch and outputs of (y_pred - y_true)^2 (y_true broadcasts)."""
    return ((y_pred - y_true) ** 2).sum()


def autograd_gradients(model, x, y_true):
    """Gradients of the course loss by autograd; the model's parameters and .grad are unchanged."""
    items = list(parameter_items(model))
    with torch.enable_grad():
        loss = sum_squared_error(model(x), y_true)
        grads = torch.autograd.grad(loss, [p for _, _, p in items])
    result = Gradients()
    for (l, kind, _), g in zip(items, grads):
        result[l, kind] = g
    return result


def finite_difference_gradients(model, x, y_true, eps=FINITE_DIFFERENCE_STEP, entries=None):
    """Centred differences on weight and bias entries, in float64.

        dL/dtheta_j ~ (L(theta + eps e_j) - L(theta - eps e_j)) / (2 eps)

    Error: O(eps^2) truncation plus O(u |L| / eps) round-off (see finite_difference_bound).
    entries: {(l, kind): flat indices} to estimate only those (the rest are NaN); None for all.
    Every perturbed entry is restored, also when the forward pass raises.
    """
    result = Gradients()
    with torch.no_grad():
        for l, kind, param in parameter_items(model):
            grad = torch.full(param.shape, float("nan"), dtype=torch.float64)
            flat, flat_grad = param.view(-1), grad.view(-1)
            indices = range(flat.numel()) if entries is None else entries[l, kind]
            for j in indices:
                original = flat[j].item()
                try:
                    flat[j] = original + eps
                    loss_plus = sum_squared_error(model(x), y_true).item()
                    flat[j] = original - eps
                    loss_minus = sum_squared_error(model(x), y_true).item()
                finally:
                    flat[j] = original
                flat_grad[j] = (loss_plus - loss_minus) / (2 * eps)
            result[l, kind] = grad
        model(x)  # leave z and a as they were for x
    return result


def loss_roundoff_scale(y_pred, y_true):
    """S with |round-off of L| <~ u S: |L| itself plus 2 |y_pred - y_true| (|y_pred| + |y_true|) summed,
    since L is computed from a y_pred that carries a relative error of u (which matters when the
    residual is small beside y_pred, as with saturated outputs)."""
    residual = (y_pred - y_true).abs()
    return float(residual.pow(2).sum() + 2 * (residual * (y_pred.abs() + y_true.abs())).sum())


def finite_difference_bound(got, estimate, loss_scale, eps=FINITE_DIFFERENCE_STEP):
    """The largest |got - estimate| a right gradient can show against a finite-difference estimate.

        bound = RTOL * (max |got| + max |estimate|) + SAFETY * u * S / eps  (+ the truncation estimate, per entry)

    The second term is the round-off of (L+ - L-) / (2 eps): each loss carries an error of about
    u S (loss_roundoff_scale), divided by the step; SAFETY (tolerances) leaves margin for the sums
    inside the forward pass.
    """
    scale = (got.abs().max() + estimate.abs().max()).item()
    return FINITE_DIFFERENCE_RTOL * scale + FINITE_DIFFERENCE_ROUNDOFF_SAFETY * FLOAT64_UNIT_ROUNDOFF * abs(float(loss_scale)) / eps


def roundoff_bound(model, y_true, y_pred):
    """Per entry, the round-off a right float64 backward pass may carry, as Gradients (absolute).

    No backward pass is written here: the bound is the gradient, by autograd, of a first-order
    error model of the forward pass with absolute values. With u the unit round-off, |W|, |b|, |a|
    taken entrywise, |f'| = |f'(z[l])|, r = 2 |y_pred - y_true| and B samples, two signals run forward
    from a perturbation s[l] = |a[l-1]| dW[l].T + db[l] that enters every layer:

        p[l] = P[l-1] |W[l]|.T + s[l],           P[l] = p[l] |f'|
        q[l] = Q[l-1] |W[l]|.T + B u s[l],       Q[l] = q[l] |f'| + p[l] c[l]
        S    = sum(r * Q[L])

    c[l] is the error of f'(z[l]) itself: 4u (|f'| + 1) (1 - tanh^2, s (1 - s), 1 / cosh^2 all have it),
    plus 2 |f'| dz for a pre-activation that another forward pass rounds differently by
    dz = n_{l-1} u (|a[l-1]| |W[l]|.T + |b[l]|), plus the rounding of the products that carry the
    error signal on: n_{l+1} u |f'| below the output, 3u |f'| at it. dS/d(dW, db) at 0 is the bound
    on every entry of dL/dW and dL/db.
    """
    u = FLOAT64_UNIT_ROUNDOFF
    L, batch = model.L, y_pred.shape[0]
    with torch.no_grad():
        W = {l: model.fc[str(l)].weight.abs() for l in range(1, L + 1)}
        b = {l: model.fc[str(l)].bias.abs() for l in range(1, L + 1)}
        a = {l: model.a[l].abs() for l in range(L + 1)}
        df = {l: model.df[l](model.z[l]).abs() for l in range(1, L + 1)}
        c = {}
        for l in range(1, L + 1):
            dz = model.n_l[l - 1] * u * (a[l - 1] @ W[l].T + b[l])
            carried = model.n_l[l + 1] * u * df[l] if l < L else 3 * u * df[l]
            c[l] = 4 * u * (df[l] + 1) + 2 * df[l] * dz + carried
        r = 2 * (y_pred - y_true).abs()
    perturbations = [torch.zeros_like(p, requires_grad=True) for l in range(1, L + 1) for p in (W[l], b[l])]
    with torch.enable_grad():
        p = q = torch.zeros_like(a[0])
        for l in range(1, L + 1):
            dW, db = perturbations[2 * l - 2], perturbations[2 * l - 1]
            s = a[l - 1] @ dW.T + db
            p, q = p @ W[l].T + s, q @ W[l].T + batch * u * s
            p, q = p * df[l], q * df[l] + p * c[l]
        bounds = torch.autograd.grad((r * q).sum(), perturbations)
    result = Gradients()
    for (l, kind, _), bound in zip(parameter_items(model), bounds):
        result[l, kind] = bound
    return result
