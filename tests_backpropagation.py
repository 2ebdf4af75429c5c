"""The course's file name, as a thin entry to the grading harness in harness/.

In a notebook (as the course's notebooks use it):

    from tests_backpropagation import main_test, run_gradient_checks, check_sgd_equivalence
    main_test(backpropagation, MyNet([2, 3, 2]), verbose=False, data="toy")
    main_test(backpropagation, MyNet([24 * 24, 16, 10]), verbose=False, data="mnist")

From a shell:

    python tests_backpropagation.py                 # check this project's own notebooks
    python tests_backpropagation.py grade DIR ...   # grade a folder of submissions (see README)

pytest collects the two test functions below: this project's notebooks pass the harness.
"""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.append(str(PROJECT_ROOT))

from harness import check_sgd_equivalence, main_test, run_gradient_checks  # noqa: E402
from harness.references import autograd_gradients, finite_difference_gradients  # noqa: E402
from utils.mynet import MyNet  # noqa: E402

__all__ = ["main_test", "run_gradient_checks", "check_sgd_equivalence", "MyNet",
           "autograd_gradients", "finite_difference_gradients", "grade"]


def notebook_function(notebook, name):
    """The function `name` as this project's notebook defines it (definitions only)."""
    from harness.notebook import load_notebook

    loaded = load_notebook(PROJECT_ROOT / notebook)
    if loaded.get(name) is None:
        raise LookupError(loaded.why_missing(name))
    return loaded.get(name)


def grade(argv):
    """`python tests_backpropagation.py grade ...` (see harness/cli.py)."""
    from harness.cli import main as cli

    return cli(["grade", *argv])


def test_notebook_backpropagation_passes_every_gradient_check():
    result = run_gradient_checks(notebook_function("backpropagation.ipynb", "backpropagation"), verbose=False)
    assert result.passed, result.failures[:3]
    assert all(yes for yes, _ in result.distinctions.values())
    assert result.worst_error <= 1e-12


def test_notebook_train_manual_update_is_bitwise_sgd():
    result = check_sgd_equivalence(notebook_function("gradient_descent.ipynb", "train_manual_update"), verbose=False)
    assert result.passed, result.failures[:3]
    assert all(yes for yes, _ in result.distinctions.values()), result.distinctions


def test_notebook_train_manual_update_rejects_impossible_settings_as_torch_does():
    import pytest
    import torch

    train_manual_update = notebook_function("gradient_descent.ipynb", "train_manual_update")
    model = torch.nn.Linear(2, 2)
    for settings, message in [({"lr": -1.0}, "Invalid learning rate: -1.0"),
                              ({"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
                              ({"lr": 0.1, "weight_decay": -1e-3}, "Invalid weight_decay value: -0.001"),
                              ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening")]:
        with pytest.raises(ValueError, match=message):
            torch.optim.SGD(model.parameters(), **settings)  # the same message from PyTorch ...
        with pytest.raises(ValueError, match=message):
            train_manual_update(1, model, torch.nn.MSELoss(), [], **settings)  # ... and from the notebook


if __name__ == "__main__":
    from harness.cli import main

    sys.exit(main(sys.argv[1:]))
