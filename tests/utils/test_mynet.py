"""MyNet keeps the course contract: stored z and a, one activation, hand-written derivatives."""

import pytest
import torch

from utils.mynet import ACTIVATIONS, MyNet


def test_forward_stores_every_layer_with_course_shapes():
    torch.manual_seed(0)
    model = MyNet([6, 4, 3, 2]).double()
    x = torch.randn(5, 1, 2, 3, dtype=torch.float64)
    out = model(x)
    assert model.L == 3 and list(model.fc) == ["1", "2", "3"]
    assert model.a[0].shape == (5, 6)
    assert [model.z[l].shape for l in (1, 2, 3)] == [(5, 4), (5, 3), (5, 2)]
    assert out is model.a[3]
    assert torch.equal(model.z[2], model.a[1] @ model.fc["2"].weight.T + model.fc["2"].bias)
    assert torch.equal(model.a[2], torch.tanh(model.z[2]))
    assert set(model.dL_dw) == set(model.dL_db) == {1, 2, 3}


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_hand_written_derivative_matches_autograd(activation):
    model = MyNet([3, 3], activation=activation)
    z = torch.randn(200, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model.f[1](z).sum(), z)
    assert torch.allclose(model.df[1](z.detach()), grad, rtol=1e-14, atol=1e-15)


def test_every_layer_uses_the_same_activation():
    model = MyNet([2, 3, 4, 2], activation="sigmoid")
    assert all(model.f[l] is model.f[1] and model.df[l] is model.df[1] for l in (1, 2, 3))


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown activation 'softplus'; choose one of: tanh, sigmoid, relu, leaky_relu, identity"):
        MyNet([2, 2], activation="softplus")


@pytest.mark.parametrize("n_l", [[3], [3, 0], [2.5, 2], []])
def test_bad_widths_are_rejected(n_l):
    with pytest.raises(ValueError, match="n_l must list at least two positive integer widths"):
        MyNet(n_l)
