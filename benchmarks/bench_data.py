"""Time load_cifar2 cold (cache removed) and warm, each in a new process.

    CIFAR10_ROOT=../shared/datasets/cifar10 .venv/bin/python benchmarks/bench_data.py

Budgets (issue: foundation): cold < 30 s, warm < 1 s on 2 cores.
"""

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMED_CALL = "import time, utils.data as d; t = time.perf_counter(); d.load_cifar2(); print(time.perf_counter() - t)"


def timed_load():
    return float(subprocess.check_output([sys.executable, "-c", TIMED_CALL], cwd=PROJECT_ROOT, text=True))


if __name__ == "__main__":
    shutil.rmtree(PROJECT_ROOT / "data" / "cache", ignore_errors=True)
    cold = timed_load()
    warm = min(timed_load() for _ in range(3))
    print(f"load_cifar2 cold: {cold:.2f} s (budget 30 s)")
    print(f"load_cifar2 warm: {warm:.2f} s (budget 1 s)")
