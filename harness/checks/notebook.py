"""Take functions and classes out of a notebook without running its expensive parts.

The rule, applied to every code cell from top to bottom:

* IPython lines are dropped: line magics (``%...``), shell lines (``!...``), and cells whose
  cell magic is not plain Python (``%%bash``; ``%%time`` and ``%%capture`` keep their body).
* A cell that still does not parse (a scratch note, a half-written cell) is skipped with a note;
  it only matters when it is the cell that defines the graded function (see why_missing).
* Of the remaining top-level statements only these run:
  imports, ``def``/``class`` definitions, and assignments whose right-hand side mentions nothing
  defined in the notebook and calls nothing that loads data or trains (names containing ``load``,
  ``train``, ``fit``, ``DataLoader``, ``CIFAR``, ``download``, ``main_test``, ``save``, ...; see
  SKIPPED_CALL_WORDS). Everything else (training loops, data loading, plots, prints, calls) is skipped.
* A kept statement that raises is skipped too (it may need data that was never loaded). A ``def``
  whose default values or decorators need such a statement is still defined: a default that cannot
  be computed becomes a placeholder that raises only if the function uses it, and a decorator that
  fails is left off; both are noted.
"""

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")
SKIPPED_CALL_WORDS = (
    "load", "train", "fit", "dataloader", "cifar", "folder", "download", "main_test", "check",
    "run", "plot", "show", "savefig", "search", "evaluate", "benchmark", "sleep", "input",
    "save", "write", "dump", "update_results", "remove", "unlink", "rmtree", "system",
)


class NotebookError(Exception):
    """The notebook cannot be read at all; the message names the file."""


class MissingDefault:
    """Stands in for a default value the notebook computes from skipped statements.

    Called on one value it is the identity: such a default is an input transform built from the data
    (preprocessor=transforms.Normalize(mean, std) of the training set), and the grader's inputs need
    none. The first such call adds a note saying so. Anything else done with it raises, naming it."""

    def __init__(self, function, parameter, error, notes=None):
        self.function, self.parameter, self.notes, self.used = function, parameter, notes, False
        self.text = (f"the default of {parameter!r} in {function}() could not be computed when the notebook was "
                     f"loaded without its data ({error}); pass {parameter} explicitly")

    def __repr__(self):
        return f"<missing default: {self.text}>"

    def __getattr__(self, name):
        raise RuntimeError(self.text)

    def __call__(self, *args, **kwargs):
        if len(args) != 1 or kwargs:
            raise RuntimeError(self.text)
        if not self.used and self.notes is not None:
            self.notes.append(f"{self.function}(): the default of {self.parameter!r} is computed from the notebook's data; "
                              "the grader called it as the identity (its inputs need no transform)")
        self.used = True
        return args[0]

    def __bool__(self):
        raise RuntimeError(self.text)


@dataclass
class LoadedNotebook:
    """What load_notebook took out of a notebook."""
    path: Path
    namespace: dict
    notes: list = field(default_factory=list)        # cells skipped, defaults replaced, ...
    unparsable: dict = field(default_factory=dict)   # cell number -> (source, syntax error)
    trees: list = field(default_factory=list)        # (cell number, parsed module) of every parsed cell

    def get(self, name):
        value = self.namespace.get(name)
        return value if callable(value) else None

    def tries_to_define(self, name):
        """True when some cell has a `def name(`, whether or not it parsed and ran."""
        pattern = re.compile(rf"^\s*def\s+{re.escape(name)}\s*\(", re.M)
        return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
                   for _, tree in self.trees for node in tree.body) or any(pattern.search(source) for source, _ in self.unparsable.values())

    def why_missing(self, name):
        """Why the notebook yields no function name: one sentence, the truth."""
        defining = [n for n, tree in self.trees for node in tree.body
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name]
        if defining:
            return f"{self.path.name} defines {name} in code cell {defining[-1]}, but running that definition failed: {self._failure(name)}"
        pattern = re.compile(rf"^\s*def\s+{re.escape(name)}\s*\(", re.M)
        for number, (source, error) in self.unparsable.items():
            if pattern.search(source):
                return f"{self.path.name}: code cell {number}, which defines {name}, has a syntax error at line {error.lineno}: {error.msg}"
        return f"{self.path.name} defines no function {name} (no 'def {name}(' in any code cell)"

    def _failure(self, name):
        return next((note.split(": ", 1)[1] for note in self.notes if note.startswith(f"{name}: ")), "unknown error")


