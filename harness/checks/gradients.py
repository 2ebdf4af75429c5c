"""The gradient battery: a submitted backpropagation against autograd and finite differences.

Contract (the course's): backpropagation(model, y_true, y_pred) fills model.dL_dw[l] and
model.dL_db[l] for l = 1..L with the gradients of L = sum (y_pred - y_true)^2, on one sample
(shapes (1, n)). A gradient passes when every entry is within round-off of autograd's (see
harness.tolerances) and, where finite differences apply, within their error bound. Batches, exact
shapes and float64 are distinctions, reported but never failed.

Judging (judge_case) never calls submitted code: it takes the raw outcome that harness.guard
collected, here in-process, in grading inside the sandbox.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import torch

from harness.checks.cases import gradient_cases
from harness.checks.diagnosis import TRANSPOSED, likely_cause
from harness.checks.grader_globals import grader_failure
from harness.checks.guard import run_backpropagation
from harness.checks.precision import float64_default
from harness.checks.references import (
    STORES, Gradients, autograd_gradients, finite_difference_bound, finite_difference_gradients, parameter_items,
    loss_roundoff_scale, roundoff_bound,
)
from harness.checks.results import CheckResult, Failure
from harness.checks.tolerances import (
    AUTOGRAD_RTOL, FINITE_DIFFERENCE_MAX_ENTRIES, FINITE_DIFFERENCE_STEP, KINK_MARGIN, LOW_PRECISION_RTOL,
    ROUNDOFF_SAFETY, TRUNCATION_SAFETY,
)
from utils.metrics import relative_error
from utils.mynet import MyNet


FINITE_DIFFERENCE_CAUSE = "the gradient differs from finite differences more than a right gradient can"


@dataclass
class Reference:
    """Everything a judge needs about one case, computed from the harness's own net."""
    model: torch.nn.Module   # the harness's net with the case's weights, forward done on case.x
    y_pred: torch.Tensor
    autograd: object         # Gradients
    bound: object            # Gradients of round-off bounds
    finite_differences: object = None  # Gradients (NaN where not estimated) or None
    truncation: object = None          # Gradients: per-entry truncation estimates, |FD(2h) - FD(h)| / 3
    loss_scale: float = 0.0  # references.loss_roundoff_scale


@dataclass
class CaseResult:
    case: object
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    error: float = 0.0        # worst normwise relative error against autograd
    fd_error: float = None    # worst against finite differences, None when not run
    fd_skipped: str = ""      # why finite differences did not run

    @property
    def passed(self):
        return not self.failures


def reference_for(case, eps=FINITE_DIFFERENCE_STEP):
    """The harness's view of case: autograd, round-off bounds and (on one sample) finite differences."""
    model = case.build(MyNet)
    return reference_for_model(model, case.x, case.y_true, eps, case.graded, seed=case.seed)


def reference_for_model(model, x, y_true, eps=FINITE_DIFFERENCE_STEP, finite_differences=True, seed=0):
    autograd = autograd_gradients(model, x, y_true)
    with torch.no_grad():
        y_pred = model(x)
    reference = Reference(model, y_pred, autograd, roundoff_bound(model, y_true, y_pred),
                          loss_scale=loss_roundoff_scale(y_pred, y_true))
    if finite_differences and finite_differences_apply(model):
        entries = sampled_entries(model, seed)
        reference.finite_differences = finite_difference_gradients(model, x, y_true, eps, entries)
        coarse = finite_difference_gradients(model, x, y_true, 2 * eps, entries)
        reference.truncation = Gradients()
        for key in coarse.keys():
            reference.truncation[key] = (coarse[key] - reference.finite_differences[key]).abs() / 3
    return reference


@lru_cache(maxsize=4)
def cached_references(n_random, seed):
    """(cases, references) of the standard battery; the same for every submission, so made once."""
    cases = gradient_cases(n_random, seed)
    return cases, [reference_for(case) for case in cases]


def finite_differences_apply(model):
    """Not with a kinked activation and a pre-activation within reach of the step."""
    kinked = any(getattr(model, "activation", "tanh") == name for name in ("relu", "leaky_relu"))
    return not kinked or all(model.z[l].abs().min() > KINK_MARGIN for l in range(1, model.L + 1))


