"""Test-suite set-up: notebooks re-run by nbval write their results to a temporary folder, and train
for a few epochs only."""

import os
import tempfile

# Set at import, before nbval starts kernels (they inherit the environment), so that re-running
# gradient_descent.ipynb never overwrites the committed report/results.json and figures.
os.environ.setdefault("INF265_RESULTS_DIR", tempfile.mkdtemp(prefix="inf265-results-"))
# Every cell still runs, and every output nbval compares (dataset sizes, harness verdicts, bitwise
# SGD verdicts) does not depend on the number of epochs; `make run` trains with the full budget.
os.environ.setdefault("INF265_EPOCHS", "3")
