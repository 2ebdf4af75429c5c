"""Measures shared by the harness, the notebooks and the report: relative error, accuracy and its standard error."""

import torch

from utils.snapshots import load_parameter_state, parameter_state


def relative_error(a, b):
    """max |a - b| / (max |a| + max |b|): 0 for equal tensors, 1 for a = 0 != b or a = -b.

    Normwise (over the whole tensor) like cs231n's rel_error, so near-zero entries of a gradient do
    not blow it up. Two all-zero tensors have error 0.
    """
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    scale = a.abs().max() + b.abs().max() if a.numel() else torch.tensor(0.0, dtype=torch.float64)
    if scale == 0:
        return 0.0
    return ((a - b).abs().max() / scale).item()


def accuracy(model, x, y):
    """Fraction of rows of x whose argmax output equals y, computed without autograd."""
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).to(torch.float64).mean().item()


def binomial_standard_error(p, n):
    """Standard error of an accuracy p measured on n independent images: sqrt(p (1 - p) / n)."""
    return (p * (1 - p) / n) ** 0.5


def confusion_matrix(model, x, y, n_classes=2):
    """counts[i, j] = number of samples of true class i predicted as class j (int64)."""
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    return torch.bincount(y * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy_per_epoch(model, snapshots, x, y):
    """Accuracy of model on (x, y) with each snapshot's parameters loaded; the model ends unchanged.

    snapshots: [{parameter name: tensor}, ...] as ParameterRecorder.finish() returns them.
    """
    current = parameter_state(model)
    accuracies = []
    for state in snapshots:
        load_parameter_state(model, state)
        accuracies.append(accuracy(model, x, y))
    load_parameter_state(model, current)
    return accuracies
