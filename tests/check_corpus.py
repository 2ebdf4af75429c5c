"""The student's check on the fixture corpus, on whatever machine runs it (the CI's Windows and macOS
jobs): every right, wrong and benign submission checked as a student checks a folder, each status
compared with what the grader gives it. Exit 0 when every one is as expected.

    python -m tests.check_corpus [--timeout SECONDS]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.fixtures import submissions as S  # noqa: E402
from tests.fixtures.benign import BENIGN  # noqa: E402


def corpus():
    """[(name, files, expected backpropagation status, expected sgd status)]: the grader's own expectations."""
    return S.BASE + S.REAL_STYLE + BENIGN


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    wrong = []
    with tempfile.TemporaryDirectory() as root:
        def check(entry):
            name, files, bp, sgd = entry
            folder = S.write(Path(root), name, files)
            out = Path(root) / f"{name}.json"
            subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "check", str(folder), "--timeout",
                            str(args.timeout), "--json", str(out)], capture_output=True, timeout=600)
            got = json.loads(out.read_text())[0] if out.exists() else None
            statuses = (got["backpropagation"]["status"], got["sgd"]["status"]) if got else ("no result", "no result")
            fits = all(status in want if isinstance(want, set) else status == want for status, want in zip(statuses, (bp, sgd)))
            return name, statuses, (bp, sgd), fits

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for name, statuses, want, fits in pool.map(check, corpus()):
                print(f"{'ok  ' if fits else 'WRONG'} {name}: {statuses[0]} / {statuses[1]}" + ("" if fits else f" (the grader: {want})"))
                if not fits:
                    wrong.append(name)
    print(f"{len(corpus()) - len(wrong)} passed, {len(wrong)} failed")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
