"""Autograd and dynamic code in a submitted backpropagation, found by reading its source.

A first, explanatory layer: the runtime decides (harness.grading.sandbox.lockdown makes autograd impossible
where the function runs), this names what it finds. Autograd that the graded function reaches fails the
part with its name; dynamic code alone (a computed getattr, globals(), exec) is a note, since ordinary
right code uses it too and the lockdown holds whatever it reaches. Runs in the grader, on the notebook's syntax
tree and the .py modules the submission ships; nothing is executed. What is read: every
top-level statement the grader would run (imports, assignments, class bodies, decorators and defaults)
and the bodies of the graded function and of every notebook function or class it reaches by name.
Found: any name or attribute that computes or reads gradients (backward, autograd, .grad, torch.func,
functorch, vjp, jacrev, the engine, ...), and dynamic code that could hide one (exec, eval, compile,
__import__, importlib, getattr/setattr with a computed name, __dict__, globals(), ctypes, ...).
Not found: autograd hidden in a compiled extension the submission ships (see the README).

Submitted text is read only in a child process with a time and memory limit (check_in_child, which
runs this module): a huge or pathological cell costs that child, never the grader, and what cannot
be read within the limits is said in a note while the runtime's verdict stands. Each syntax tree is
walked a bounded number of times (linear in the source), and a shipped module is parsed only when
the code reads it through an import.
"""

import ast
import json
import math
import os
import signal
import subprocess
import sys

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


def _in_calls(node):
    """Every node inside the function expression of a call in node (what a statement that runs would
    execute), each once: one walk, whatever the nesting (`x.f().g().h()` is not walked again per call)."""
    found, stack = [], [(node, False)]
    while stack:
        current, inside = stack.pop()
        if inside:
            found.append(current)
        if isinstance(current, ast.Call):
            stack.append((current.func, True))
            stack += [(child, inside) for child in current.args + current.keywords]
        else:
            stack += [(child, inside) for child in ast.iter_child_nodes(current)]
    return found


def _names(node, calls_only=False):
    """(what, line) for every autograd or dynamic-code use inside node; autograd only where called
    when calls_only (a class deriving from torch.autograd.Function runs no autograd)."""
    # an import that runs is no use of autograd by itself: a name it binds counts where the function reaches it
    nodes = _in_calls(node) if calls_only else ast.walk(node)
    for child in nodes:
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


class _References:
    """_references of each statement, walked once however many names it binds (a = b = c = ... binds many)."""

    def __init__(self):
        self.found = {}

    def __call__(self, statement):
        if id(statement) not in self.found:
            self.found[id(statement)] = (statement, _references(statement))
        return self.found[id(statement)][1]


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


class ShippedModules:
    """{module name: [top-level statements]} of the .py files a submission ships (read, never run):
    helpers.py is "helpers", pkg/__init__.py "pkg", pkg/mod.py "pkg.mod". Found by name at once; a
    file is parsed only when looked up (when the code imports it), so files never imported cost
    nothing. Unreadable, unparsable or larger files are left out (they cannot be imported either)."""

    def __init__(self, folder):
        self.paths, self.parsed = {}, {}
        for root, folders, files in os.walk(folder):
            folders[:] = sorted(f for f in folders if not f.startswith(".") and not os.path.islink(os.path.join(root, f)))
            for name in sorted(files):
                path = os.path.join(root, name)
                if not name.endswith(".py") or os.path.islink(path) or len(self.paths) >= MAX_MODULES:
                    continue
                parts = os.path.relpath(path, folder)[:-3].split(os.sep)
                self.paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def __contains__(self, name):
        return self[name] is not None if name in self.paths else False

    def __getitem__(self, name):
        if name not in self.parsed:
            self.parsed[name] = None
            try:
                if os.path.getsize(self.paths[name]) <= MAX_MODULE_BYTES:
                    with open(self.paths[name], encoding="utf-8", errors="replace") as file:
                        self.parsed[name] = ast.parse(file.read()).body
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                pass
        return self.parsed[name]


def shipped_modules(folder):
    return ShippedModules(folder)


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
    reached, queue, references = set(), roots, _References()
    while queue:  # the graded function and every definition it reaches by name
        name = queue.pop()
        if name in reached or name not in definitions:
            continue
        reached.add(name)
        for statement in definitions[name]:
            queue += [n for n in references(statement) if n in definitions and n not in reached]
    read_in_full = {id(s) for name in reached for s in definitions[name]}
    found = []
    for statement in everything:
        if id(statement) in read_in_full:
            found += list(_names(statement))
            continue
        for part in _shallow(statement):
            found += list(_names(part, calls_only=True)) + _dynamic(part)
    return sorted(set(found), key=lambda item: item[1])


# --- in a child process of the grader --------------------------------------------------------------------

ANALYSIS_SECONDS = 30            # wall time; a linear walk of the largest notebook read takes a few seconds
ANALYSIS_MEMORY = 2 * 2**30      # address space of the child: syntax trees of a 64 MiB notebook fit
ANALYSIS_OUTPUT = 1 << 20


def analyse(notebook_path, folder, function_name):
    """What the check finds in a submission, as JSON-able data: {"uses": [[what, line], ...]},
    {"unreadable": why} or {"not_a_notebook": true}."""
    from harness.checks.notebook import NotebookError, definitions_source
    from harness.grading.sandbox.packing import read_regular_file

    text = read_regular_file(notebook_path)
    if text is None:
        return {"unreadable": f"{os.path.basename(notebook_path)} is not a regular file the grader can read (a link, or too large)."}
    try:
        statements = [s for _, module in definitions_source(notebook_path, text) for s in module.body]
    except NotebookError:
        return {"not_a_notebook": True}
    return {"uses": [list(use) for use in forbidden_uses(statements, function_name, shipped_modules(folder))[:100]]}


def check_in_child(notebook_path, folder, function_name, seconds=ANALYSIS_SECONDS, memory=ANALYSIS_MEMORY):
    """analyse() run in a child process limited to seconds and memory bytes; {"failed": why} when it
    could not finish within them (or crashed)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    command = [sys.executable, "-E", "-s", "-m", "harness.grading.parts.source_check", str(memory), str(seconds),
               os.fspath(notebook_path), os.fspath(folder), function_name]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, timeout=seconds, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"failed": f"reading the source took more than {seconds:g} s"}
    xcpu = getattr(signal, "SIGXCPU", None)  # Windows has none
    if xcpu is not None and done.returncode == -xcpu:
        return {"failed": f"reading the source took more than {seconds:g} s"}
    if done.returncode != 0 or len(done.stdout) > ANALYSIS_OUTPUT:
        memory_error = b"MemoryError" in done.stderr[-2000:]
        return {"failed": f"reading the source took more than {memory >> 20} MiB" if memory_error else
                f"reading the source failed (exit {done.returncode})"}
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"failed": "reading the source gave no answer"}


def _main(argv):
    memory, seconds = int(argv[0]), math.ceil(float(argv[1]))
    try:  # where the platform has resource limits (not Windows): memory and CPU; the wall clock is the parent's
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds + 1, seconds + 2))
    except (ImportError, ValueError, OSError, AttributeError):
        pass
    sys.setrecursionlimit(10_000)  # deep expressions end in RecursionError, caught as unparsable
    json.dump(analyse(argv[2], argv[3], argv[4]), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
