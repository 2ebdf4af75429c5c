"""This project's own notebooks pass the harness: the gradients, bitwise SGD, and torch's own errors."""

from pathlib import Path

import pytest
import torch

from harness.checks import check_sgd_equivalence, run_gradient_checks
from harness.checks.notebook import notebook_function

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_notebook_backpropagation_passes_every_gradient_check():
    result = run_gradient_checks(notebook_function(PROJECT_ROOT / "backpropagation.ipynb", "backpropagation"), verbose=False)
    assert result.passed, result.failures[:3]
    assert all(yes for yes, _ in result.distinctions.values())
    assert result.worst_error <= 1e-12


def test_notebook_train_manual_update_is_bitwise_sgd():
    result = check_sgd_equivalence(notebook_function(PROJECT_ROOT / "gradient_descent.ipynb", "train_manual_update"), verbose=False)
    assert result.passed, result.failures[:3]
    assert all(yes for yes, _ in result.distinctions.values()), result.distinctions


def test_notebook_train_manual_update_rejects_impossible_settings_as_torch_does():
    train_manual_update = notebook_function(PROJECT_ROOT / "gradient_descent.ipynb", "train_manual_update")
    model = torch.nn.Linear(2, 2)
    for settings, message in [({"lr": -1.0}, "Invalid learning rate: -1.0"),
                              ({"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
                              ({"lr": 0.1, "weight_decay": -1e-3}, "Invalid weight_decay value: -0.001"),
                              ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening")]:
        with pytest.raises(ValueError, match=message):
            torch.optim.SGD(model.parameters(), **settings)  # the same message from PyTorch ...
        with pytest.raises(ValueError, match=message):
            train_manual_update(1, model, torch.nn.MSELoss(), [], **settings)  # ... and from the notebook
