"""Hand-written backward rules agree with autograd to round-off and pass gradcheck."""

import pytest
import torch

from utils.backward_rules import BACKWARD_RULES, Expand, compare_with_autograd


@pytest.mark.parametrize("name", list(BACKWARD_RULES))
def test_backward_matches_autograd_of_plain_expression(name):
    op, plain, make_inputs = BACKWARD_RULES[name]
    for seed in range(5):
        inputs = make_inputs(torch.Generator().manual_seed(seed))
        assert compare_with_autograd(op, plain, inputs, seed=seed) <= 1e-12


@pytest.mark.parametrize("name", list(BACKWARD_RULES))
def test_gradcheck(name):
    op, _, make_inputs = BACKWARD_RULES[name]
    inputs = tuple(x.requires_grad_() for x in make_inputs(torch.Generator().manual_seed(0)))
    assert torch.autograd.gradcheck(op, inputs)


def test_expand_backward_sums_the_columns():
    x = torch.arange(3.0, dtype=torch.float64, requires_grad=True)
    out = Expand.apply(x)
    assert out.shape == (3, 16)
    out.backward(torch.ones(3, 16, dtype=torch.float64))
    assert torch.equal(x.grad, torch.full((3,), 16.0, dtype=torch.float64))


def test_a_wrong_rule_is_caught():
    """A Divide whose dY forgets the square: compare_with_autograd sees it, far above 1e-12."""
    class WrongDivide(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x / y

        @staticmethod
        def backward(ctx, go):
            x, y = ctx.saved_tensors
            return go / y, -go * x / y

    _, plain, make_inputs = BACKWARD_RULES["divide X/Y"]
    assert compare_with_autograd(WrongDivide.apply, plain, make_inputs(torch.Generator().manual_seed(0))) > 1e-3
