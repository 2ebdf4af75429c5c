"""A Gradescope autograder: the zip Gradescope builds its image from, and the results it reads.

    python tests_backpropagation.py gradescope OUT.zip [--timeout SECONDS]

The zip holds, at its root, `setup.sh` (Gradescope runs it once, building the image: a Python 3.11
environment with the pinned requirements) and `run_autograder` (run for each submission), and the
harness, utils/ and requirements.txt beside them. Gradescope unpacks it into /autograder/source,
copies run_autograder to /autograder/run_autograder, puts the student's files in
/autograder/submission and reads /autograder/results/results.json (`AUTOGRADER_ROOT` moves that root,
for trying the autograder elsewhere).

results.json, in Gradescope's format: `score` (the tests' sum), `execution_time`, `output` (the whole
feedback, Markdown) and `tests`: one per graded part (`name`, `score`, `max_score`, `status`, `output`:
that part's feedback) and the deliverables as a test of 0 points. The submission is graded as `grade`
grades each one (harness.classroom.run.grade_folder): in the sandbox where the container can make its
namespaces; where it cannot, the container Gradescope gives each submission is the isolation, and the
output says so.
"""

import json
import os
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends ca-certificates curl bubblewrap
# Python 3.11 whatever the base image has, and the pinned requirements (torch for the CPU)
curl -LsSf https://astral.sh/uv/install.sh | sh
export PATH="$HOME/.local/bin:$PATH"
uv python install 3.11
uv venv --python 3.11 /autograder/venv
VIRTUAL_ENV=/autograder/venv uv pip install --extra-index-url https://download.pytorch.org/whl/cpu \\
    --index-strategy unsafe-best-match -r /autograder/source/requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission: $AUTOGRADER_ROOT/submission in, $AUTOGRADER_ROOT/results/results.json out.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "$0")" && pwd)"
[ -f "$SOURCE/tests_backpropagation.py" ] || SOURCE="$ROOT/source"
mkdir -p "$ROOT/results"
# The first Python that has torch: one given, the image's (setup.sh), the one this autograder was built
# with (for trying it on the teacher's machine), the system's.
for candidate in "${{PYTHON:-}}" "$ROOT/venv/bin/python" "/autograder/venv/bin/python" "{built_with}" python3; do
  if [ -n "$candidate" ] && "$candidate" -c "import torch" >/dev/null 2>&1; then
    INF265_TIMEOUT="${{INF265_TIMEOUT:-{timeout}}}" exec "$candidate" "$SOURCE/tests_backpropagation.py" autograde "$ROOT"
  fi
done
# No Python with torch: still a result, and why.
cat > "$ROOT/results/results.json" <<'JSON'
{{"score": 0, "output": "The autograder could not start: no Python with torch was found (setup.sh did not run?). Tell your teacher.", "tests": []}}
JSON
"""


def build(out, files, timeout=120.0):
    """Write the autograder zip at out: setup.sh and run_autograder at its root, and files ([(path, path in
    the zip)]: the harness, utils/, requirements.txt) beside them; returns the zip's names."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN.format(built_with=sys.executable, timeout=f"{timeout:g}"))):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, text)
        for source, target in files:
            archive.write(source, target.as_posix())
    return ["setup.sh", "run_autograder"] + [target.as_posix() for _, target in files]


def results(result, seconds, sandbox_reason, points, parts):
    """Gradescope's results.json of one graded submission."""
    from harness.classroom.feedback import deliverable_lines, feedback_markdown, markdown, part_markdown
    from harness.classroom.gradebook import points_of
    from harness.status import Status

    earned = points_of(result, points)
    tests = []
    for part in parts:
        verdict = result.verdicts[part.key]
        tests.append({"name": f"Part {part.key}: {part.function} in {part.notebook}", "score": earned[part.key], "max_score": points[part.key],
                      "status": "passed" if verdict.status is Status.PASS else "failed",
                      "output": part_markdown(result, part, points), "output_format": "md"})
    handed_in = markdown([("li", line) for line in deliverable_lines(result.deliverables)] +
                         [("li", [("text", "Note: "), ("code", note)]) for note in result.all_notes()])
    tests.append({"name": "What was handed in (checked, no points)", "score": 0, "max_score": 0, "status": "passed",
                  "output": handed_in, "output_format": "md"})
    isolation = (f"Graded without the grader's sandbox ({sandbox_reason}): the container Gradescope gives each submission is "
                 "its isolation.\n\n" if sandbox_reason else "")
    return {"score": round(sum(test["score"] for test in tests), 2), "execution_time": round(seconds, 1),
            "output": isolation + feedback_markdown(result, points), "output_format": "md", "tests": tests,
            "visibility": "visible", "stdout_visibility": "hidden"}


def autograde(root, timeout=None):
    """Grade root/submission and write root/results/results.json; returns the score."""
    from harness.classroom.gradebook import default_points
    from harness.classroom.run import grade_folder
    from harness.grading.parts import PARTS

    root = Path(root)
    start = time.perf_counter()
    timeout = float(timeout or os.environ.get("INF265_TIMEOUT") or 120)
    (root / "results").mkdir(parents=True, exist_ok=True)
    submission = root / "submission"
    with tempfile.TemporaryDirectory(prefix="inf265-gradescope-") as stage:
        if submission.is_dir():
            result, reason = grade_folder(submission, timeout, stage)
        else:
            from harness.grading.grade import SubmissionResult
            from harness.grading.parts import verdict

            result = SubmissionResult("submission", {p.key: verdict.missing("nothing was handed in") for p in PARTS})
            reason = None
    found = results(result, time.perf_counter() - start, reason, default_points(), PARTS)
    written = root / "results" / ".results.json.new"
    written.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    os.replace(written, root / "results" / "results.json")
    return found["score"]