def code_cells(path, text=None):
    """The source of each code cell of the notebook at path (or of its text), as strings."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8") if text is None else text)
        cells = notebook["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells if c.get("cell_type") == "code"]
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"{path.name} cannot be read ({error}).") from error
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise NotebookError(f"{path.name} is not a valid notebook (not nbformat JSON: {error}).") from error


def parse_cells(path, text=None):
    """(parsed [(cell number, module)], unparsable {cell number: (source, SyntaxError)})."""
    parsed, unparsable = [], {}
    for number, source in enumerate(code_cells(path, text), start=1):
        python = _strip_ipython(source)
        if python is None:
            continue
        try:
            parsed.append((number, ast.parse(python)))
        except SyntaxError as error:
            unparsable[number] = (python, error)
    return parsed, unparsable


def definitions_source(path, text=None):
    """The statements the rule keeps, cell by cell: a list of (cell number, module)."""
    parsed, _ = parse_cells(path, text)
    return kept_statements(parsed)


def kept_statements(parsed):
    """[(cell number, module of the statements the rule keeps)] of parsed cells [(cell number, module)]."""
    defined = {node.name for _, tree in parsed for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return [(n, ast.Module(body=[k for k in (_kept(s, defined) for s in tree.body) if k is not None], type_ignores=[]))
            for n, tree in parsed]


def load_notebook(path, namespace=None):
    """Execute the kept statements of the notebook at path; return a LoadedNotebook."""
    path = Path(path)
    parsed, unparsable = parse_cells(path)
    loaded = LoadedNotebook(path, {"__name__": "__notebook__"} if namespace is None else namespace,
                            unparsable=unparsable, trees=parsed)
    for number, (_, error) in unparsable.items():
        loaded.notes.append(f"code cell {number} skipped: syntax error at line {error.lineno} ({error.msg})")
    flags = loaded.flags = [0]  # __future__ features a cell imported: Jupyter compiles every later cell with them
    for number, module in kept_statements(parsed):
        for statement in module.body:
            error = _run(statement, loaded.namespace, f"<{path.name} cell {number}>", flags)
            if error is not None and isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                error = _define_without_failing_parts(statement, loaded, f"<{path.name} cell {number}>")
            if error is not None and isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                loaded.notes.append(f"{statement.name}: {type(error).__name__}: {error}")
    return loaded


def load_definitions(path, namespace=None):
    """The namespace that load_notebook fills (kept for callers that need only that)."""
    return load_notebook(path, namespace).namespace


def _run(statement, namespace, filename, flags=None):
    flags = flags if flags is not None else [0]
    code = compile(ast.Module(body=[statement], type_ignores=[]), filename, "exec", flags=flags[0], dont_inherit=True)
    if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
        import __future__

        for alias in statement.names:
            feature = getattr(__future__, alias.name, None)
            flags[0] |= getattr(feature, "compiler_flag", 0)
    try:
        exec(code, namespace)
    except Exception as error:  # see the module docstring
        return error
    return None


def _define_without_failing_parts(function, loaded, filename):
    """Define function with placeholders for the defaults and without the decorators that fail."""
    namespace = loaded.namespace
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
    pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
    for argument, default in pairs:
        try:
            eval(compile(ast.Expression(default), filename, "eval"), namespace)
        except Exception as error:
            key = f"__missing_default_{function.name}_{argument.arg}"
            namespace[key] = MissingDefault(function.name, argument.arg, f"{type(error).__name__}: {error}", loaded.notes)
            replacement = ast.copy_location(ast.Name(id=key, ctx=ast.Load()), default)
            if default in arguments.defaults:
                arguments.defaults[arguments.defaults.index(default)] = replacement
            else:
                arguments.kw_defaults[arguments.kw_defaults.index(default)] = replacement
            loaded.notes.append(f"{function.name}(): the default of {argument.arg!r} needs skipped statements ({type(error).__name__}); it is filled in only if used")
    kept = []
    for decorator in function.decorator_list:
        try:
            eval(compile(ast.Expression(decorator), filename, "eval"), namespace)
            kept.append(decorator)
        except Exception as error:
            loaded.notes.append(f"{function.name}(): decorator left off ({type(error).__name__}: {error})")
    function.decorator_list = kept
    ast.fix_missing_locations(function)
    return _run(function, namespace, filename, getattr(loaded, "flags", None))


def _strip_ipython(source):
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not lines[0].split()[0] in PYTHON_CELL_MAGICS:
            return None
        lines = lines[1:]
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _is_kept(statement, defined):
    return _kept(statement, defined) is not None


def _kept(statement, defined):
    """The statement as the rule keeps it, or None. Top-level if/elif/else, try/except/else/finally and
    with blocks are kept as Jupyter runs them, each branch holding only what the rule keeps (`if
    torch.cuda.is_available(): device = "cuda"`, `try: import wandb / except ImportError: wandb =
    None`), when their tests and context expressions are safe to compute."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return statement
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        # A value built from the notebook's own definitions (an instance, a result) belongs to the
        # notebook's run, not to its definitions: computing it could train, and could run anything.
        return statement if _safe(statement.value, defined) else None
    if isinstance(statement, ast.If) and _safe(statement.test, defined):
        return _with_bodies(statement, defined, ("body", "orelse"))
    if isinstance(statement, ast.Try) and all(h.type is None or _safe(h.type, defined) for h in statement.handlers):
        kept = _with_bodies(statement, defined, ("body", "orelse", "finalbody"))
        if kept is not None:
            kept.handlers = [ast.copy_location(ast.ExceptHandler(type=h.type, name=h.name, body=_kept_body(h.body, defined)), h)
                             for h in statement.handlers]
            ast.fix_missing_locations(kept)
        return kept
    if isinstance(statement, ast.With) and all(_safe(item.context_expr, defined) for item in statement.items):
        return _with_bodies(statement, defined, ("body",))
    return None


