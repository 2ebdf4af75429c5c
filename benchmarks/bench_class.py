"""Time a whole class through `grade` with the lecturer's view: N submissions in Canvas's layout (the
independent solutions of tests/fixtures/independent.py and disguised copies of them, cycled, each
with its own renamed variables so that they differ), graded with --similarity, --overview and --record.

    .venv/bin/python benchmarks/bench_class.py [N] [--jobs J]

Budget (issue 31): a class of 200 within a few minutes on 2 cores. Prints each step's time as grade
says it (grading, similarity, overview) and the whole run's.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.fixtures import independent  # noqa: E402
from tests.fixtures.submissions import cells  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("submissions", type=int, nargs="?", default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    solutions = list(independent.solutions().values())
    with tempfile.TemporaryDirectory() as root:
        download = Path(root) / "download"
        download.mkdir()
        for i in range(args.submissions):
            files = independent.disguised(solutions[i % len(solutions)], ("renamed", "reordered", "recommented", "all")[i % 4])
            for k, (notebook, sources) in enumerate(files.items()):
                sources = [re.sub(r"\bL\b", f"L{i}", source) for source in sources]
                (download / f"student{i:04d}_{1000 + i}_{50000 + 10 * i + k}_{notebook}").write_text(cells(*sources))
        start = time.perf_counter()
        run = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(download),
                              "--jobs", str(args.jobs), "--csv", f"{root}/out/gradebook.csv", "--similarity", f"{root}/out/similarity.html",
                              "--overview", f"{root}/out/overview.html", "--record", f"{root}/out/run.json"],
                             capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    steps = [line for line in run.stderr.splitlines() if line.startswith(("Graded", "Similarity", "Overview"))]
    print(f"{args.submissions} submissions, --jobs {args.jobs}: {seconds:.0f} s in all")
    for line in steps:
        print("  " + line)


if __name__ == "__main__":
    main()
