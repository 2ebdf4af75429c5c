"""Peak memory of the grading process on a class whose submissions hold as much as they can.

    .venv/bin/python benchmarks/bench_memory.py [--jobs J]

The class (each beside a right copy of this project's notebooks): five 1 MiB .py files never
imported; a 70 KB cell of method chains; a 60 MiB notebook; 120 MiB of code files (the pack limit is
128 MiB); a 2 GiB sparse file; a payload at the protocol's limit. This process is the grader
(harness.cli.main, in-process), so its own peak resident memory (ru_maxrss) is the grader's. The
same is measured on a class of right copies only, for the baseline. README's threat model states
the bound: the baseline plus, per job, twice the pack limit (the tar and its copy) and the frames
one submission may send (harness.grading.sandbox.protocol.max_frames_bytes).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from harness.cli import main
main(["grade", sys.argv[2], "--jobs", sys.argv[3], "--timeout", "60", "--json", sys.argv[4]])
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def right_copy(folder):
    folder.mkdir(parents=True)
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        shutil.copy(PROJECT_ROOT / notebook, folder / notebook)
    return folder


def heavy_class(root):
    for i in range(5):
        right_copy(root / f"unused_modules{i}")
        for k in range(5):
            (root / f"unused_modules{i}" / f"helper{k}.py").write_text("x = [" + "1, " * 350_000 + "]\n")
    chains = "".join(f"x{i} = torch.zeros(1)" + ".abs()" * 400 + "\n" for i in range(30))
    notebook = json.loads((PROJECT_ROOT / "backpropagation.ipynb").read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                              "source": "import torch\n" + chains})
    (right_copy(root / "cell_of_70_kb") / "backpropagation.ipynb").write_text(json.dumps(notebook))
    big = dict(notebook, cells=notebook["cells"] + [{"cell_type": "markdown", "metadata": {}, "source": "x" * (60 << 20)}])
    (right_copy(root / "notebook_of_60_mib") / "backpropagation.ipynb").write_text(json.dumps(big))
    at_limit = right_copy(root / "files_at_the_pack_limit")
    for k in range(6):
        (at_limit / f"code{k}.py").write_bytes(b"#" * (19 << 20) + b"\n")
    with open(right_copy(root / "sparse_2_gib") / "weights.py", "wb") as file:
        file.truncate(2 << 30)


def peak(root, jobs):
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([sys.executable, "-c", CHILD, str(PROJECT_ROOT), str(root), str(jobs), f"{out}/v.json"],
                                capture_output=True, text=True, check=True)
        verdicts = json.loads(Path(out, "v.json").read_text())
    statuses = sorted({(v["backpropagation"]["status"], v["sgd"]["status"]) for v in verdicts})
    return int(result.stdout.strip().splitlines()[-1]), len(verdicts), statuses


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as heavy:
        for i in range(9):
            right_copy(Path(base) / f"copy{i}")
        heavy_class(Path(heavy))
        for name, root in (("right copies", base), ("heavy submissions", heavy)):
            rss, n, statuses = peak(Path(root), args.jobs)
            print(f"{name}: {n} graded, --jobs {args.jobs}: grader's peak {rss / 2**20:.0f} MiB; statuses {statuses}")


if __name__ == "__main__":
    main()