def sampled_entries(model, seed):
    """All entries of a small net; on a larger one a seeded sample, spread over every parameter."""
    items = list(parameter_items(model))
    total = sum(p.numel() for _, _, p in items)
    if total <= FINITE_DIFFERENCE_MAX_ENTRIES:
        return None
    generator = torch.Generator().manual_seed(seed)
    share = max(2, FINITE_DIFFERENCE_MAX_ENTRIES // len(items))
    return {(l, kind): torch.randperm(p.numel(), generator=generator)[:share].tolist() for l, kind, p in items}


def _shape_pattern(shape, symbols):
    names = iter(symbols)
    return "(" + ", ".join("1" if n == 1 else next(names) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def contract_problem(got, param, where):
    """(failure cause, or (cause, what was seen), or None; note or None; got as a float64 tensor shaped like
    param or None)."""
    if got is None:
        return f"{where} was not set: backpropagation must fill model.dL_dw[l] and model.dL_db[l] for every layer l = 1..L", None, None
    if isinstance(got, str):
        return f"{where} is a {got}, not a torch.Tensor", None, None
    note = None
    if got.shape != param.shape:
        if got.numel() == param.numel() and [n for n in got.shape if n != 1] == [n for n in param.shape if n != 1]:
            symbols = ["n_l", "n_{l-1}"] if param.dim() == 2 else ["n_l"]
            generic = where.split("[")[0] + "[l]"
            note = (f"{generic} has shape {_shape_pattern(got.shape, symbols)}, the parameter "
                    f"{_shape_pattern(param.shape, symbols)} (accepted, as the course does)")
            got = got.reshape(param.shape)
        else:
            # the cause is the same on every case and layer (the failures group under it: one mistake, named
            # once); the shapes of this case are its detail
            seen = f"{where} has shape {tuple(got.shape)}, expected {tuple(param.shape)} like the parameter"
            generic = where.split("[")[0] + "[l]"
            if got.dim() == 2 and got.shape == param.shape[::-1]:
                cause = f"likely cause: {TRANSPOSED}"  # as on a square layer, where only the values tell
            elif got.numel() == param.numel():
                cause = f"{generic} has the parameter's entries in another shape: reshape it (a bias gradient is 1-D, (n_l,))"
            elif param.dim() == 1 or got.dim() > param.dim():
                cause = f"{generic} keeps a batch dimension: the loss sums over the batch, so a gradient has the parameter's shape"
            else:
                cause = f"{generic} does not have the parameter's shape"
            return (cause, seen), None, None
    if not (got.is_floating_point() or got.is_complex()):
        return f"{where} has dtype {got.dtype}: a gradient is a floating-point tensor", None, None
    if got.dtype != param.dtype:
        note = (note + "; " if note else "") + f"{where.split('[')[0]}[l] has dtype {got.dtype}, the parameter {param.dtype}"
    got = got.to(torch.float64) if not got.is_complex() else got.real.to(torch.float64)
    if not torch.isfinite(got).all():
        return f"{where} holds NaN or inf: check divisions and the derivative functions", None, None
    return None, note, got


def within_roundoff(got, expected, bound, low_precision=False):
    """Every entry within RTOL * scale + ROUNDOFF_SAFETY * bound of autograd (see tolerances)."""
    scale = (got.abs().max() + expected.abs().max()).item() if got.numel() else 0.0
    rtol = LOW_PRECISION_RTOL if low_precision else AUTOGRAD_RTOL
    return bool(((got - expected).abs() <= rtol * scale + ROUNDOFF_SAFETY * bound).all())


def judge_case(case, reference, outcome):
    """CaseResult of one raw outcome (harness.guard.RawOutcome) against the case's reference."""
    result = CaseResult(case)
    if outcome.error is not None:
        kind, message = outcome.error
        cause = {"autograd": "autograd is not allowed here: compute the gradients from model.z, model.a and the weights",
                 "edited": "backpropagation must only read the weights"}.get(kind, "")
        result.failures.append(Failure(case.name, cause or message, message if cause else "", raised=kind == "raised"))
        result.error = float("inf")
        return result
    model = reference.model
    submitted, errors, wrong = {}, {}, []
    for l, kind, param in parameter_items(model):
        where = f"{STORES[kind]}[{l}]"
        raw = outcome.gradients.get((l, kind))
        problem, note, got = contract_problem(raw, param, where)
        if problem:
            cause, seen = problem if isinstance(problem, tuple) else (problem, "")
            result.failures.append(Failure(case.name, cause, seen))
            result.error = float("inf")
            continue
        if note:
            result.notes.append(note)
        submitted[l, kind] = got
        expected = reference.autograd[l, kind]
        errors[l, kind] = relative_error(got, expected)
        low_precision = raw.dtype not in (torch.float64, torch.complex128)
        if not within_roundoff(got, expected, reference.bound[l, kind], low_precision):
            wrong.append((l, kind))
    result.error = max([result.error] + list(errors.values()))
    if wrong:  # report where the mistake enters: the highest wrong layer (the bias first, it has no a[l-1])
        l, kind = max(wrong, key=lambda key: (key[0], key[1] == "bias"))
        cause = likely_cause(model, case, l, kind, submitted[l, kind], reference.autograd[l, kind], wrong, reference.y_pred)
        more = f" ({len(wrong) - 1} more wrong below)" if len(wrong) > 1 else ""
        result.failures.append(Failure(case.name, f"likely cause: {cause}",
                                       f"{STORES[kind]}[{l}] differs from autograd, relative error {errors[l, kind]:.2e}{more}"))
    if result.failures:
        return result
    if reference.finite_differences is None:
        result.fd_skipped = "a kinked activation near 0" if case.graded else "not run on batches"
        return result
    result.fd_error = 0.0
    for (l, kind), got in submitted.items():
        estimate = reference.finite_differences[l, kind]
        known = ~torch.isnan(estimate)
        if not known.any():
            continue
        got_known, estimate_known = got[known], estimate[known]
        differences = (got_known - estimate_known).abs()
        allowed = finite_difference_bound(got_known, estimate_known, reference.loss_scale) + TRUNCATION_SAFETY * reference.truncation[l, kind][known]
        result.fd_error = max(result.fd_error, relative_error(got_known, estimate_known))
        if (differences > allowed).any():
            worst = int((differences - allowed).argmax())
            difference, bound = differences[worst].item(), allowed[worst].item()
            result.failures.append(Failure(case.name, FINITE_DIFFERENCE_CAUSE,
                                           f"{STORES[kind]}[{l}] differs from finite differences by {difference:.2e} (allowed {bound:.2e})"))
    return result


def check_case(backpropagation, case, net_class=MyNet, reference=None):
    """Run backpropagation on one case (in this process) and judge it."""
    reference = reference_for(case) if reference is None else reference
    model = case.build(net_class)
    outcome = run_backpropagation(backpropagation, model, case.x, case.y_true)
    return judge_case(case, reference, outcome)


def summarize(case_results):
    """The CheckResult of a battery's CaseResults: graded cases decide; batch cases give a distinction."""
    graded = [r for r in case_results if r.case.graded]
    batches = [r for r in case_results if not r.case.graded]
    failures = [f for r in graded for f in r.failures]
    right = [r for r in graded if r.passed]  # a distinction is said only of results that exist
    notes = sorted({part for r in right for note in r.notes for part in note.split("; ")})
    result = CheckResult(not failures, sum(r.passed for r in graded), len(graded), failures, cases=case_results)
    # over every case, batch cases included; inf only when a graded gradient was unusable
    finite = [r.error for r in case_results if r.error != float("inf")]
    unusable = any(r.error == float("inf") for r in graded)
    result.worst_error = float("inf") if unusable else max(finite, default=0.0)
    result.worst_finite_difference_error = max((r.fd_error for r in graded if r.fd_error is not None), default=0.0)
    if batches:
        wrong = [r for r in batches if not r.passed]
        detail = f"{len(batches) - len(wrong)} / {len(batches)} batch cases right"
        if wrong:
            detail += f"; first: {wrong[0].failures[0]}"
        result.distinctions["vectorised over a batch"] = (not wrong, detail)
    if right:
        result.distinctions["shapes and dtype exactly the parameters'"] = (not notes, "; ".join(notes))
    skipped = [r for r in graded if r.passed and r.fd_error is None]
    if skipped:
        result.notes.append(f"finite differences skipped on {len(skipped)} case(s) ({skipped[0].fd_skipped})")
    return result


def run_gradient_checks(backpropagation, net_class=MyNet, n_random=50, seed=0, verbose=True):
    """Check backpropagation(model, y_true, y_pred) on the course nets and n_random random nets.

    Every net runs on one sample (graded) and on a batch (the "vectorised over a batch"
    distinction). Returns a CheckResult; with verbose, prints its summary, every distinct failure,
    the distinctions and notes.
    """
    with float64_default():  # a submission that changed it must not change the cases
        cases, references = cached_references(n_random, seed)
        results = [check_case(backpropagation, case, net_class, reference) for case, reference in zip(cases, references)]
    result = summarize(results)
    lacking = grader_failure(backpropagation, "backpropagation")
    if lacking is not None:  # what the grader will say: the same verdict here as there
        result.passed = False
        result.failures.insert(0, lacking)
    if verbose:
        result.print()
    return result
