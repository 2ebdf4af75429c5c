"""Reading a backpropagation's source for autograd: every route to it is found, a right function is not."""

import ast

import pytest

from harness.grading.parts.source_check import forbidden_uses

RIGHT = '''
import torch
from torch import nn
from torch.nn import functional as F
from torch.autograd import Variable

class MyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.func = {1: torch.tanh}

def jacobian(delta, w):
    return delta @ w

def backpropagation(model, y_true, y_pred):
    if not isinstance(model, MyNet):
        raise ValueError("not a MyNet")
    if y_pred.requires_grad:
        y_pred = y_pred.detach()
    with torch.set_grad_enabled(False):
        grad = 2 * (y_pred - y_true)
        model.dL_dw[1] = jacobian(grad.T, model.a[0])
        model.dL_db[1] = getattr(grad, "sum")(0)
'''

WRONG = [
    ("def backpropagation(m, t, p):\n    ((p - t) ** 2).sum().backward()", "autograd (.backward)"),
    ("import torch\ndef backpropagation(m, t, p):\n    torch.autograd.grad(p.sum(), [])", "autograd (.autograd)"),
    ("from torch.autograd import grad as g\ndef backpropagation(m, t, p):\n    g(p.sum(), [])", "autograd (import grad)"),
    ("import torch\ndef backpropagation(m, t, p):\n    torch.func.vjp(None, p)", "autograd (.func)"),
    ("from torch.func import jacrev\ndef backpropagation(m, t, p):\n    jacrev(None)", "autograd (import jacrev)"),
    ("import torch\ndef backpropagation(m, t, p):\n    torch.autograd.variable.Variable._execution_engine.run_backward()", "autograd (._execution_engine)"),
    ("def backpropagation(m, t, p):\n    return m.fc['1'].weight.grad", "autograd (.grad)"),
    ("import torch\ndef backpropagation(m, t, p):\n    getattr(torch, 'auto' + 'grad')", "dynamic code (getattr with a computed name)"),
    ("def backpropagation(m, t, p):\n    exec('x = 1')", "dynamic code (exec)"),
    ("def backpropagation(m, t, p):\n    __import__('torch')", "dynamic code (__import__)"),
    ("import torch\nHIDDEN = torch.autograd.grad\ndef backpropagation(m, t, p):\n    HIDDEN(p.sum(), [])", "autograd (.autograd)"),
    ("def helper(p):\n    p.sum().backward()\ndef backpropagation(m, t, p):\n    helper(p)", "autograd (.backward)"),
]


def test_a_right_function_is_not_flagged():
    assert forbidden_uses(ast.parse(RIGHT).body, "backpropagation") == []


@pytest.mark.parametrize("source, found", WRONG, ids=[w[1] for w in WRONG])
def test_every_route_to_autograd_is_found(source, found):
    assert found in [what for what, _ in forbidden_uses(ast.parse(source).body, "backpropagation")]


def test_an_autograd_import_the_function_does_not_reach_is_no_use_of_it():
    source = ("from torch.autograd import grad\nimport torch.autograd.functional as F\n"
              "def reference(m, x, y):\n    return grad(m(x).sum(), [])\n"
              "def backpropagation(m, t, p):\n    m.dL_dw[1] = (p - t).T @ m.a[0]")
    assert forbidden_uses(ast.parse(source).body, "backpropagation") == []


def test_a_definition_the_function_does_not_reach_is_read_only_for_what_runs_when_defined():
    source = "import torch\nclass Rule(torch.autograd.Function):\n    def backward(ctx, g):\n        return g.backward()\ndef backpropagation(m, t, p):\n    pass"
    assert forbidden_uses(ast.parse(source).body, "backpropagation") == []


# --- submitted text read in a child process with limits, in time linear in its size ---------------------------

def _notebook(folder, *sources):
    from tests.fixtures.submissions import cells

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "backpropagation.ipynb").write_text(cells(*sources))
    return folder / "backpropagation.ipynb"


def test_a_cell_of_70_kb_of_method_chains_is_read_in_linear_time(tmp_path):
    """Chained calls: each call's function holds all the calls before it, which a walk per call read
    again (a 70 KB cell took 131 s); one walk reads them in well under a second."""
    import time

    chains = "".join(f"x{i} = torch.zeros(1)" + ".abs()" * 400 + "\n" for i in range(30))
    statements = ast.parse("import torch\n" + chains + "def backpropagation(m, t, p):\n    return x0\n").body
    start = time.perf_counter()
    assert forbidden_uses(statements, "backpropagation") == []
    assert time.perf_counter() - start < 2  # a walk per call took 4.8 s here


def test_the_child_finds_what_the_check_finds_and_reads_modules_only_when_imported(tmp_path):
    from harness.grading.parts.source_check import check_in_child

    path = _notebook(tmp_path / "s", "import helpers\ndef backpropagation(m, t, p):\n    helpers.g(p)")
    (tmp_path / "s" / "helpers.py").write_text("def g(p):\n    p.sum().backward()\n")
    for i in range(3):  # 1 MiB each, never imported: never parsed
        (tmp_path / "s" / f"unused{i}.py").write_text("x = [" + "1, " * 300_000 + "]\n")
    found = check_in_child(path, tmp_path / "s", "backpropagation")
    assert [what for what, _ in found["uses"]] == ["autograd (.backward)"], found


def test_what_the_child_cannot_read_within_its_limits_is_said_never_waited_for(tmp_path):
    from harness.grading.parts.source_check import check_in_child

    path = _notebook(tmp_path / "s", "def backpropagation(m, t, p):\n    return [" + "[" * 5000 + "]" * 5000 + "]")
    deep = check_in_child(path, tmp_path / "s", "backpropagation")  # too deep to parse: no statement to read
    assert deep == {"uses": []} or "failed" in deep
    big = _notebook(tmp_path / "t", "x = [" + "1, " * 2_000_000 + "]\ndef backpropagation(m, t, p):\n    pass")
    limited = check_in_child(big, tmp_path / "t", "backpropagation", memory=200 * 2**20)
    assert "failed" in limited and "MiB" in limited["failed"], limited
    slow = check_in_child(big, tmp_path / "t", "backpropagation", seconds=0.05)
    assert slow == {"failed": "reading the source took more than 0.05 s"}
