"""The student version of the project, made from the solution notebooks (as nbgrader and otter do).

    python tests_backpropagation.py release OUT_DIR [--edition 2023]      (make release OUT=... EDITION=...)

In the solution notebooks, the lines a student writes stand between `# BEGIN SOLUTION` and
`# END SOLUTION`; cells tagged `solution` exist only in the solution. The release:
* replaces every marked region by `# YOUR CODE HERE` and a NotImplementedError naming the function,
  keeping its signature and docstring;
* drops solution-only cells, every output and execution count;
* copies the harness, utils/ and requirements.txt, so that the checks run in the student's notebook;
* checks that no solution line reached OUT_DIR.
"""

import re
import shutil
from pathlib import Path

import nbformat

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("backpropagation.ipynb", "gradient_descent.ipynb")
COPIED = ("harness", "utils", "tests_backpropagation.py", "requirements.txt")
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_TAG = "solution"
MIN_LEAK_LENGTH = 20  # shorter lines (`return losses`, `else:`) are not the solution's own


class ReleaseError(ValueError):
    """The release cannot be made; the message says why."""


def stub_regions(source):
    """(source with each marked region replaced by a stub, [the solution lines removed])."""
    lines, out, removed, inside, owner, cls = source.splitlines(), [], [], None, "this function", None
    for line in lines:
        match = re.match(r"(\s*)(?:async\s+)?(def|class)\s+(\w+)", line)
        if match and inside is None:
            indent, kind, name = match.groups()
            if kind == "class":
                cls, owner = (name, name) if not indent else (cls, name)
            else:
                owner = f"{cls}.{name}" if indent and cls else name
                cls = cls if indent else None
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise ReleaseError(f"{BEGIN} inside another marked region (near {owner})")
            inside = line[: len(line) - len(line.lstrip())]
            continue
        if stripped == END:
            if inside is None:
                raise ReleaseError(f"{END} without {BEGIN} (near {owner})")
            out += [f"{inside}# YOUR CODE HERE", f'{inside}raise NotImplementedError("write {owner}: see the instructions above")']
            inside = None
            continue
        (removed if inside is not None else out).append(line)
    if inside is not None:
        raise ReleaseError(f"{BEGIN} without {END} (near {owner})")
    return "\n".join(out), removed


EDITION_SETTING = 'EDITION = os.environ.get("INF265_EDITION", "default")'


def set_edition(notebook, edition):
    """Make edition the default of the notebook's parameters cell; ReleaseError if it has no such edition."""
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []) and EDITION_SETTING in cell.source:
            if f'"{edition}": {{' not in cell.source:
                raise ReleaseError(f"the notebooks know no edition {edition!r}; see EDITIONS in gradient_descent.ipynb")
            cell.source = cell.source.replace(EDITION_SETTING, EDITION_SETTING.replace('"default"', f'"{edition}"'))


def student_notebook(path, edition="default"):
    """(the student version of the notebook at path, [solution lines])."""
    notebook = nbformat.read(path, as_version=4)
    if edition != "default":
        set_edition(notebook, edition)
    cells, solution = [], []
    for cell in notebook.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            solution += cell.source.splitlines()
            continue
        if cell.cell_type == "code":
            cell.source, removed = stub_regions(cell.source)
            solution += removed
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    notebook.cells = cells
    return notebook, solution


def leaked_lines(out_dir, solution, project=PROJECT_ROOT):
    """The solution's own lines found in any file under out_dir.

    A solution line is its own when it is long enough and stands nowhere else in what is released:
    not outside the marked regions of the notebooks (markdown included), not in the harness or utils/
    (an idiom such as `optimizer.zero_grad()` is everybody's)."""
    common = []
    for notebook in NOTEBOOKS:
        released, _ = student_notebook(project / notebook)
        common += [cell.source for cell in released.cells]
    for name in COPIED:
        for path in [project / name] if (project / name).is_file() else (project / name).rglob("*.py"):
            common.append(path.read_text(errors="replace"))
    common = "\n".join(common)
    candidates = {line.strip() for line in solution if len(line.strip()) >= MIN_LEAK_LENGTH and line.strip() not in common}
    leaks = set()
    for path in Path(out_dir).rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".txt", ".md", ".json"):
            text = path.read_text(errors="replace")
            leaks |= {line for line in candidates if line in text}
    return sorted(leaks)


def release(out_dir, project=PROJECT_ROOT, edition="default"):
    """Write the student version (of edition) into out_dir (new or empty); returns the solution lines withheld."""
    out_dir = Path(out_dir)
    student_notebook(project / "gradient_descent.ipynb", edition)  # an unknown edition fails before anything is written
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ReleaseError(f"OUT_DIR {str(out_dir)!r} is not empty; give a new or empty folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    solution = []
    for name in NOTEBOOKS:
        notebook, removed = student_notebook(project / name, edition)
        nbformat.write(notebook, out_dir / name)
        solution += removed
    for name in COPIED:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, out_dir / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, out_dir / name)
    leaks = leaked_lines(out_dir, solution, project)
    if leaks:
        raise ReleaseError(f"{len(leaks)} solution line(s) would reach the student version, e.g. {leaks[0]!r}; mark them.")
    return solution
