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

import importlib

# Imported when first used (PEP 562), so that `harness.checks.notebook` alone loads no torch: the
# grader reads submitted notebooks in a child process that must start fast.
_WHERE = {"main_test": "course", "run_gradient_checks": "gradients", "check_case": "gradients",
          "check_sgd_equivalence": "sgd", "CheckResult": "results"}
__all__ = list(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'harness.checks' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.checks.{_WHERE[name]}"), name)
