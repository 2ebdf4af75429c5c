"""Take functions and classes out of a notebook without running its expensive parts.

The rule, applied to every code cell from top to bottom:

* IPython lines are dropped: line magics (``%...``), shell lines (``!...``), and cells whose
  cell magic is not plain Python (``%%bash``; ``%%time`` and ``%%capture`` keep their body).
* Of the remaining top-level statements only these run:
  imports, ``def``/``class`` definitions, and assignments to names whose right-hand side calls
  nothing defined in the notebook and nothing that loads data or trains (names containing
  ``load``, ``train``, ``fit``, ``DataLoader``, ``CIFAR``, ``download``, ``main_test``, ``save``,
  ``write``, ...; see SKIPPED_CALL_WORDS).
  Everything else (training loops, data loading, plots, prints, top-level calls) is skipped.
* A kept statement that raises is skipped too (it may need data that was never loaded); a
  function that needs it fails later, when it is called, and that failure is reported there.

A cell that does not parse is an error: the notebook could not run top to bottom.
"""

import ast
import json
from pathlib import Path

PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")
SKIPPED_CALL_WORDS = (
    "load", "train", "fit", "dataloader", "cifar", "folder", "download", "main_test", "check",
    "run", "plot", "show", "savefig", "search", "evaluate", "benchmark", "sleep", "input",
    "save", "write", "dump", "update_results", "remove", "unlink", "rmtree", "system",
)


class NotebookError(Exception):
    """The notebook cannot be read or parsed; the message names the file and cell."""


def code_cells(path):
    """The source of each code cell of the notebook at path, as strings."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells if c.get("cell_type") == "code"]
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"{path.name} cannot be read ({error}).") from error
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise NotebookError(f"{path.name} is not a valid notebook (not nbformat JSON: {error}).") from error


def definitions_source(path):
    """The Python source that the rule above keeps, cell by cell: a list of (cell_number, module)."""
    kept = []
    for number, source in enumerate(code_cells(path), start=1):
        python = _strip_ipython(source)
        if python is None:
            continue
        try:
            tree = ast.parse(python)
        except SyntaxError as error:
            raise NotebookError(f"{Path(path).name}: code cell {number} has a syntax error at line {error.lineno}: {error.msg}.") from error
        kept.append((number, tree))
    defined = {node.name for _, tree in kept for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return [(n, ast.Module(body=[s for s in tree.body if _is_kept(s, defined)], type_ignores=[])) for n, tree in kept]


def load_definitions(path, namespace=None):
    """Execute the kept statements of the notebook at path; return the namespace they filled."""
    namespace = {"__name__": "__notebook__"} if namespace is None else namespace
    for number, module in definitions_source(path):
        for statement in module.body:
            code = compile(ast.Module(body=[statement], type_ignores=[]), f"<{Path(path).name} cell {number}>", "exec")
            try:
                exec(code, namespace)
            except Exception:
                pass  # see the module docstring: reported when the function that needs it is called
    return namespace


def _strip_ipython(source):
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not lines[0].split()[0] in PYTHON_CELL_MAGICS:
            return None
        lines = lines[1:]
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _is_kept(statement, defined):
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        return not any(_is_skipped_call(node, defined) for node in ast.walk(statement.value))
    return False


def _is_skipped_call(node, defined):
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    return name in defined or any(word in name.lower() for word in SKIPPED_CALL_WORDS)
