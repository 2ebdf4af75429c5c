"""The GitHub Actions workflows lint clean (actionlint), and CI runs what the README says: its test
command on Linux, and the student's side (install, check on the fixture corpus) on Windows and macOS."""

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT = Path(sys.executable).parent / "actionlint"


@pytest.mark.parametrize("workflow", [".github/workflows/ci.yml", "handout/classroom.yml"])
def test_the_workflow_lints_clean(workflow):
    lint = subprocess.run([str(ACTIONLINT), str(PROJECT_ROOT / workflow)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_ci_runs_the_readme_test_command_and_the_students_check_on_windows_and_macos():
    text = (PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: make test" in text and "make test" in (PROJECT_ROOT / "README.md").read_text()
    assert "os: [windows-latest, macos-latest]" in text and "python -m tests.check_corpus" in text
    assert "python -m pip install -r requirements.txt" in text
