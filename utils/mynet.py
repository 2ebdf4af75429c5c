"""MyNet: the course's fully connected network that stores what backpropagation needs.

Contract (kept exactly, since submissions and the harness rely on it):

    n_l = [n_0, ..., n_L], L = len(n_l) - 1
    fc[str(l)] = nn.Linear(n_{l-1}, n_l)                  l = 1..L
    forward(x):  a[0] = flatten(x) : (batch, n_0)
                 z[l] = a[l-1] @ W[l].T + b[l]            (batch, n_l)
                 a[l] = f[l](z[l])                        (batch, n_l)
                 returns a[L]
    f[l], df[l]: the activation and its hand-written derivative, both functions of z
    dL_dw[l], dL_db[l]: filled by backpropagation with the shapes of W[l] and b[l]

Every layer, the output layer included, uses the same activation, as in the course.
"""

import torch
from torch import nn


def _sigmoid_derivative(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


# name -> (f, df): each derivative is written by hand as a function of z
ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, _sigmoid_derivative),
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "leaky_relu": (
        lambda z: nn.functional.leaky_relu(z, 0.01),
        lambda z: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, 0.01)),
    ),
    "identity": (lambda z: z, torch.ones_like),
}


class MyNet(nn.Module):
    """Fully connected net with widths n_l and one activation on every layer."""

    def __init__(self, n_l=(2, 3, 2), activation="tanh"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}.")
        if len(n_l) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in n_l):
            raise ValueError(f"n_l must list at least two positive integer widths [n_0, ..., n_L], got {list(n_l)!r}.")
        self.n_l = list(n_l)
        self.L = len(n_l) - 1
        self.activation = activation
        f, df = ACTIVATIONS[activation]
        layers = range(1, self.L + 1)
        self.f = {l: f for l in layers}
        self.df = {l: df for l in layers}
        self.fc = nn.ModuleDict({str(l): nn.Linear(n_l[l - 1], n_l[l]) for l in layers})
        self.z = {l: None for l in layers}
        self.a = {l: None for l in range(self.L + 1)}
        self.dL_dw = {l: None for l in layers}
        self.dL_db = {l: None for l in layers}

    def forward(self, x):
        self.a[0] = torch.flatten(x, 1)
        for l in range(1, self.L + 1):
            self.z[l] = self.fc[str(l)](self.a[l - 1])
            self.a[l] = self.f[l](self.z[l])
        return self.a[self.L]
