"""Time `grade` on N copies of this project's (right) notebooks.

    .venv/bin/python benchmarks/bench_grading.py [N] [--jobs J]

Budget (issue 23): 40 copies with --jobs 2 in at most 50 s on 2 cores. Each slot (harness.grading.sandbox.slot)
imports torch once (1.8 s to 3.2 s, by the day's machine), then grades a copy in about 1 s; the grader's
own start (torch, the references) is most of the rest. README's timings say what each day measured.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("copies", type=int, nargs="?", default=40)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.copies):
            folder = Path(root) / f"copy{i:03d}"
            folder.mkdir()
            for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
                shutil.copy(PROJECT_ROOT / notebook, folder / notebook)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", root,
                              "--jobs", str(args.jobs)], capture_output=True, text=True, check=True).stdout
        seconds = time.perf_counter() - start
    passed = sum(line.split()[1:3] == ["pass", "pass"] for line in out.splitlines()[1:])
    print(f"{args.copies} submissions, --jobs {args.jobs}: {seconds:.1f} s ({seconds / args.copies:.2f} s each), {passed} pass/pass")


if __name__ == "__main__":
    main()
