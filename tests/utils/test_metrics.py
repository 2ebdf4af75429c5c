"""accuracy_per_epoch scores each snapshot and leaves the model as it was."""

import torch

from utils.metrics import accuracy, accuracy_per_epoch


def test_accuracy_per_epoch_scores_each_snapshot_and_restores_the_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).double()
    x, y = torch.randn(50, 4, dtype=torch.float64), torch.randint(0, 2, (50,))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    snapshots = [{name: torch.randn_like(p) for name, p in model.named_parameters()} for _ in range(3)]
    accuracies = accuracy_per_epoch(model, snapshots, x, y)
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())
    for state, value in zip(snapshots, accuracies, strict=True):
        other = torch.nn.Linear(4, 2).double()
        other.load_state_dict(state)
        assert accuracy(other, x, y) == value
