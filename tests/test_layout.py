"""The package's shape: imports form no circle and only point down the layers
utils <- harness.status <- harness.checks <- harness.grading <- harness.classroom <- harness.release <- harness.cli <- tests_backpropagation."""

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["utils", "harness.status", "harness.checks", "harness.grading", "harness.classroom", "harness.release", "harness.cli",
          "tests_backpropagation"]


def module_name(path):
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """{module: {modules it imports}} over utils/, harness/ and tests_backpropagation.py (imports inside functions too)."""
    files = [PROJECT_ROOT / "tests_backpropagation.py", *(PROJECT_ROOT / "harness").rglob("*.py"), *(PROJECT_ROOT / "utils").rglob("*.py")]
    modules = {module_name(f): f for f in files}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def layer(module):
    return max(i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".") or
               (prefix == "harness.status" and module == "harness"))


def test_no_import_circle():
    graph, state, cycle = import_graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycle.append(path + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycle, cycle


def test_no_arrow_runs_back_up():
    up = [(a, b) for a, targets in import_graph().items() for b in targets if layer(b) > layer(a)]
    assert not up, up


def test_what_students_get_imports_nothing_of_the_graders():
    graph = import_graph()
    checks = {m for m in graph if m.startswith("harness.checks")}
    assert checks and not {t for m in checks for t in graph[m] if t.startswith(("harness.grading", "harness.classroom", "harness.release", "harness.cli"))}


def test_each_folder_of_the_grader_holds_one_concern():
    """The sandbox machinery, the graded parts and the course's administration each in a package of their own."""
    graph = import_graph()
    sandbox = {m for m in graph if m.startswith("harness.grading.sandbox.")}
    assert sandbox and not {t for m in sandbox for t in graph[m] if t.startswith("harness.classroom")}
    assert {m.rsplit(".", 1)[1] for m in graph if m.startswith("harness.classroom.")} >= {"collect", "staging", "lateness", "gradebook", "feedback", "groups"}