def _safe(expression, defined):
    """An expression the rule computes: it calls nothing that loads or trains and uses nothing the notebook defines."""
    return not any(_is_skipped_call(node, defined) or (isinstance(node, ast.Name) and node.id in defined)
                   for node in ast.walk(expression))


def _kept_body(body, defined):
    kept = [k for k in (_kept(s, defined) for s in body) if k is not None]
    return kept or [ast.Pass()]


def _with_bodies(statement, defined, fields):
    """A copy of a compound statement whose blocks hold only what the rule keeps; None when none holds anything."""
    import copy

    bodies = {name: getattr(statement, name) for name in fields}
    blocks = [*bodies.values(), *(handler.body for handler in getattr(statement, "handlers", []))]
    if not any(_kept(s, defined) is not None for body in blocks for s in body):
        return None
    kept = copy.copy(statement)
    for name, body in bodies.items():
        setattr(kept, name, _kept_body(body, defined) if body else [])
    return ast.fix_missing_locations(kept)


def _is_skipped_call(node, defined):
    if not isinstance(node, ast.Call):
        return False
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    return name in defined or any(word in name.lower() for word in SKIPPED_CALL_WORDS)


def notebook_function(path, name):
    """The function name as the notebook at path defines it (definitions only); LookupError says why not."""
    loaded = load_notebook(path)
    if loaded.get(name) is None:
        raise LookupError(loaded.why_missing(name))
    return loaded.get(name)
