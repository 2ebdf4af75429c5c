"""Autograd and dynamic code in a submitted backpropagation, found by reading its source.

A first, explanatory layer: the runtime decides (harness.grading.lockdown makes autograd impossible
where the function runs), this names what it finds. Runs in the grader, on the notebook's syntax
tree and the .py modules the submission ships; nothing is executed. What is read: every
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


MAX_MODULES, MAX_MODULE_BYTES = 200, 1 << 20


def shipped_modules(folder):
    """{module name: [top-level statements]} of the .py files a submission ships (read, never run):
    helpers.py is "helpers", pkg/__init__.py "pkg", pkg/mod.py "pkg.mod". Unreadable or unparsable
    files are left out (they cannot be imported either)."""
    import os

    modules = {}
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not os.path.islink(os.path.join(root, f)))
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.endswith(".py") or os.path.islink(path) or len(modules) >= MAX_MODULES:
                continue
            parts = os.path.relpath(path, folder)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            try:
                if os.path.getsize(path) > MAX_MODULE_BYTES:
                    continue
                with open(path, encoding="utf-8", errors="replace") as file:
                    modules[".".join(parts)] = ast.parse(file.read()).body
            except (OSError, SyntaxError, ValueError, RecursionError):
                continue
    return modules


def _bindings(statements, modules, seen):
    """{name: [statements that bind it]}, following imports of shipped modules into their statements."""
    definitions = {}

    def bind(name, statement):
        definitions.setdefault(name, []).append(statement)

    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(statement.name, statement)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in getattr(statement, "targets", [getattr(statement, "target", None)]):
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bind(name.id, statement)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                bound = (alias.asname or alias.name).split(".")[0]
                bind(bound, statement)
                module = statement.module if isinstance(statement, ast.ImportFrom) else alias.name
                if isinstance(statement, ast.ImportFrom) and statement.level:
                    module = module or ""
                for name in ([module, f"{module}.{alias.name}"] if isinstance(statement, ast.ImportFrom) else [module]):
                    if name in modules and name not in seen:
                        seen.add(name)
                        inner = _bindings(modules[name], modules, seen)
                        wanted = alias.name if isinstance(statement, ast.ImportFrom) and name == module else None
                        for inner_name, inner_statements in inner.items():
                            for inner_statement in inner_statements:
                                bind(bound if inner_name == wanted else f"{name}:{inner_name}", inner_statement)
                        for inner_statement in modules[name]:
                            bind(f"{name}:", inner_statement)  # runs when imported
                        if wanted is None:  # the module itself is bound: reading it means all of it
                            for inner_statement in modules[name]:
                                bind(bound, inner_statement)
    return definitions


def forbidden_uses(statements, function_name, modules=None):
    """[(what, line)] of autograd or dynamic code in what the grader runs of these top-level statements.

    Read in full: the graded function and every definition it, or any statement that runs at load
    time, reaches by name, with every statement that binds such a name (a later rebinding does not
    hide an earlier body). modules: the submission's shipped .py files (shipped_modules); an import
    of one binds the names it imports to that module's statements. Read for what runs: the rest
    (calls, imports, dynamic code), the shipped modules' top levels included."""
    modules = modules or {}
    definitions = _bindings(statements, modules, set())
    everything = [s for bound in definitions.values() for s in bound]
    everything = list({id(s): s for s in statements + everything}.values())
    roots = [function_name] + [n for s in everything if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                               for part in _shallow(s) for n in _references(part)]
    reached, queue = set(), roots
    while queue:  # the graded function and every definition it reaches by name
        name = queue.pop()
        if name in reached or name not in definitions:
            continue
        reached.add(name)
        for statement in definitions[name]:
            queue += [n for n in _references(statement) if n in definitions]
    read_in_full = {id(s) for name in reached for s in definitions[name]}
    found = []
    for statement in everything:
        if id(statement) in read_in_full:
            found += list(_names(statement))
            continue
        for part in _shallow(statement):
            found += list(_names(part, calls_only=True)) + _dynamic(part)
    return sorted(set(found), key=lambda item: item[1])
