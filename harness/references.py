"""What a right gradient is: autograd, centred finite differences, the matrix-form backward pass,
and the round-off a right gradient may show against autograd.

All of them take a course-contract net (MyNet: fc[str(l)], z, a, df, L) in float64 and the course's
loss L = sum over samples and outputs of (y_pred - y_true)^2.
"""

from dataclasses import dataclass, field

import torch

from harness.tolerances import (
    FINITE_DIFFERENCE_RTOL, FINITE_DIFFERENCE_STEP, FLOAT64_UNIT_ROUNDOFF,
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

        bound = RTOL * (max |got| + max |estimate|) + 1000 * u * S / eps  (+ the truncation estimate, per entry)

    The second term is the round-off of (L+ - L-) / (2 eps): each loss carries an error of about
    u S (loss_roundoff_scale; 1000 leaves margin for the sums inside the forward pass), divided by
    the step.
    """
    scale = (got.abs().max() + estimate.abs().max()).item()
    return FINITE_DIFFERENCE_RTOL * scale + 1000 * FLOAT64_UNIT_ROUNDOFF * abs(float(loss_scale)) / eps


def reference_backpropagation(model, y_true, y_pred, derivative_at="z", skip_derivative_below=False):
    """The matrix-form backward pass, with switches that reproduce two classic mistakes.

        delta[L] = 2 (y_pred - y_true) * f'(z[L])                  (B, n_L)
        dL/dW[l] = delta[l].T @ a[l-1],  dL/db[l] = sum_i delta[l]_i
        delta[l-1] = (delta[l] @ W[l]) * f'(z[l-1])

    derivative_at="a" takes f' at a[l] instead of z[l]; skip_derivative_below=True drops f'(z[l])
    on the hidden layers. Used to name a submission's mistake by its effect.
    """
    point = model.z if derivative_at == "z" else model.a
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](point[model.L])
        result = Gradients()
        for l in range(model.L, 0, -1):
            result[l, "weight"], result[l, "bias"] = delta.T @ model.a[l - 1], delta.sum(0)
            if l > 1:
                delta = delta @ model.fc[str(l)].weight
                if not skip_derivative_below:
                    delta = delta * model.df[l - 1](point[l - 1])
    return result


def roundoff_bound(model, y_true, y_pred):
    """Per entry, the round-off a right float64 backward pass may carry: absolute values propagated.

    With u the unit round-off, an error E[l] on delta[l] and D[l] = |delta[l]|:
        f'(z) is computed to an absolute 4u (|f'| + 1) (1 - tanh^2, s (1 - s), 1 / cosh^2 all are),
        plus 2 |f'| dz for a pre-activation that another forward pass rounds differently by
        dz = n u (|a| |W|.T + |b|);
        E[L] = 2 |y_pred - y_true| * df_error(L) + 3u D[L]
        E[l-1] = (E[l] |W[l]|) * |f'| + (D[l] |W[l]|) * (df_error(l-1) + n_l u |f'|)
        |dW| <= E[l].T |a[l-1]| + B u D[l].T |a[l-1]|,  |db| <= sum_i E[l] + B u sum_i D[l]
    Returns Gradients of bounds (absolute, float64).
    """
    u = FLOAT64_UNIT_ROUNDOFF
    L = model.L
    with torch.no_grad():
        def df_error(l):
            df = model.df[l](model.z[l]).abs()
            W, b = model.fc[str(l)].weight, model.fc[str(l)].bias
            dz = model.n_l[l - 1] * u * (model.a[l - 1].abs() @ W.abs().T + b.abs())
            return df, 4 * u * (df + 1) + 2 * df * dz

        df, df_err = df_error(L)
        residual = 2 * (y_pred - y_true).abs()
        D = residual * df
        E = residual * df_err + 3 * u * D
        batch = D.shape[0]
        bound = Gradients()
        for l in range(L, 0, -1):
            a = model.a[l - 1].abs()
            bound[l, "weight"] = E.T @ a + batch * u * (D.T @ a)
            bound[l, "bias"] = E.sum(0) + batch * u * D.sum(0)
            if l > 1:
                W = model.fc[str(l)].weight.abs()
                back, back_err = D @ W, E @ W
                df, df_err = df_error(l - 1)
                E = back_err * df + back * (df_err + model.n_l[l] * u * df)
                D = back * df
    return bound
