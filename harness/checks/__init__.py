"""In-process checks, as students run them in their notebooks (and as the grader judges).

    references   what a right gradient is: autograd, finite differences, round-off bounds
    cases        the nets and data of the gradient battery
    guard        running a backpropagation with autograd unusable and the weights watched
    gradients    judging gradients: run_gradient_checks;  diagnosis: naming a wrong gradient's cause
    sgd          check_sgd_equivalence against torch.optim.SGD;  signature: calling it by name
    course, mnist   the course's main_test, toy and MNIST
    notebook     taking functions out of notebooks without running their expensive parts
    results      CheckResult, Failure;  tolerances: every threshold with its reason

Everything here judges with autograd and finite differences only: no hand-written backward pass
of MyNet and no hand-written SGD update lives in this package (the release checks it).
"""

__all__ = ["main_test", "run_gradient_checks", "check_case", "check_sgd_equivalence", "CheckResult"]


def __getattr__(name):
    """Each function imported when first used (PEP 562), so that `harness.checks.notebook` alone loads
    no torch: the grader reads submitted notebooks in a child process that must start fast. Written
    out name by name: the source check reads a shipped copy of this file as plain imports."""
    if name == "main_test":
        from harness.checks.course import main_test
        return main_test
    if name in ("run_gradient_checks", "check_case"):
        from harness.checks.gradients import check_case, run_gradient_checks
        return run_gradient_checks if name == "run_gradient_checks" else check_case
    if name == "check_sgd_equivalence":
        from harness.checks.sgd import check_sgd_equivalence
        return check_sgd_equivalence
    if name == "CheckResult":
        from harness.checks.results import CheckResult
        return CheckResult
    raise AttributeError(f"module 'harness.checks' has no attribute {name!r}")
