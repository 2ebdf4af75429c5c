"""`python tests_backpropagation.py grade DIR` on generated submissions, right and broken in every way."""

import filecmp
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from utils.grading import main as grade_main
from utils.notebook import definitions_source, load_definitions, NotebookError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

RIGHT_BACKPROPAGATION = """
def backpropagation(model, y_true, y_pred):
    with torch.no_grad():
        delta = 2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1])
"""
TEXTBOOK_SGD = """
def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    buffers = {}
    for epoch in range(n_epochs):
        for x, y in train_loader:
            model.zero_grad()
            loss_fn(model(x), y).backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    g = p.grad + weight_decay * p
                    if momentum:
                        buffers[i] = g.clone() if i not in buffers else momentum * buffers[i] + (1 - dampening) * g
                        g = g + momentum * buffers[i] if nesterov else buffers[i]
                    p -= lr * g
"""


def notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def own(name, folder):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / name, folder / name)


def backprop_notebook(folder, body, *extra_cells):
    notebook(folder / "backpropagation.ipynb", "import torch", *extra_cells, body)


def sgd_notebook(folder, body):
    notebook(folder / "gradient_descent.ipynb", "import torch\nfrom torch import nn", body)


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    expected = {}

    def add(name, backpropagation_status, sgd_status):
        expected[name] = (backpropagation_status, sgd_status)
        return root / name

    folder = add("01_right", "pass", "pass")
    own("backpropagation.ipynb", folder)
    own("gradient_descent.ipynb", folder)

    folder = add("02_wrong_gradients", "fail", "pass")
    backprop_notebook(folder, RIGHT_BACKPROPAGATION.replace("delta.sum(0)", "delta.mean(0)"))
    own("gradient_descent.ipynb", folder)

    folder = add("03_wrong_sgd", "pass", "fail")
    own("backpropagation.ipynb", folder)
    sgd_notebook(folder, TEXTBOOK_SGD)

    folder = add("04_broken_json", "error", "pass")
    folder.mkdir()
    (folder / "backpropagation.ipynb").write_text('{"cells": [ not json')
    own("gradient_descent.ipynb", folder)

    folder = add("05_syntax_error", "error", "missing")
    backprop_notebook(folder, "def backpropagation(model, y_true, y_pred)\n    pass")

    folder = add("06_missing_function", "missing", "missing")
    backprop_notebook(folder, RIGHT_BACKPROPAGATION.replace("def backpropagation(", "def backprop("))
    sgd_notebook(folder, "x = 1")

    folder = add("07_hanging", "timeout", "timeout")
    backprop_notebook(folder, "def backpropagation(model, y_true, y_pred):\n    while True:\n        pass")
    sgd_notebook(folder, "import time\ndef train_manual_update(n_epochs, model, loss_fn, train_loader, lr, **kw):\n    time.sleep(3600)")

    folder = add("08_exiting", "error", "error")
    backprop_notebook(folder, "import os\ndef backpropagation(model, y_true, y_pred):\n    os._exit(3)")
    sgd_notebook(folder, "import sys\ndef train_manual_update(n_epochs, model, loss_fn, train_loader, lr, **kw):\n    sys.exit(1)")

    folder = add("09_flood_and_global_state", "pass", "pass")
    backprop_notebook(folder, RIGHT_BACKPROPAGATION.replace(
        "    with torch.no_grad():",
        "    print('x' * 100000)\n    torch.set_default_dtype(torch.float32)\n"
        "    open('written_by_submission.txt', 'a').write('x')\n    with torch.no_grad():"))
    own("gradient_descent.ipynb", folder)

    # magics, shell lines, a helper in another cell, an extra keyword, top-level training that must be skipped
    folder = add("10_zipped_with_magics", "pass", "missing")
    backprop_notebook(folder, RIGHT_BACKPROPAGATION.replace("model.dL_db[l] = delta.sum(0)", "model.dL_db[l] = batch_sum(delta)")
                      .replace("y_pred):", "y_pred, verbose=False):"),
                      "%matplotlib inline\n!pip install nothing\ndef batch_sum(t):\n    return t.sum(dim=0)",
                      "while True:\n    pass  # a training loop: skipped by the rule")
    with zipfile.ZipFile(root / "10_zipped_with_magics.zip", "w") as archive:
        archive.write(folder / "backpropagation.ipynb", "10_zipped_with_magics/backpropagation.ipynb")
    shutil.rmtree(folder)

    folder = add("11_raises", "error", "fail")
    backprop_notebook(folder, "def backpropagation(model, y_true, y_pred):\n    return model.dL_dw[99].shape")
    sgd_notebook(folder, TEXTBOOK_SGD.replace("p -= lr * g", "p.add_(g, alpha=-lr)").replace("model.zero_grad()", "pass"))

    folder = add("12_no_notebooks", "missing", "missing")
    folder.mkdir()
    (folder / "report.pdf").write_bytes(b"%PDF-1.4")

    before = root.parent / "before"
    shutil.copytree(root, before)
    return root, before, expected


