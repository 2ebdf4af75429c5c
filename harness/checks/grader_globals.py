"""What a function reads from the notebook that the grader will not have.

The grader takes functions out of a notebook without running it (harness.checks.notebook: imports,
definitions, simple assignments and the blocks made of them). A function that reads a global the
notebook sets otherwise (in a loop, by a call the grader skips, from a training's result) works in the
notebook and raises NameError in the grader. The in-notebook checks say so, as the grader would, so
that the student sees the grader's verdict before handing in.

    missing_globals(function)   {name: why} of the notebook globals function reads that the rule does
                                not bind; {} outside a notebook (no cell history to read)
"""

import ast
import builtins
import types


def _history():
    """The sources of the cells run so far, in order (IPython's In), or None outside IPython."""
    try:
        shell = get_ipython()  # noqa: F821 - defined by IPython in a notebook's kernel
    except NameError:
        return None
    cells = shell.user_ns.get("In") if shell is not None else None
    return [cell for cell in cells if isinstance(cell, str)] if isinstance(cells, list) else None


def _read_names(code):
    """The global names a code object (and the functions defined in it) loads (not attributes)."""
    import dis

    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _read_names(const)
    return names


def _bound(statements):
    """The names the kept statements bind at the top level (inside kept blocks too)."""
    bound = set()
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            bound |= {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
        for field in ("body", "orelse", "finalbody"):
            bound |= _bound(getattr(statement, field, []) if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                                        ast.ClassDef)) else [])
        for handler in getattr(statement, "handlers", []):
            bound |= _bound(handler.body) | ({handler.name} if handler.name else set())
    return bound


def grader_failure(function, name):
    """A Failure saying what the grader will lack, or None (harness.checks.results)."""
    from harness.checks.results import Failure

    missing = missing_globals(function)
    if not missing:
        return None
    names = ", ".join(f"`{n}`" for n in missing)
    return Failure("as the grader runs it", f"{name} reads {names}, which the grader will not have ({next(iter(missing.values()))}): "
                   "the grader's run raises NameError; set it inside the function, or in a cell of imports and simple "
                   "assignments", raised=True)


def missing_globals(function, history=None):
    """{name: why} of the globals function reads from the notebook that the grader's rule leaves unbound."""
    from harness.checks.notebook import _strip_ipython, kept_statements

    history = _history() if history is None else history
    code = getattr(function, "__code__", None)
    if not history or code is None:
        return {}
    parsed = []
    for number, source in enumerate(history, start=1):
        python = _strip_ipython(source)
        if python is None:
            continue
        try:
            parsed.append((number, ast.parse(python)))
        except SyntaxError:
            continue
    bound = _bound([s for _, module in kept_statements(parsed) for s in module.body])
    namespace = getattr(function, "__globals__", {})
    read = {name for name in _read_names(code) if name in namespace and not hasattr(builtins, name)
            and not isinstance(namespace[name], types.ModuleType)}  # a module comes from an import the grader keeps
    return {name: "set by a statement the grader does not run (it keeps imports, definitions, simple assignments and the "
                  "if/try/with blocks made of them)" for name in sorted(read - bound) if not name.startswith("_")}
