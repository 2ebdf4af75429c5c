"""The gradient harness rejects wrong backpropagations, each with its cause, and accepts right ones."""

import math

import pytest
import torch

from tests_backpropagation import (
    AUTOGRAD_RTOL, finite_difference_gradients, autograd_gradients, main_test, run_gradient_checks,
)
from utils.metrics import relative_error
from utils.mynet import MyNet


def right(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1])


def looped_over_samples(model, y_true, y_pred):
    """Right too, written one sample at a time (slow, but the harness must accept it)."""
    with torch.no_grad():
        for l in range(1, model.L + 1):
            model.dL_dw[l] = torch.zeros_like(model.fc[str(l)].weight)
            model.dL_db[l] = torch.zeros_like(model.fc[str(l)].bias)
        for i in range(len(y_true)):
            delta = 2 * (y_pred[i] - y_true[i]) * model.df[model.L](model.z[model.L][i])
            for l in range(model.L, 0, -1):
                model.dL_dw[l] += torch.outer(delta, model.a[l - 1][i])
                model.dL_db[l] += delta
                if l > 1:
                    delta = (model.fc[str(l)].weight.T @ delta) * model.df[l - 1](model.z[l - 1][i])


def scaled(factor):
    def backpropagation(model, y_true, y_pred):
        right(model, y_true, y_pred)
        for l in range(1, model.L + 1):
            model.dL_dw[l] = factor * model.dL_dw[l]
            model.dL_db[l] = factor * model.dL_db[l]
    return backpropagation


def transposed(model, y_true, y_pred):
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.dL_dw[l].T.contiguous()


def transposed_only_where_square(model, y_true, y_pred):
    """Shapes always right: the transposition shows only in the values of square layers."""
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        w = model.dL_dw[l]
        if w.shape[0] == w.shape[1]:
            model.dL_dw[l] = w.T.contiguous()


def first_layer_skipped(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])
        for l in range(model.L, 1, -1):  # off by one: layer 1 never gets its gradients
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(0)
            delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1])


def derivative_missing_on_hidden_layers(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = delta @ model.fc[str(l)].weight


def derivative_at_activation(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](model.a[model.L])
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.a[l - 1])


def bias_by_mean(model, y_true, y_pred):
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_db[l] = model.dL_db[l] / len(y_true)


def first_sample_only(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred[:1] - y_true[:1]) * model.df[model.L](model.z[model.L][:1])
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1][:1]
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1][:1])


def batch_summed_away(model, y_true, y_pred):
    with torch.no_grad():
        delta = (2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])).sum(0, keepdim=True)
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1].sum(0, keepdim=True)
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1].sum(0, keepdim=True))


def in_float32(model, y_true, y_pred):
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.dL_dw[l].float()


def bias_kept_2d(model, y_true, y_pred):
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_db[l] = model.dL_db[l][None, :]


def with_nan(model, y_true, y_pred):
    right(model, y_true, y_pred)
    model.dL_dw[1] = model.dL_dw[1] / 0 * 0


