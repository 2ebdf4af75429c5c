"""The course's file name, as a thin entry to the harness in harness/.

In a notebook (as the course's notebooks use it):

    from tests_backpropagation import main_test, run_gradient_checks, check_sgd_equivalence
    main_test(backpropagation, MyNet([2, 3, 2]), verbose=False, data="toy")
    main_test(backpropagation, MyNet([24 * 24, 16, 10]), verbose=False, data="mnist")

From a shell (harness/cli.py):

    python tests_backpropagation.py                    # check this folder's notebooks
    python tests_backpropagation.py grade DIR ...      # grade a folder of submissions (the teacher's)
    python tests_backpropagation.py release OUT ...    # write the student version (the teacher's)
"""

import sys

from harness.checks import check_sgd_equivalence, main_test, run_gradient_checks
from harness.checks.references import autograd_gradients, finite_difference_gradients
from utils.mynet import MyNet

__all__ = ["main_test", "run_gradient_checks", "check_sgd_equivalence", "MyNet",
           "autograd_gradients", "finite_difference_gradients", "grade"]


def grade(argv):
    """`python tests_backpropagation.py grade ...` from Python (harness/cli.py)."""
    from harness.cli import main

    return main(["grade", *argv])


if __name__ == "__main__":
    from harness.cli import main

    sys.exit(main(sys.argv[1:]))
