"""The hostile autograd routes of tests/fixtures/hostile are real: outside the sandbox, without the
lockdown, each one returns the right gradients. So when test_grade finds them caught inside, it is
the lockdown that caught them, not a bug of the fixture."""

import sys

import pytest
import torch

from harness.checks.cases import gradient_cases
from harness.checks.notebook import load_notebook
from harness.checks.references import autograd_gradients
from tests.fixtures import submissions as S
from utils.metrics import relative_error


@pytest.mark.parametrize("name", S.AUTOGRAD_ROUTES)
def test_each_route_gives_the_right_gradients_where_autograd_works(name, tmp_path, monkeypatch):
    folder = S.write(tmp_path, name, S.hostile(name))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "helpers", raising=False)
    loaded = load_notebook(folder / "backpropagation.ipynb")
    case = gradient_cases(n_random=0)[0]  # the course's toy net: tanh, one sample
    model = case.build(loaded.namespace.get("MyNet") or __import__("utils.mynet", fromlist=["MyNet"]).MyNet)
    expected = autograd_gradients(model, case.x, case.y_true)
    y_pred = model(case.x).detach()
    loaded.get("backpropagation")(model, case.y_true, y_pred)
    for l in range(1, model.L + 1):
        assert relative_error(model.dL_dw[l], expected.weight[l]) < 1e-12
        assert relative_error(model.dL_db[l], expected.bias[l]) < 1e-12
