"""Taking functions out of notebooks: what runs, what is skipped, and why a function is missing."""

import pytest

from harness.checks.notebook import NotebookError, definitions_source, load_notebook
from tests.fixtures.submissions import cells


def write(tmp_path, *sources):
    path = tmp_path / "nb.ipynb"
    path.write_text(cells(*sources))
    return path


def test_rule_keeps_definitions_and_skips_expensive_statements(tmp_path):
    path = write(tmp_path, "import math\nN = 3\n%time x = 1\n!ls",
                 "data = load_cifar2()\nlosses = train(1)\nmodel = Net()\nalias = Net\nfor i in range(10**12):\n    pass",
                 "class Net:\n    pass\ndef f():\n    return math.sqrt(N)")
    loaded = load_notebook(path)
    assert loaded.get("f")() == pytest.approx(3 ** 0.5)
    assert not {"data", "losses", "model", "alias"} & set(loaded.namespace)
    kept = [type(s).__name__ for _, module in definitions_source(path) for s in module.body]
    assert kept == ["Import", "Assign", "ClassDef", "FunctionDef"]


def test_a_default_computed_from_data_keeps_the_definition(tmp_path):
    path = write(tmp_path, "normalizer = fit_normalizer(load_cifar2())",
                 "def train_manual_update(n_epochs, model, lr, preprocessor=normalizer):\n    return n_epochs * lr",
                 "@register(load_cifar2)\ndef train(n):\n    return n")
    loaded = load_notebook(path)
    assert loaded.get("train_manual_update")(2, None, 0.5) == 1.0
    assert loaded.get("train")(3) == 3
    with pytest.raises(RuntimeError, match="default of 'preprocessor'"):
        loaded.get("train_manual_update").__defaults__[0].mean
    assert any("decorator left off" in note for note in loaded.notes)


def test_a_scratch_cell_is_skipped_with_a_note(tmp_path):
    loaded = load_notebook(write(tmp_path, "def f():\n    return 1", "10*0.5 = 5 | 5*0.5 = 2.5"))
    assert loaded.get("f")() == 1 and loaded.notes[0].startswith("code cell 2 skipped: syntax error at line 1")


def test_why_missing_tells_the_truth(tmp_path):
    broken = load_notebook(write(tmp_path, "def backpropagation(model, y_true, y_pred)\n    pass"))
    assert broken.tries_to_define("backpropagation")
    assert "code cell 1, which defines backpropagation, has a syntax error at line 1" in broken.why_missing("backpropagation")
    absent = load_notebook(write(tmp_path, "def backprop():\n    pass"))
    assert not absent.tries_to_define("backpropagation")
    assert "defines no function backpropagation" in absent.why_missing("backpropagation")
    failing = load_notebook(write(tmp_path, "@undefined_decorator_factory()\ndef backpropagation():\n    pass"))
    assert failing.get("backpropagation") is not None  # the decorator is left off, the function kept


def test_invalid_notebooks_are_an_error(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("[]")
    with pytest.raises(NotebookError, match="is not a valid notebook"):
        load_notebook(path)


def test_top_level_blocks_are_run_as_jupyter_runs_them(tmp_path):
    from harness.checks.notebook import load_notebook
    from tests.fixtures.submissions import cells

    path = tmp_path / "n.ipynb"
    path.write_text(cells(
        "from __future__ import annotations\nimport torch",
        "if torch.cuda.is_available():\n    device = 'cuda'\n    print('GPU')\nelif False:\n    device = 'mps'\nelse:\n    device = 'cpu'",
        "try:\n    import a_module_nobody_has\nexcept ImportError:\n    a_module_nobody_has = None\nelse:\n    a_module_nobody_has.login()",
        "with torch.no_grad():\n    SCALE = 2.0\n    train(model)",
        "if len(load_data()) > 3:\n    LOADED = True",  # a test that loads data is never computed
        "def f(x: Tensor) -> Undefined:\n    return x.to(device), a_module_nobody_has, SCALE"))
    loaded = load_notebook(path)
    assert (loaded.namespace["device"], loaded.namespace["a_module_nobody_has"], loaded.namespace["SCALE"]) == ("cpu", None, 2.0)
    assert "LOADED" not in loaded.namespace and loaded.get("f") is not None  # hints unevaluated, as after the __future__ cell
    path.write_text(cells("import torch", "def f(x: Tensor) -> None:\n    return x"))  # without it, the hint is evaluated
    assert load_notebook(path).get("f") is None


def test_a_global_the_grader_will_not_have_is_said_in_the_notebook_as_the_grader_would():
    from harness.checks.grader_globals import missing_globals

    history = ["import torch", "for k in range(1):\n    SCALE = 2.0", "LR = 0.1",
               "if torch.cuda.is_available():\n    DEVICE = 'cuda'\nelse:\n    DEVICE = 'cpu'",
               "def f(x):\n    return x.to(DEVICE) * SCALE * LR + torch.ones(1)"]
    namespace = {}
    for cell in history:
        exec(cell, namespace)
    assert list(missing_globals(namespace["f"], history=history)) == ["SCALE"]  # set in a loop; DEVICE and LR are kept
    assert missing_globals(namespace["f"], history=None) == {}  # outside a notebook: nothing to compare with
