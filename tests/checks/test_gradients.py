"""The gradient battery: right backpropagations pass (also the course's one-sample styles), wrong ones
fail with their cause, and what lies beyond the course is a distinction, never a fail."""

import copy

import pytest
import torch

from harness.checks.cases import gradient_cases
from harness.checks.diagnosis import describe_factor
from harness.checks.gradients import check_case, run_gradient_checks
from harness.checks.references import autograd_gradients, finite_difference_gradients
from harness.checks.tolerances import AUTOGRAD_RTOL
from tests.fixtures import backprops as bp
from utils.metrics import relative_error
from utils.mynet import MyNet
from utils.snapshots import ParameterRecorder

WRONG = [
    (bp.mistake(factor=2e-9), "off by a constant factor 1e-09"),
    (bp.mistake(factor=1.0), "factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing"),
    (bp.mistake(factor=-2.0), "sign is flipped"),
    (bp.mistake(factor=6.0), "off by a constant factor 3"),
    (bp.mistake(factor=2.002), "off by a constant factor 1.001"),
    (bp.mistake(transpose="all"), "transposed"),
    (bp.mistake(transpose="square"), "dL_dw is transposed"),
    (bp.mistake(lowest_layer=2), "dL_dw[1] was not set"),
    (bp.mistake(hidden_derivative=False), "f'(z[l]) is missing on a hidden layer"),
    (bp.mistake(at="a"), "evaluated at a[l] = f(z[l]) instead of at z[l]"),
    (bp.after_right(bp.with_nan), "holds NaN or inf"),
    (bp.after_right(bp.biases_never_set), "dL_db[2] was not set"),
    (bp.after_right(bp.as_lists), "dL_dw[1] is a list, not a torch.Tensor"),
    (bp.after_right(bp.edits_weights), "changed fc['1'].weight (restored)"),
    (bp.raises, "raised IndexError: list index out of range"),
    (bp.exits, "raised SystemExit: 3"),
    (bp.calls_backward, "called .backward()"),
    (bp.reruns_forward_with_autograd, "called torch.autograd.grad"),
    (bp.switches_guard_off, "switched off the harness's autograd guard"),
]

# Right on the course's batches of one; wrong only on batches: a distinction, not a fail.
ONE_SAMPLE_ONLY = [
    (bp.mistake(bias_reduce="mean"), "averaged over the batch (mean) instead of summed"),
    (bp.mistake(only_first_sample=True), "only one sample of the batch is used"),
    (bp.mistake(batch_summed=True), "differs from autograd"),
    (bp.one_sample_squeezed, ""),
    (bp.one_sample_columns, ""),
]


def names(cases):
    return [getattr(w, "__name__", str(i)) for i, (w, _) in enumerate(cases)]


@pytest.mark.parametrize("wrong, cause", WRONG, ids=names(WRONG))
def test_wrong_backpropagation_is_rejected_with_its_cause(wrong, cause):
    result = run_gradient_checks(wrong, verbose=False)
    assert not result.passed and result.n_passed < result.n_total
    assert any(cause in str(f) for f in result.failures), [str(f) for f in result.failures[:3]]
    assert result.groups()[0].count >= 1


@pytest.mark.parametrize("one_sample, batch_cause", ONE_SAMPLE_ONLY, ids=names(ONE_SAMPLE_ONLY))
def test_one_sample_code_passes_with_the_batch_distinction_no(one_sample, batch_cause):
    result = run_gradient_checks(one_sample, verbose=False)
    assert result.passed, [str(f) for f in result.failures[:3]]
    vectorised, detail = result.distinctions["vectorised over a batch"]
    assert not vectorised and batch_cause in detail


@pytest.mark.parametrize("right", [bp.right, bp.per_sample_loop], ids=["matrix form", "per-sample loop"])
def test_right_backpropagation_earns_every_distinction(right):
    result = run_gradient_checks(right, verbose=False)
    assert result.passed and result.n_passed == result.n_total == 52
    assert all(yes for yes, _ in result.distinctions.values()), result.distinctions
    assert result.worst_error < 1e-12


def test_float32_and_2d_bias_pass_as_the_course_allows_and_are_noted():
    def float32_and_2d(model, y_true, y_pred):
        bp.right(model, y_true, y_pred)
        for l in model.dL_db:
            model.dL_dw[l], model.dL_db[l] = model.dL_dw[l].float(), model.dL_db[l][None, :]
    result = run_gradient_checks(float32_and_2d, verbose=False)
    assert result.passed
    exact, detail = result.distinctions["shapes and dtype exactly the parameters'"]
    assert not exact and "torch.float32" in detail and "shape (1," in detail


def test_a_function_that_raises_earns_no_distinction_it_never_showed():
    def raises(model, y_true, y_pred):
        raise RuntimeError("not written yet")
    result = run_gradient_checks(raises, verbose=False)
    assert not result.passed and "shapes and dtype exactly the parameters'" not in result.distinctions
    assert not any(yes for yes, _ in result.distinctions.values())


@pytest.mark.parametrize("seed", [1, 2, 7, 13, 19])  # 52 more nets each; seed 0 runs in every other test
def test_right_backpropagation_is_accepted_on_every_seed(seed):
    result = run_gradient_checks(bp.right, seed=seed, verbose=False)
    assert result.passed and all(yes for yes, _ in result.distinctions.values()), [str(f) for f in result.failures[:3]]


