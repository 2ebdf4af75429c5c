"""Autograd and dynamic code in a submitted backpropagation, found by reading its source.

Runs in the trusted process, on the notebook's syntax tree; nothing is executed. What is read: every
top-level statement the grader would run (imports, assignments, class bodies, decorators and defaults)
and the bodies of the graded function and of every notebook function or class it reaches by name.
Found: any name or attribute that computes or reads gradients (backward, autograd, .grad, torch.func,
functorch, vjp, jacrev, the engine, ...), and dynamic code that could hide one (exec, eval, compile,
__import__, importlib, getattr/setattr with a computed name, __dict__, globals(), ctypes, ...).
Not found: autograd hidden in a compiled extension the submission ships (see the README).
"""

import ast

# Attributes that compute gradients (x.backward(), torch.autograd.grad, torch.func.vjp, the engine), or read
# them (p.grad). Switching grad mode or requires_grad on or off computes nothing, so a right function
# may do it (`with torch.set_grad_enabled(False)`, `if y_pred.requires_grad`).
AUTOGRAD_ATTRIBUTES = {
    "backward", "autograd", "grad", "vjp", "jvp", "jacrev", "jacfwd", "grad_and_value", "_execution_engine",
    "run_backward", "_engine_run_backward", "gradcheck", "_C",
}
TORCH_ONLY_ATTRIBUTES = {"func"}  # torch.func, but self.func is a student's own attribute
# Bare names that can only be autograd (a local variable called grad or jacobian is fine; vjp is not).
AUTOGRAD_NAMES = {"autograd", "functorch", "vjp", "jvp", "jacrev", "jacfwd", "grad_and_value", "gradcheck",
                  "_execution_engine"}
# What an import may not bind: these names from torch, torch.autograd, torch.func or functorch
# (`from torch.autograd import Variable` and `from torch.nn import functional` are fine).
AUTOGRAD_IMPORTS = {"grad", "backward", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "hessian", "functional",
                    "func", "functorch", "grad_and_value", "_C"}
DYNAMIC_NAMES = {"exec", "eval", "compile", "__import__", "importlib", "globals", "vars", "locals",
                 "__builtins__", "builtins", "ctypes", "cffi", "marshal"}
DYNAMIC_ATTRIBUTES = {"__dict__", "__getattribute__", "__code__", "__globals__", "modules", "__builtins__"}
DYNAMIC_CALLS = {"getattr", "setattr", "delattr"}


def _called(node):
    """The function expressions of every call inside node (what a statement that runs would execute)."""
    return [child.func for child in ast.walk(node) if isinstance(child, ast.Call)]


def _names(node, calls_only=False):
    """(what, line) for every autograd or dynamic-code use inside node; autograd only where called
    when calls_only (a class deriving from torch.autograd.Function runs no autograd)."""
    if calls_only:
        for func in _called(node):
            for what, line in _names(func):
                yield what, line
        node = ast.Module(body=[], type_ignores=[]) if not isinstance(node, (ast.Import, ast.ImportFrom)) else node
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            if child.id in AUTOGRAD_NAMES:
                yield f"autograd ({child.id})", child.lineno
            elif child.id in DYNAMIC_NAMES:
                yield f"dynamic code ({child.id})", child.lineno
        elif isinstance(child, ast.Attribute):
            if child.attr in AUTOGRAD_ATTRIBUTES or (child.attr in TORCH_ONLY_ATTRIBUTES and isinstance(child.value, ast.Name)
                                                     and child.value.id == "torch"):
                yield f"autograd (.{child.attr})", child.lineno
            elif child.attr in DYNAMIC_ATTRIBUTES:
                yield f"dynamic code (.{child.attr})", child.lineno
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            module = (child.module or "") if isinstance(child, ast.ImportFrom) else ""
            for alias in child.names:
                path = f"{module}.{alias.name}".strip(".")
                gradient_module = path.startswith(("torch.func", "functorch", "torch.autograd.functional", "torch._C"))
                gradient_name = alias.name in AUTOGRAD_IMPORTS and (module.startswith(("torch.autograd", "torch.func", "functorch"))
                                                                     or module == "torch")
                if gradient_module or gradient_name:
                    yield f"autograd (import {alias.name})", child.lineno
                if set(path.split(".")) & {"importlib", "ctypes", "cffi", "marshal", "builtins"}:
                    yield f"dynamic code (import {alias.name})", child.lineno
        elif isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in DYNAMIC_CALLS:
            name = child.args[1] if len(child.args) >= 2 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                if name.value in AUTOGRAD_ATTRIBUTES:
                    yield f"autograd ({child.func.id} {name.value!r})", child.lineno
                elif name.value in DYNAMIC_ATTRIBUTES:
                    yield f"dynamic code ({child.func.id} {name.value!r})", child.lineno
            else:
                yield f"dynamic code ({child.func.id} with a computed name)", child.lineno


def _references(node):
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def _shallow(statement):
    """The parts of a def or class that run when it is defined (decorators, defaults, bases, class body)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return statement.decorator_list + statement.args.defaults + [d for d in statement.args.kw_defaults if d]
    if isinstance(statement, ast.ClassDef):
        parts = statement.decorator_list + statement.bases + [k.value for k in statement.keywords]
        for inner in statement.body:
            parts += _shallow(inner) if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)) else [inner]
        return parts
    return [statement]


def _dynamic(node):
    return [(what, line) for what, line in _names(node) if what.startswith("dynamic")]


def forbidden_uses(statements, function_name):
    """[(what, line)] of autograd or dynamic code in what the grader runs of these top-level statements.

    Read in full: the graded function and every notebook definition it, or any statement that runs at
    load time, reaches by name. Read for what runs: the rest (calls, imports, dynamic code)."""
    definitions = {}
    for statement in statements:  # name -> the statement that binds it
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions[statement.name] = statement
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in getattr(statement, "targets", [getattr(statement, "target", None)]):
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        definitions[name.id] = statement
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                definitions[(alias.asname or alias.name).split(".")[0]] = statement
    roots = [function_name] + [n for s in statements if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                               for part in _shallow(s) for n in _references(part)]
    reached, queue = set(), roots
    while queue:  # the graded function and every notebook definition it reaches by name
        name = queue.pop()
        if name in reached or name not in definitions:
            continue
        reached.add(name)
        queue += [n for n in _references(definitions[name]) if n in definitions]
    found = []
    for statement in statements:
        if any(definitions.get(name) is statement for name in reached):
            found += list(_names(statement))
            continue
        for part in _shallow(statement):
            found += list(_names(part, calls_only=True)) + _dynamic(part)
    return sorted(set(found), key=lambda item: item[1])