def biases_never_set(model, y_true, y_pred):
    right(model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_db[l] = None


def raises(model, y_true, y_pred):
    raise IndexError("list index out of range")


def exits(model, y_true, y_pred):
    raise SystemExit(3)


def edits_weights(model, y_true, y_pred):
    right(model, y_true, y_pred)
    with torch.no_grad():
        for l in range(1, model.L + 1):
            model.fc[str(l)].weight -= 0.1 * model.dL_dw[l]


def calls_backward(model, y_true, y_pred):
    loss = ((y_pred - y_true) ** 2).sum()
    loss.backward()
    for l in range(1, model.L + 1):
        model.dL_dw[l] = model.fc[str(l)].weight.grad
        model.dL_db[l] = model.fc[str(l)].bias.grad


def reruns_forward_with_autograd(model, y_true, y_pred):
    params = [p for l in range(1, model.L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.enable_grad():
        loss = ((model(model.a[0]) - y_true) ** 2).sum()
        grads = torch.autograd.grad(loss, params)
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = grads[2 * l - 2], grads[2 * l - 1]


WRONG = [
    (scaled(1e-9), "off by a constant factor 1e-09"),
    (scaled(0.5), "factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing"),
    (scaled(-1), "sign is flipped"),
    (scaled(3.0), "off by a constant factor 3"),
    (transposed, "transposed"),
    (transposed_only_where_square, "dL_dw is transposed"),
    (first_layer_skipped, "dL_dw[1] was not set"),
    (derivative_missing_on_hidden_layers, "f'(z[l]) is missing on a hidden layer"),
    (derivative_at_activation, "evaluated at a[l] = f(z[l]) instead of at z[l]"),
    (bias_by_mean, "averaged over the batch (mean) instead of summed"),
    (first_sample_only, "only one sample of the batch is used"),
    (batch_summed_away, "differs from autograd"),
    (in_float32, "dtype torch.float32, expected torch.float64"),
    (bias_kept_2d, "expected (3,)"),
    (with_nan, "holds NaN or inf"),
    (biases_never_set, "dL_db[2] was not set"),
    (raises, "raised IndexError: list index out of range"),
    (exits, "raised SystemExit: 3"),
    (edits_weights, "changed fc['1'].weight (restored)"),
    (calls_backward, "called .backward(); autograd is not allowed"),
    (reruns_forward_with_autograd, "called torch.autograd.grad"),
]


@pytest.mark.parametrize("wrong, cause", WRONG, ids=[w.__name__ if w.__name__ != "backpropagation" else f"scaled-{i}" for i, (w, _) in enumerate(WRONG)])
def test_wrong_backpropagation_is_rejected_with_its_cause(wrong, cause, capsys):
    result = run_gradient_checks(wrong, n_random=50, verbose=False)
    assert not result.passed
    assert result.n_passed < result.n_total
    assert any(cause in message for message in result.failures), result.failures[:3]
    # every message names its case and the stored gradient it is about
    assert all(": " in m and ("dL_d" in m or "backpropagation" in m) for m in result.failures)
    assert "SOME TESTS FAILED" in capsys.readouterr().out


def test_weights_are_restored_after_an_edit():
    from tests_backpropagation import gradient_cases, check_case

    case = gradient_cases(n_random=0)[0]
    model = case.build(MyNet)
    before = [p.detach().clone() for p in model.parameters()]
    failures, _, _, _ = check_case(edits_weights, case, model=model)
    assert failures and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_autograd_is_usable_again_after_the_battery():
    run_gradient_checks(calls_backward, n_random=2, verbose=False)
    x = torch.ones(3, requires_grad=True)
    (x * x).sum().backward()
    assert torch.equal(x.grad, 2 * torch.ones(3))


@pytest.mark.parametrize("seed", range(20))
def test_right_backpropagation_is_accepted_on_every_seed(seed):
    result = run_gradient_checks(right, n_random=50, seed=seed, verbose=False)
    assert result.passed and result.n_passed == result.n_total == 53, result.failures[:3]
    assert result.worst_error < 1e-12


def test_per_sample_loop_is_accepted():
    assert run_gradient_checks(looped_over_samples, n_random=50, verbose=False).passed


def test_verbose_prints_one_line_per_case_and_the_summary(capsys):
    run_gradient_checks(right, n_random=5, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 9 and all(line.startswith("ok") for line in lines[:-1])
    assert lines[-1] == "8 / 8: ALL TEST PASSED :)"


def test_quiet_run_prints_only_the_summary(capsys):
    run_gradient_checks(right, n_random=5, verbose=False)
    assert capsys.readouterr().out == "8 / 8: ALL TEST PASSED :)\n"


def test_random_cases_cover_depths_activations_batches_and_square_layers():
    from tests_backpropagation import gradient_cases

    cases = gradient_cases(n_random=50)[3:]
    assert {len(c.n_l) - 1 for c in cases} == {1, 2, 3, 4, 5}
    assert {c.activation for c in cases} == {"tanh", "sigmoid", "relu", "leaky_relu", "identity"}
    assert {c.x.shape[0] for c in cases} >= {1, 64}
    assert all(1 <= n <= 12 for c in cases for n in c.n_l)
    assert sum(len(set(c.n_l)) == 1 and len(c.n_l) > 2 for c in cases) >= 5


def test_finite_differences_agree_with_autograd_and_restore_parameters():
    torch.manual_seed(0)
    model = MyNet([3, 4, 2], activation="sigmoid").double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    before = [p.detach().clone() for p in model.parameters()]
    fd_w, fd_b = finite_difference_gradients(model, x, y)
    ag_w, ag_b = autograd_gradients(model, x, y)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    for l in (1, 2):
        assert relative_error(fd_w[l], ag_w[l]) < 1e-8 and relative_error(fd_b[l], ag_b[l]) < 1e-8


def test_relative_error():
    a = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(torch.zeros(2), torch.zeros(2)) == 0.0
    assert relative_error(a, torch.zeros(2, dtype=torch.float64)) == 1.0
    assert math.isclose(relative_error(a, 1.5 * a), 1 / 5)


def test_tolerance_sits_far_below_the_smallest_mistake():
    assert 1e-14 < AUTOGRAD_RTOL <= 1e-9


def test_course_main_test_passes_right_and_fails_wrong(capsys):
    assert main_test(right, MyNet([2, 3, 2]), verbose=False)
    out = capsys.readouterr().out
    assert "Check gradients" in out and out.count("TEST PASSED") == 5 and "4 / 4: ALL TEST PASSED :)" in out
    assert not main_test(scaled(0.5), MyNet([2, 3, 2]), verbose=False)
    out = capsys.readouterr().out
    assert "TEST FAILED: Gradients NOT consistent with autograd's computations." in out
    assert "2 / 4: SOME TESTS FAILED" in out


def test_main_test_uses_its_finite_difference_step(monkeypatch):
    import tests_backpropagation

    steps = []
    original = tests_backpropagation.finite_difference_gradients
    monkeypatch.setattr(tests_backpropagation, "finite_difference_gradients",
                        lambda model, x, y, eps: steps.append(eps) or original(model, x, y, eps))
    assert main_test(right, MyNet([2, 3, 2]), eps=1e-4, verbose=False)
    assert steps and set(steps) == {1e-4}
