"""Build report/report.pdf from report/report.typ, report/results.json and report/figures/.

    .venv/bin/python report/build.py [FOLDER]     (or: make report [EDITION=2023])

Offline (the typst package carries its compiler and fonts) and byte-reproducible: no system fonts,
no creation date. Every number in the PDF is read from results.json by the typst source.
"""

import json
import shutil
import sys
import time
from pathlib import Path

import typst

REPORT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(REPORT_DIR.parent))  # utils/, when run as `python report/build.py`
from utils.analysis import findings  # noqa: E402
# what the report reads -> the notebook that writes it
REQUIRED_KEYS = {"backpropagation": "backpropagation.ipynb", "search": "gradient_descent.ipynb",
                 "selected": "gradient_descent.ipynb", "test_accuracy": "gradient_descent.ipynb",
                 "findings": "gradient_descent.ipynb", "figures": "gradient_descent.ipynb"}
REQUIRED_FIGURES = {
    "examples": "gradient_descent.ipynb", "train_validation": "gradient_descent.ipynb",
    "search_comparison": "gradient_descent.ipynb", "momentum_curves": "gradient_descent.ipynb",
    "confusion_matrix": "gradient_descent.ipynb", "misclassified": "gradient_descent.ipynb",
}


def missing_inputs(report_dir=REPORT_DIR):
    """Sentences naming each missing input and the notebook that writes it (empty when all are there)."""
    problems = []
    results_file = report_dir / "results.json"
    if not results_file.is_file():
        return [f"{results_file} is missing: run backpropagation.ipynb and gradient_descent.ipynb (make run)."]
    try:
        results = json.loads(results_file.read_text())
    except json.JSONDecodeError as error:
        return [f"{results_file} is not valid JSON ({error}): run backpropagation.ipynb and gradient_descent.ipynb again."]
    for key, notebook in REQUIRED_KEYS.items():
        if key not in results:
            problems.append(f"results.json has no '{key}': run {notebook}.")
    if not problems and not _findings_hold(results):
        problems.append("results.json's findings are not those of its own numbers: run gradient_descent.ipynb again "
                        "(its numbers were changed by hand, or written before utils/analysis.py changed).")
    elif not problems and results["findings"]["selection"]["index"] != results["selected"]["index"]:
        problems.append("results.json's selected configuration is not the one with the best score: run "
                        "gradient_descent.ipynb again.")
    for name, notebook in REQUIRED_FIGURES.items():
        if not (report_dir / "figures" / f"{name}.png").is_file():
            problems.append(f"figures/{name}.png is missing: run {notebook}.")
    return problems


def _findings_hold(results):
    """Whether the findings results.json carries are the ones its numbers give (the report states them)."""
    try:
        return json.loads(json.dumps(findings(results))) == results["findings"]
    except (KeyError, TypeError, ValueError, IndexError):
        return False


def build(report_dir=REPORT_DIR, output=None):
    """Compile report.typ to PDF; raise SystemExit with the missing inputs if any."""
    problems = missing_inputs(report_dir)
    if problems:
        raise SystemExit("Cannot build the report:\n- " + "\n- ".join(problems))
    output = Path(output or report_dir / "report.pdf")
    typst.compile(str(report_dir / "report.typ"), output=str(output), root=str(report_dir),
                  ignore_system_fonts=True, timestamp=0)
    return output


def build_edition(folder):
    """Build another edition's report in folder (its results.json and figures/ written by the notebooks)."""
    folder = Path(folder).resolve()
    for name in ("report.typ", "claims.typ", "references.yml"):
        shutil.copy(REPORT_DIR / name, folder / name)
    return build(report_dir=folder)


if __name__ == "__main__":
    start = time.perf_counter()
    path = build_edition(sys.argv[1]) if len(sys.argv) > 1 else build()
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    sys.exit(0)
