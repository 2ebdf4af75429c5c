"""The student version of the project, made from the solution notebooks (as nbgrader and otter do).

    python tests_backpropagation.py release OUT_DIR [--edition 2023]      (make release OUT=... EDITION=...)

In the solution notebooks, every cell says what it is by a tag: `given` (what the course gives: the
settings, the data, the checks the student runs), `task` (what the student writes: the instructions,
and code cells whose lines the student writes stand between `# BEGIN SOLUTION` and `# END SOLUTION`),
or `solution` (exists only in the solution: the derivations, the results and what they mean, the
extension). A cell that says neither is refused: no text reaches the student version unless the
teacher said it may. The release:
* replaces every marked region by `# YOUR CODE HERE` and a NotImplementedError naming the function,
  keeping its signature and docstring;
* drops solution-only cells, every output and execution count;
* copies what RELEASED lists, each for its reason: the checks (which judge with autograd and finite
  differences only) and the helpers the notebooks import; and what HANDOUT lists, the student's
  README and report template;
* refuses when anything of the solution reached OUT_DIR: a solution line (leaked_lines), a function
  that computes a MyNet's gradients by hand or does SGD's update (solutions_in, by calling every
  released function), or the backward recurrence or SGD's update written out (recurrences_in).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("backpropagation.ipynb", "gradient_descent.ipynb")
RELEASED = {
    "tests_backpropagation.py": "the course's file: main_test, run_gradient_checks and check_sgd_equivalence for the notebooks",
    "harness/__init__.py": "the package",
    "harness/status.py": "the verdict vocabulary the checks use",
    "harness/cli.py": "python tests_backpropagation.py check: the student's own notebooks, graded as the grader grades them",
    "harness/checks": "the checks: gradients against autograd and finite differences, SGD against torch.optim.SGD",
    "harness/grading": "the grader's pipeline (staging, sandbox, lockdown, source check, judges), so that check gives "
                       "exactly the grader's verdict: it holds no answer (every verdict is decided against autograd and torch.optim.SGD)",
    "harness/classroom": "the staging and the feedback that check shares with grade (and the gradebooks beside them): no answer",
    "utils/__init__.py": "the package",
    "utils/mynet.py": "MyNet, which the course gives",
    "utils/data.py": "load_cifar2 and make_loader: the data, which no task asks to load by hand",
    "utils/metrics.py": "relative_error, accuracy and the confusion matrix the notebooks report",
    "utils/snapshots.py": "ParameterRecorder: parameters after every epoch, for comparing two trainings",
    "utils/plotting.py": "the figures",
    "utils/results.py": "where the notebooks write results for the report",
    "utils/analysis.py": "standard errors, McNemar's test and the other comparisons a report states of its runs: "
                         "statistics, no answer",
    "requirements.txt": "the pinned environment",
}
# Not released: harness/release.py (the teacher's), utils/backward_rules.py (its backward() bodies
# answer the backward-rule section, which is solution-only).
# The grader's modules are read for solutions as text (recurrences_in, leaked_lines) but not called:
# they start processes, signal them and lock autograd away, which the scanner must not do to itself.
NOT_CALLED = ("harness.grading", "harness.classroom")
HANDOUT = {  # what only the student version holds: {path in the project: path in the release}
    "handout/README.md": "README.md",
    "handout/report.typ": "report/report.typ",
    # a GitHub Classroom template repository: what git leaves out, and autograding on every push
    "handout/gitignore": ".gitignore",
    "handout/classroom.yml": ".github/workflows/classroom.yml",
}
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_TAG = "solution"
ROLES = ("given", "task", SOLUTION_TAG)
MIN_LEAK_LENGTH = 20  # shorter lines (`return losses`, `else:`) are not the solution's own
TEXT_SUFFIXES = (".py", ".ipynb", ".txt", ".md", ".json")

# The answers written out, in code or in the notebooks' math: the backward recurrence of MyNet and
# the steps of SGD's update that the bitwise task is about.
RECURRENCES = {
    "dW = delta^T a": r"\.T\s*@\s*[\w.\[\]\-() ]*\ba\s*\[|\\delta\^\{\[l\]\s*\\top\}",
    "delta W": r"\bdelta\w*(\[[^\]]*\])?\s*@|@\s*delta\b|outer\(\s*delta|\\delta\^\{\[l\+1\]\}\s*W\^",
    "db = sum of delta": r"\bdelta\w*(\[[^\]]*\])?\.sum\(",
    "momentum buffer": r"\.mul_\(\s*momentum|alpha\s*=\s*1\s*-\s*dampening",
    "the step": r"\.add_\(\s*\w+\s*,\s*alpha\s*=\s*-\s*lr\b",
}


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
            what = f"write {owner}" if owner != "this function" else "write this step"
            out += [f"{inside}# YOUR CODE HERE", f'{inside}raise NotImplementedError("{what}: see the instructions above")']
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
    for number, cell in enumerate(notebook.cells, start=1):
        roles = [tag for tag in cell.get("metadata", {}).get("tags", []) if tag in ROLES]
        if len(roles) != 1:
            raise ReleaseError(f"cell {number} of {Path(path).name} ({cell.source.strip()[:60]!r}) is tagged "
                               f"{' and '.join(roles) or 'neither'} of {', '.join(ROLES)}: say whether the course gives it, "
                               "the student writes it, or it is the solution's only")
        if (BEGIN in cell.source) != (roles[0] == "task" and cell.cell_type == "code" and BEGIN in cell.source):
            raise ReleaseError(f"cell {number} of {Path(path).name} holds {BEGIN} but is tagged {roles[0]}: tag it task")
        if SOLUTION_TAG in roles:
            solution += cell.source.splitlines()
            continue
        if cell.cell_type == "code":
            cell.source, removed = stub_regions(cell.source)
            solution += removed
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    notebook.cells = cells
    return notebook, solution


def released_files(project=PROJECT_ROOT):
    """[(path in the project, path in the release)] of everything RELEASED lists."""
    files = []
    for name in RELEASED:
        source = project / name
        paths = sorted(p for p in source.rglob("*.py")) if source.is_dir() else [source]
        files += [(p, p.relative_to(project)) for p in paths if "__pycache__" not in p.parts]
    return files


def leaked_lines(out_dir, solution, project=PROJECT_ROOT):
    """The solution's own lines found in any file under out_dir.

    A solution line is its own when it is long enough and stands nowhere else in what is released:
    not outside the marked regions of the notebooks (markdown included), not in the released modules
    (an idiom such as `optimizer.zero_grad()` is everybody's)."""
    common = []
    for notebook in NOTEBOOKS:
        released, _ = student_notebook(project / notebook)
        common += [cell.source for cell in released.cells]
    common += [path.read_text(errors="replace") for path, _ in released_files(project)]
    common = "\n".join(common)
    candidates = {line.strip() for line in solution if len(line.strip()) >= MIN_LEAK_LENGTH and line.strip() not in common}
    leaks = set()
    for path in Path(out_dir).rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(errors="replace")
            leaks |= {line for line in candidates if line in text}
    return sorted(leaks)


def recurrences_in(out_dir):
    """[(file, what)] where the backward recurrence or SGD's update is written out, in code or in math."""
    found = []
    for path in sorted(Path(out_dir).rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(errors="replace")
            if path.suffix == ".ipynb":  # the cells' text, not the JSON's escapes
                text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
            found += [(str(path.relative_to(out_dir)), what) for what, pattern in RECURRENCES.items() if re.search(pattern, text)]
    return found


SCANNER = r'''
import importlib, inspect, json, sys, traceback, warnings
warnings.simplefilter("ignore")
folder = sys.argv[1]
sys.path.insert(0, folder)
import torch
from harness.checks.cases import gradient_cases
from harness.checks.guard import autograd_unusable
from harness.checks.references import autograd_gradients, parameter_items
from harness.checks.sgd import check_sgd_equivalence
from harness.checks.signature import call_plan
from harness.checks.tolerances import AUTOGRAD_RTOL
from utils.metrics import relative_error

torch.set_default_dtype(torch.float64)
case = gradient_cases(n_random=0)[2]  # the course's toy net on a batch of 10
expected = autograd_gradients(case.build(), case.x, case.y_true)
right = [t for key in expected.keys() for t in [expected[key]]]


def is_right(t):
    # right as the grader judges right: finite differences (1e-9 at best) are not
    return isinstance(t, torch.Tensor) and any(t.shape == r.shape and relative_error(t.detach().double(), r) < AUTOGRAD_RTOL for r in right)


def found_in(value, depth=0):
    if is_right(value):
        return True
    if depth > 2:
        return False
    if isinstance(value, dict):
        return any(found_in(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(found_in(v, depth + 1) for v in value)
    return any(found_in(getattr(value, name), depth + 1) for name in ("weight", "bias") if hasattr(value, name))


def functions(module):
    for name, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield name, value
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for attribute, member in vars(value).items():
                member = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if inspect.isfunction(member):
                    yield f"{name}.{attribute}", member


leaks = []
for module_name in json.loads(sys.argv[2]):
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        leaks.append([module_name, f"could not be imported to be checked ({type(error).__name__})"])
        continue
    for name, function in functions(module):
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        for arguments in ("model, y_true, y_pred", "model, x, y_true"):
            model = case.build()
            with torch.no_grad():
                y_pred = model(case.x)
            values = {"model, y_true, y_pred": (model, case.y_true, y_pred), "model, x, y_true": (model, case.x, case.y_true)}[arguments]
            try:
                signature.bind(*values)
            except TypeError:
                continue
            returned = None
            try:
                with autograd_unusable(model):
                    returned = function(*values)
            except BaseException:
                pass
            stored = [getattr(model, store, {}).get(l) for store in ("dL_dw", "dL_db") for l in range(1, model.L + 1)]
            if any(is_right(t) for t in stored) or found_in(returned):
                leaks.append([f"{module_name}.{name}", f"computes a MyNet's gradients by hand, called as ({arguments})"])
        plan = call_plan(function)
        if not plan.unfillable and {"n_epochs", "model", "loss_fn", "train_loader", "lr"} <= set(plan.roles):
            try:
                if check_sgd_equivalence(function, verbose=False).n_passed > 0:
                    leaks.append([f"{module_name}.{name}", "does SGD's update: it passes a course setting of check_sgd_equivalence"])
            except BaseException:
                pass
print(json.dumps(leaks))
'''


def solutions_in(out_dir, timeout=300):
    """[(function, what it does)] of released functions that answer a task, found by calling each one
    (in a fresh process, from out_dir): with a course net and autograd unusable, whether it leaves or
    returns the right gradients; and whether train_manual_update's check passes it on any course setting."""
    out_dir = Path(out_dir).resolve()
    modules = [".".join(p.relative_to(out_dir).with_suffix("").parts).removesuffix(".__init__")
               for p in sorted(out_dir.rglob("*.py")) if "__pycache__" not in p.parts]
    modules = [m for m in modules if not m.startswith(NOT_CALLED)]
    result = subprocess.run([sys.executable, "-c", SCANNER, str(out_dir), json.dumps(modules)], cwd=out_dir,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise ReleaseError(f"the released modules could not be checked: {result.stderr.strip().splitlines()[-1:]}")
    return [tuple(entry) for entry in json.loads(result.stdout.strip().splitlines()[-1])]


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
    for source, target in released_files(project) + [(project / source, Path(target)) for source, target in HANDOUT.items()]:
        (out_dir / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, out_dir / target)
    problems = [f"the solution line {line!r}" for line in leaked_lines(out_dir, solution, project)[:3]]
    problems += [f"{what} written out in {file}" for file, what in recurrences_in(out_dir)[:3]]
    if not problems:
        problems += [f"{function}, which {what}" for function, what in solutions_in(out_dir)[:3]]
    if problems:
        raise ReleaseError(f"the student version would hold the solution: {'; '.join(problems)}. Mark it as solution or leave it out.")
    return solution
