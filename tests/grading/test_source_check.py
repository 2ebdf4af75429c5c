"""Reading a backpropagation's source for autograd: every route to it is found, a right function is not."""

import ast

import pytest

from harness.grading.source_check import forbidden_uses

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


def test_a_definition_the_function_does_not_reach_is_read_only_for_what_runs_when_defined():
    source = "import torch\nclass Rule(torch.autograd.Function):\n    def backward(ctx, g):\n        return g.backward()\ndef backpropagation(m, t, p):\n    pass"
    assert forbidden_uses(ast.parse(source).body, "backpropagation") == []
