"""Where the notebooks write what the report reads: report/results.json and report/figures/*.png.

INF265_RESULTS_DIR overrides the folder; the test suite sets it to a temporary folder so that
re-running the notebooks under nbval never overwrites the committed results.
"""

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def results_dir():
    """The folder holding results.json and figures/ (created if missing)."""
    folder = Path(os.environ.get("INF265_RESULTS_DIR") or PROJECT_ROOT / "report")
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    return folder


def figure_path(name):
    """report/figures/<name>.png (or under INF265_RESULTS_DIR)."""
    return results_dir() / "figures" / f"{name}.png"


def update_results(**entries):
    """Merge entries into results.json (each notebook owns its own keys) and return the whole dict."""
    path = results_dir() / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.update(entries)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results
