"""The nets and data the gradient battery runs a backpropagation on.

The course's contract is one sample at a time: a[l], z[l] of shape (1, n_l), y_true and y_pred of
shape (1, n_L). Those cases decide the verdict ("graded"). Every net is also run on a batch; a
backpropagation that is right on batches too earns the distinction "vectorised over a batch".
"""

from dataclasses import dataclass

import torch

from harness.checks.precision import float64_default
from utils.mynet import ACTIVATIONS, MyNet


@dataclass
class GradientCase:
    name: str
    n_l: list
    activation: str
    x: torch.Tensor       # (B, n_0), float64
    y_true: torch.Tensor  # (B, n_L) or broadcastable to it, float64
    seed: int             # torch.manual_seed before building the net: the weights
    graded: bool          # one sample: decides the verdict; a batch: a distinction only

    @property
    def batch(self):
        return self.x.shape[0]

    def build(self, net_class=MyNet):
        """A fresh float64 net with this case's seeded weights and activation.

        The weights are drawn in float64 whatever the default dtype is, so that the grader, the
        sandboxed worker and a student's check build the very same nets.
        """
        with float64_default():
            torch.manual_seed(self.seed)
            model = net_class(list(self.n_l))  # the course's constructor takes only the widths ...
        set_activation(model, self.activation)  # ... so the case sets f and df itself
        return model.to(torch.float64)


def set_activation(model, activation):
    """Give every layer of a course-contract net the named activation and its derivative."""
    f, df = ACTIVATIONS[activation]
    for l in range(1, model.L + 1):
        model.f[l], model.df[l] = f, df


def course_toy_data(n_in, n_out, n=10, generator=None):
    """The course's toy data: x_i = i + noise, y_i = [i, -i, i, ...] for i = 0..n-1; shapes (n, n_in), (n, n_out)."""
    i = torch.arange(n, dtype=torch.float64)[:, None]
    x = i + torch.randn(n, n_in, dtype=torch.float64, generator=generator)
    signs = torch.tensor([(-1.0) ** j for j in range(n_out)], dtype=torch.float64)
    return x, i * signs


BATCH_SIZES = [2, 3, 5, 8, 17, 32, 64]
INPUT_SCALES = [0.1, 1.0, 3.0]


def gradient_cases(n_random=50, seed=0):
    """The course toy net, a course-size net and n_random seeded random nets, each on one sample
    (graded) and on a batch (distinction). Random nets: depth 1 to 5, widths 1 to 12 (every third
    net square, where a transposed dW has the right shape), all activations, three input scales."""
    generator = torch.Generator().manual_seed(seed)
    x, y = course_toy_data(2, 2, generator=generator)
    mnist_like = torch.randn(8, 576, dtype=torch.float64, generator=generator)
    labels = torch.eye(10, dtype=torch.float64)[torch.randint(10, (8,), generator=generator)]
    cases = [
        GradientCase("course toy [2, 3, 2] tanh, one sample", [2, 3, 2], "tanh", x[3:4], y[3:4], seed, True),
        GradientCase("course size [576, 16, 10] tanh, one sample", [576, 16, 10], "tanh", mnist_like[:1], labels[:1], seed + 1, True),
        GradientCase("course toy [2, 3, 2] tanh, batch 10", [2, 3, 2], "tanh", x, y, seed, False),
        GradientCase("course size [576, 16, 10] tanh, batch 8", [576, 16, 10], "tanh", mnist_like, labels, seed + 1, False),
    ]
    activations = list(ACTIVATIONS)
    for k in range(n_random):
        draw = lambda high, low=1: int(torch.randint(low, high + 1, (1,), generator=generator))
        depth = 1 + k % 5
        n_l = [draw(12, 2)] * (depth + 1) if k % 3 == 0 else [draw(12) for _ in range(depth + 1)]
        activation = activations[k % len(activations)]
        batch = BATCH_SIZES[k % len(BATCH_SIZES)]
        scale = INPUT_SCALES[k % len(INPUT_SCALES)]
        x = scale * torch.randn(batch, n_l[0], dtype=torch.float64, generator=generator)
        y_true = torch.randn(batch, n_l[-1], dtype=torch.float64, generator=generator)
        name = f"random {n_l} {activation}, input scale {scale}"
        cases.append(GradientCase(f"{name}, one sample", n_l, activation, x[:1], y_true[:1], seed + 100 + k, True))
        cases.append(GradientCase(f"{name}, batch {batch}", n_l, activation, x, y_true, seed + 100 + k, False))
    return cases
