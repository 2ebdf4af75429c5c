"""The grader's side: checks of hand-written backpropagation and SGD, and grading of submissions.

    references   what a right gradient is (autograd, finite differences, round-off bounds)
    cases        the nets and data of the gradient battery
    guard        running a submitted backpropagation (autograd off, weights watched)
    gradients    judging gradients: run_gradient_checks
    diagnosis    naming a wrong gradient's cause
    sgd          check_sgd_equivalence against torch.optim.SGD; signature: calling it by name
    course       the course's main_test, toy and MNIST (mnist)
    notebook     taking functions out of notebooks
    source_check autograd and dynamic code in submitted source
    sandbox      bubblewrap sandboxes with cgroup limits; worker: what runs inside one
    grading      grading a folder of submissions; cli: the command line
"""

from harness.course import main_test
from harness.gradients import check_case, run_gradient_checks
from harness.results import CheckResult
from harness.sgd import check_sgd_equivalence

__all__ = ["main_test", "run_gradient_checks", "check_case", "check_sgd_equivalence", "CheckResult"]