@pytest.mark.parametrize("widths", [[576, 16, 10], [20, 10, 5], [100, 30, 30, 10], [784, 64, 10]])
def test_course_size_nets_with_saturated_units_are_accepted(widths):
    """The course's toy inputs reach 9, so tanh saturates; a right gradient then loses digits."""
    from harness.checks.cases import GradientCase, course_toy_data

    x, y = course_toy_data(widths[0], widths[-1], generator=torch.Generator().manual_seed(1))
    for seed in range(6):
        for i in (0, 6, 9):
            case = GradientCase("toy", widths, "tanh", x[i:i + 1], y[i:i + 1], seed, True)
            result = check_case(bp.right, case)
            assert result.passed, [str(f) for f in result.failures]
            assert not check_case(bp.mistake(factor=2.002), case).passed or relative_error(case.y_true, case.y_true) == 0


def test_verbose_prints_summary_and_distinctions_quiet_prints_nothing(capsys):
    run_gradient_checks(bp.right, n_random=5, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "7 / 7: ALL TEST PASSED :)" and "vectorised over a batch: yes" in lines[1]
    run_gradient_checks(bp.right, n_random=5, verbose=False)
    assert capsys.readouterr().out == ""


def test_every_distinct_failure_is_listed_most_frequent_first():
    def two_mistakes(model, y_true, y_pred):
        bp.right(model, y_true, y_pred)
        if model.L == 1:
            model.dL_db[1] = None
        else:
            model.dL_dw[1] = 3 * model.dL_dw[1]
    groups = run_gradient_checks(two_mistakes, verbose=False).groups()
    assert len(groups) == 2 and groups[0].count >= groups[1].count
    assert {"was not set" in g.cause for g in groups} == {True, False}


def test_weights_are_restored_after_an_edit():
    case = gradient_cases(n_random=0)[0]
    result = check_case(bp.after_right(bp.edits_weights), case)
    assert not result.passed
    model = case.build()
    again = check_case(bp.right, case)
    assert again.passed and all(torch.equal(a, b) for a, b in zip(model.parameters(), case.build().parameters()))


def test_autograd_is_usable_again_after_the_battery():
    run_gradient_checks(bp.calls_backward, n_random=2, verbose=False)
    run_gradient_checks(bp.switches_guard_off, n_random=2, verbose=False)
    x = torch.ones(3, requires_grad=True)
    (x * x).sum().backward()
    assert torch.equal(x.grad, 2 * torch.ones(3)) and torch.autograd.grad is bp.ORIGINAL_GRAD


def test_cases_cover_depths_activations_batches_and_square_layers():
    cases = gradient_cases(n_random=50)
    graded = [c for c in cases if c.graded]
    assert len(graded) == len(cases) // 2 and all(c.batch == 1 for c in graded)
    random = cases[4:]
    assert {len(c.n_l) - 1 for c in random} == {1, 2, 3, 4, 5}
    assert {c.activation for c in random} == {"tanh", "sigmoid", "relu", "leaky_relu", "identity"}
    assert {c.batch for c in random if not c.graded} >= {2, 64}
    assert sum(len(set(c.n_l)) == 1 and len(c.n_l) > 2 for c in random) >= 10


def test_a_case_builds_the_same_weights_whatever_the_default_dtype():
    """The grader, the worker and a student's check may run under different default dtypes."""
    case = gradient_cases(n_random=1)[0]
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float32)
        in_float32 = case.build()
        torch.set_default_dtype(torch.float64)
        in_float64 = case.build()
    finally:
        torch.set_default_dtype(previous)
    assert all(torch.equal(a, b) for a, b in zip(in_float32.parameters(), in_float64.parameters()))


def test_finite_differences_agree_with_autograd_and_restore_parameters():
    torch.manual_seed(0)
    model = MyNet([3, 4, 2], activation="sigmoid").double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    before = [p.detach().clone() for p in model.parameters()]
    estimate, exact = finite_difference_gradients(model, x, y), autograd_gradients(model, x, y)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    for key in exact.keys():
        assert relative_error(estimate[key], exact[key]) < 1e-8


def test_relative_error():
    a = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert relative_error(a, a) == 0.0 and relative_error(a, -a) == 1.0
    assert relative_error(torch.zeros(2), torch.zeros(2)) == 0.0
    assert relative_error(a, torch.zeros(2, dtype=torch.float64)) == 1.0
    assert abs(relative_error(a, 1.5 * a) - 1 / 5) < 1e-15


def test_tolerance_sits_far_below_the_smallest_mistake():
    assert 1e-14 < AUTOGRAD_RTOL <= 1e-9


def test_factors_are_printed_with_the_digits_that_matter():
    assert describe_factor(1.001) == "1.001" and describe_factor(0.9999) == "0.9999"
    assert describe_factor(1e-9) == "1e-09" and describe_factor(3.0) == "3"


def test_parameter_recorder_survives_deepcopy_and_passes_attributes_through():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    recorder = ParameterRecorder(loader, torch.nn.Linear(2, 1))
    clone = copy.deepcopy(recorder)
    assert len(clone) == 2 and clone.batch_size == 2 and clone.snapshots == []
