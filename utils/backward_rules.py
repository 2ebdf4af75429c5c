"""Backward rules written by hand as torch.autograd.Function subclasses.

Each op keeps its forward and backward side by side; the local derivative is stated as one line of
math. `go` is the gradient of the loss with respect to the op's output (same shape as the output);
backward returns the gradient with respect to each input.
"""

import torch

from utils.metrics import relative_error


class Divide(torch.autograd.Function):
    """Z = X / Y elementwise."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x / y

    @staticmethod
    def backward(ctx, go):
        x, y = ctx.saved_tensors
        # dZ/dX = 1 / Y,  dZ/dY = -X / Y^2
        return go / y, -go * x / (y * y)


class Sigmoid(torch.autograd.Function):
    """Z = sigma(X) = 1 / (1 + exp(-X)) elementwise."""

    @staticmethod
    def forward(ctx, x):
        z = torch.sigmoid(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, go):
        (z,) = ctx.saved_tensors
        # dZ/dX = sigma(X) (1 - sigma(X))
        return go * z * (1 - z)


class Exp(torch.autograd.Function):
    """Z = exp(X) elementwise."""

    @staticmethod
    def forward(ctx, x):
        z = torch.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, go):
        (z,) = ctx.saved_tensors
        # dZ/dX = exp(X)
        return go * z


class MatMul(torch.autograd.Function):
    """Z = X @ W, X: (n, k), W: (k, m), Z: (n, m)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, go):
        x, w = ctx.saved_tensors
        # dL/dX = dL/dZ @ W^T,  dL/dW = X^T @ dL/dZ
        return go @ w.T, x.T @ go


class Expand(torch.autograd.Function):
    """Z = x repeated into `columns` columns: x: (n,), Z: (n, columns), Z[i, j] = x[i]."""

    @staticmethod
    def forward(ctx, x, columns=16):
        return x[:, None].expand(-1, columns).clone()

    @staticmethod
    def backward(ctx, go):
        # each x[i] feeds a whole row: dL/dx[i] = sum_j dL/dZ[i, j]
        return go.sum(dim=1), None


class ReLU(torch.autograd.Function):
    """Z = max(X, 0) elementwise."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, go):
        (x,) = ctx.saved_tensors
        # dZ/dX = 1 where X > 0, else 0 (0 at the kink, as torch.relu does)
        return go * (x > 0).to(go.dtype)


class RowNormalize(torch.autograd.Function):
    """Z = X / S with S[i] = sum_j X[i, j]: each row divided by its sum."""

    @staticmethod
    def forward(ctx, x):
        s = x.sum(dim=1, keepdim=True)
        ctx.save_for_backward(x, s)
        return x / s

    @staticmethod
    def backward(ctx, go):
        x, s = ctx.saved_tensors
        # dZ[i,j]/dX[i,k] = delta_jk / S[i] - X[i,j] / S[i]^2
        # so dL/dX[i,k] = go[i,k] / S[i] - sum_j go[i,j] X[i,j] / S[i]^2
        return go / s - (go * x).sum(dim=1, keepdim=True) / (s * s)


# name -> (hand-written op, the same expression in plain torch, a function making float64 inputs)
def _positive(generator, *shape):
    return torch.rand(*shape, dtype=torch.float64, generator=generator) + 0.5


def _normal(generator, *shape):
    return torch.randn(*shape, dtype=torch.float64, generator=generator)


BACKWARD_RULES = {
    "divide X/Y": (Divide.apply, lambda x, y: x / y, lambda g: (_normal(g, 4, 5), _positive(g, 4, 5))),
    "sigmoid": (Sigmoid.apply, torch.sigmoid, lambda g: (_normal(g, 4, 5),)),
    "exp": (Exp.apply, torch.exp, lambda g: (_normal(g, 4, 5),)),
    "matmul": (MatMul.apply, lambda x, w: x @ w, lambda g: (_normal(g, 4, 3), _normal(g, 3, 6))),
    "expand to 16 columns": (Expand.apply, lambda x: x[:, None].expand(-1, 16), lambda g: (_normal(g, 5),)),
    "relu": (ReLU.apply, torch.relu, lambda g: (_normal(g, 4, 5),)),
    "row normalize x/sum(x)": (RowNormalize.apply, lambda x: x / x.sum(dim=1, keepdim=True), lambda g: (_positive(g, 4, 5),)),
}


def compare_with_autograd(op, plain, inputs, seed=0):
    """Largest relative error between op's hand-written gradients and autograd's of plain.

    Both are pulled back from the same random upstream gradient `go`.
    """
    mine = [x.detach().clone().requires_grad_() for x in inputs]
    theirs = [x.detach().clone().requires_grad_() for x in inputs]
    out_mine, out_theirs = op(*mine), plain(*theirs)
    go = torch.randn(out_theirs.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    grads_mine = torch.autograd.grad(out_mine, mine, go)
    grads_theirs = torch.autograd.grad(out_theirs, theirs, go)
    return max(relative_error(a, b) for a, b in zip(grads_mine, grads_theirs))
