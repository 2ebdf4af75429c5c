"""Test-suite set-up: notebooks re-run by nbval write their results to a temporary folder."""

import os
import tempfile

# Set at import, before nbval starts kernels (they inherit the environment), so that re-running
# gradient_descent.ipynb never overwrites the committed report/results.json and figures.
os.environ.setdefault("INF265_RESULTS_DIR", tempfile.mkdtemp(prefix="inf265-results-"))