@pytest.fixture(scope="module")
def graded(submissions, tmp_path_factory):
    root, _, _ = submissions
    out = tmp_path_factory.mktemp("out") / "verdicts.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root),
                             "--json", str(out), "--timeout", "10", "--jobs", "2"],
                            capture_output=True, text=True, timeout=300)
    return result, json.loads(out.read_text())


def test_every_submission_gets_its_expected_status(submissions, graded):
    _, _, expected = submissions
    result, verdicts = graded
    assert result.returncode == 0, result.stderr
    got = {v["submission"]: (v["backpropagation"]["status"], v["sgd"]["status"]) for v in verdicts}
    assert got == expected


def test_json_has_the_documented_shape(graded):
    _, verdicts = graded
    for v in verdicts:
        assert set(v) == {"submission", "backpropagation", "sgd", "seconds"}
        for part in ("backpropagation", "sgd"):
            assert set(v[part]) == {"status", "message"} and v[part]["message"]
        assert isinstance(v["seconds"], float)


def test_messages_say_what_is_wrong(graded):
    _, verdicts = graded
    by_name = {v["submission"]: v for v in verdicts}
    assert "averaged over the batch" in by_name["02_wrong_gradients"]["backpropagation"]["message"]
    assert "another floating-point order" in by_name["03_wrong_sgd"]["sgd"]["message"]
    assert "not a valid notebook" in by_name["04_broken_json"]["backpropagation"]["message"]
    assert "code cell 2 has a syntax error" in by_name["05_syntax_error"]["backpropagation"]["message"]
    assert "defines no function backpropagation" in by_name["06_missing_function"]["backpropagation"]["message"]
    assert "did not finish within 10 s" in by_name["07_hanging"]["backpropagation"]["message"]
    assert "exit code 3" in by_name["08_exiting"]["backpropagation"]["message"]
    assert "raised SystemExit" in by_name["08_exiting"]["sgd"]["message"]
    assert "gradient_descent.ipynb is not in the submission" in by_name["10_zipped_with_magics"]["sgd"]["message"]
    assert "raised KeyError: 99" in by_name["11_raises"]["backpropagation"]["message"]


def test_table_on_stdout(submissions, graded):
    _, _, expected = submissions
    result, _ = graded
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["submission", "backpropagation", "sgd", "seconds"]
    for name, (bp, sgd) in expected.items():
        assert any(line.split()[:3] == [name, bp, sgd] for line in lines), name


def test_submission_folders_are_unchanged(submissions, graded):
    root, before, _ = submissions
    comparison = filecmp.dircmp(root, before)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    assert not (root / "09_flood_and_global_state" / "written_by_submission.txt").exists()


def test_unreadable_submissions_dir_is_a_clear_error(tmp_path, capsys):
    assert grade_main([str(tmp_path / "nowhere")]) == 2
    assert "Cannot read SUBMISSIONS_DIR" in capsys.readouterr().err


def test_bad_command_line_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        grade_main([str(tmp_path), "--timeout", "-1"])
    assert stop.value.code == 2 and "--timeout must be a positive number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        grade_main([])
    assert stop.value.code == 2


# --- the definitions-only rule -------------------------------------------------------------------

def test_rule_keeps_definitions_and_skips_expensive_statements(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook(path, "import math\nN = 3\n%time x = 1\n!ls",
             "data = load_cifar2()\nlosses = train(1)\nmodel = Net()\nfor i in range(10**12):\n    pass",
             "class Net:\n    pass\ndef f():\n    return math.sqrt(N)")
    namespace = load_definitions(path)
    assert namespace["f"]() == pytest.approx(3 ** 0.5)
    assert "data" not in namespace and "losses" not in namespace and "model" not in namespace
    kept = [type(s).__name__ for _, module in definitions_source(path) for s in module.body]
    assert kept == ["Import", "Assign", "ClassDef", "FunctionDef"]


def test_rule_rejects_invalid_notebooks(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("[]")
    with pytest.raises(NotebookError, match="is not a valid notebook"):
        load_definitions(path)
