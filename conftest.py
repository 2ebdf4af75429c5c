"""Test-suite set-up: notebooks re-run by nbval write their results to a temporary folder, and train
for a few epochs only."""

import os
import tempfile

# Data roots given relative to the project (as README's example exports them) are made absolute here:
# tests run notebooks and checks from other folders (a student's copy in a temporary folder), where a
# relative path would name nothing.
for _variable in ("CIFAR10_ROOT", "MNIST_ROOT"):
    if os.environ.get(_variable):
        os.environ[_variable] = os.path.abspath(os.environ[_variable])
# Set at import, before nbval starts kernels (they inherit the environment), so that re-running
# gradient_descent.ipynb never overwrites the committed report/results.json and figures.
os.environ.setdefault("INF265_RESULTS_DIR", tempfile.mkdtemp(prefix="inf265-results-"))
# Every cell still runs, and every output nbval compares (dataset sizes, harness verdicts, bitwise
# SGD verdicts) does not depend on the number of epochs; `make run` trains with the full budget.
os.environ.setdefault("INF265_EPOCHS", "3")
# Two pytest workers share two cores: a process that also spins two OpenMP threads (a notebook's
# kernel under nbval, a test's torch) waits on a core the other worker holds, and ran ten times
# slower. Set before torch loads anywhere (the workers and kernels inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")
