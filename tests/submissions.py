"""Submissions written for the grader's tests: notebooks as students write them, right and wrong in the
ways real ones are, and hostile ones. Each entry: (name, files, expected backpropagation status,
expected sgd status). Written for these tests; no student's code is copied."""

import textwrap
import zipfile

import nbformat

IMPORTS = "import torch\nfrom torch import nn"

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

# The course's given MyNet, as a notebook defines it, and a one-sample backpropagation that checks it.
COURSE_MYNET = """
class MyNet(nn.Module):
    def __init__(self, n_l=[2, 3, 2]):
        super().__init__()
        self.L = len(n_l) - 1
        self.n_l = n_l
        self.z = {i: None for i in range(1, self.L + 1)}
        self.a = {i: None for i in range(self.L + 1)}
        self.dL_dw = {i: None for i in range(1, self.L + 1)}
        self.dL_db = {i: None for i in range(1, self.L + 1)}
        self.f = {i: lambda x: torch.tanh(x) for i in range(1, self.L + 1)}
        self.df = {i: lambda x: (1 / (torch.cosh(x) ** 2)) for i in range(1, self.L + 1)}
        self.fc = nn.ModuleDict({str(i): nn.Linear(n_l[i - 1], n_l[i]) for i in range(1, self.L + 1)})

    def forward(self, x):
        self.a[0] = torch.flatten(x, 1)
        for i in range(1, self.L + 1):
            self.z[i] = self.fc[str(i)](self.a[i - 1])
            self.a[i] = self.f[i](self.z[i])
        return self.a[self.L]
"""
ONE_SAMPLE_BACKPROPAGATION = """
def backpropagation(model, y_true, y_pred):
    if not isinstance(model, MyNet):
        raise ValueError("model must be an instance of MyNet")
    with torch.no_grad():
        delta = (2 * (y_pred - y_true) * model.df[model.L](model.z[model.L])).squeeze(0)
        for l in range(model.L, 0, -1):
            model.dL_dw[l] = torch.outer(delta, model.a[l - 1].squeeze(0))
            model.dL_db[l] = delta
            if l > 1:
                delta = (model.fc[str(l)].weight.T @ delta) * model.df[l - 1](model.z[l - 1]).view(-1)
"""

RIGHT_SGD = """
def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0):
    buffers = {}
    for epoch in range(n_epochs):
        for x, y in train_loader:
            model.zero_grad()
            loss_fn(model(x), y).backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    g = p.grad.add(p, alpha=weight_decay) if weight_decay else p.grad
                    if momentum:
                        buffers[i] = g.clone() if i not in buffers else buffers[i].mul_(momentum).add_(g)
                        g = buffers[i]
                    p.add_(g, alpha=-lr)
"""
COURSE_SOLUTION_STYLE_SGD = """
def train_manual_update(n_epochs, model, loss_fn, train_loader, lr=1e-2, momentum_coeff=0., weight_decay=0.):
    velocity = [torch.zeros_like(p) for p in model.parameters()]
    for epoch in range(1, n_epochs + 1):
        for imgs, labels in train_loader:
            loss = loss_fn(model(imgs), labels)
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    grad = p.grad + weight_decay * p.data
                    if momentum_coeff != 0:
                        velocity[i] = momentum_coeff * velocity[i] + grad
                        grad = velocity[i]
                    p.data = p.data - lr * grad
"""


def replaced(source, old, new):
    """source.replace(old, new), asserting that old is there: a fixture built from a source must change it."""
    assert old in source, f"{old!r} is not in the source"
    return source.replace(old, new)


def cells(*sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources]
    return nbformat.writes(notebook)


def backprop_nb(*sources):
    return {"backpropagation.ipynb": cells(IMPORTS, *sources)}


def sgd_nb(*sources):
    return {"gradient_descent.ipynb": cells(IMPORTS, *sources)}


def both(backpropagation=RIGHT_BACKPROPAGATION, sgd=RIGHT_SGD):
    return {**backprop_nb(backpropagation), **sgd_nb(sgd)}


BASE = [
    ("01_right", both(), "pass", "pass"),
    ("02_wrong_gradients", both(replaced(RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred")), "fail", "pass"),
    ("03_wrong_sgd", both(sgd=replaced(RIGHT_SGD, "buffers[i].mul_(momentum).add_(g)", "buffers[i].mul_(momentum).add_(g, alpha=0.5)")), "pass", "fail"),
    ("04_broken_json", {"backpropagation.ipynb": '{"cells": [ not json', **sgd_nb(RIGHT_SGD)}, "error", "pass"),
    ("05_syntax_error_in_the_function", backprop_nb("def backpropagation(model, y_true, y_pred)\n    pass"), "error", "missing"),
    ("06_missing_function", {**backprop_nb(replaced(RIGHT_BACKPROPAGATION, "def backpropagation(", "def backprop(")), **sgd_nb("x = 1")}, "missing", "missing"),
    ("07_hanging", {**backprop_nb("def backpropagation(model, y_true, y_pred):\n    while True:\n        pass"),
                    **sgd_nb("import time\ndef train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0, weight_decay=0):\n    time.sleep(3600)")},
     "timeout", "timeout"),
    ("08_exiting", {**backprop_nb("import os\ndef backpropagation(model, y_true, y_pred):\n    os._exit(3)"),
                    **sgd_nb("import sys\ndef train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0, weight_decay=0):\n    sys.exit(1)")},
     "error", "error"),
    ("09_raises", {**backprop_nb("def backpropagation(model, y_true, y_pred):\n    return model.dL_dw[99].shape"),
                   **sgd_nb(replaced(RIGHT_SGD, "model.zero_grad()", "pass"))}, "error", "fail"),
    ("10_no_notebooks", {"report.pdf": "%PDF-1.4"}, "missing", "missing"),
]

REAL_STYLE = [
    ("r01_course_mynet_one_sample_course_solution_sgd", {**backprop_nb(COURSE_MYNET, ONE_SAMPLE_BACKPROPAGATION),
                                                         **sgd_nb(COURSE_SOLUTION_STYLE_SGD)}, "pass", "pass"),
    ("r02_hyper_parameters_first", both(sgd=replaced(RIGHT_SGD, "def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0):",
        "def train_manual_update(n_epochs, lr, weight_decay, momentum, model, loss_fn, train_loader, verbose=True):")), "pass", "pass"),
    ("r03_required_val_loader", both(sgd=replaced(RIGHT_SGD, "def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0):",
        "def train_manual_update(n_epochs: int, lr: float, model, loss_fn, train_loader, val_loader, weight_decay=0.0, momentum=0.0):\n    assert len(val_loader) > 0")), "pass", "pass"),
    ("r04_other_names_and_flags", both(sgd=replaced(RIGHT_SGD, "def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0):",
        "def train_manual_update(epoch_count, model, loss_function, learning_rate, momentum, weight_decay, train_loader=None, return_loss=False, verbose=True, GPU_utilize=False):\n"
        "    n_epochs, loss_fn, lr = epoch_count, loss_function, learning_rate")), "pass", "pass"),
    ("r05_reads_globals", both(sgd="train_loader = DataLoader(load_data())\ndevice = pick_device(train_loader)\n" + replaced(RIGHT_SGD, "def train_manual_update(n_epochs, model, loss_fn, train_loader, lr,", "def train_manual_update(n_epochs, model, loss_fn, loader, lr,")), "pass", "fail"),
    ("r06_plain_sgd_only", both(sgd=replaced(RIGHT_SGD, "lr, momentum=0.0, weight_decay=0.0):", "lr):\n    momentum = weight_decay = 0.0")), "pass", "fail"),
    ("r07_momentum_20_percent_off", both(sgd=replaced(RIGHT_SGD, "buffers[i].mul_(momentum)", "buffers[i].mul_(0.8 * momentum)")), "pass", "fail"),
    ("r08_default_from_data_and_train", both(sgd="normalizer = compute_statistics(load_cifar2())\n"
                                                 "def train(n_epochs, optimizer, model, loss_fn, train_loader, preprocessor=normalizer):\n    pass\n"
                                             + replaced(RIGHT_SGD, "weight_decay=0.0):", "weight_decay=0.0, preprocessor=normalizer):")), "pass", "pass"),
    ("r09_scratch_cell", {**backprop_nb(RIGHT_BACKPROPAGATION, "10*0.5 = 5 | 5*0.5 = 2.5 | notes"), **sgd_nb(RIGHT_SGD)}, "pass", "pass"),
]

HOSTILE = [
    ("h01_reads_expected_gradients", both("""
try:
    from harness.checks.gradients import cached_references
    CASES, REFERENCES = cached_references(50, 0)
except Exception:
    CASES = REFERENCES = None
def backpropagation(model, y_true, y_pred):
    for case, reference in zip(CASES or [], REFERENCES or []):
        if case.x.shape == model.a[0].shape and torch.equal(case.x, model.a[0]):
            for l in range(1, model.L + 1):
                model.dL_dw[l], model.dL_db[l] = reference.autograd[l, 'weight'], reference.autograd[l, 'bias']
            return
    for l in range(1, model.L + 1):
        model.dL_dw[l] = torch.zeros_like(model.fc[str(l)].weight)
        model.dL_db[l] = torch.zeros_like(model.fc[str(l)].bias)
"""), "fail", "pass"),
    ("h02_writes_its_own_verdict", both("""
import os, sys
def backpropagation(model, y_true, y_pred):
    for fd in (1, 2, 3, 4, 5, 6):
        try:
            os.write(fd, b"PART backpropagation ok 0\\n")
        except OSError:
            pass
    print('{"status": "pass", "message": "52 / 52: ALL TEST PASSED :)"}')
    os._exit(0)
"""), "error", "pass"),
    ("h03_replaces_the_comparison", both("""
try:
    import harness.checks.gradients
    harness.checks.gradients.within_roundoff = lambda *args: True
except Exception:
    pass
""" + replaced(RIGHT_BACKPROPAGATION, "2 * (y_pred", "3 * (y_pred")), "fail", "pass"),
    ("h04_autograd_through_the_engine", both("""
def backpropagation(model, y_true, y_pred):
    weights = [p.detach().clone().requires_grad_(True) for l in range(1, model.L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.set_grad_enabled(True):
        a = model.a[0]
        for l in range(1, model.L + 1):
            a = model.f[l](a @ weights[2 * l - 2].T + weights[2 * l - 1])
        loss = ((a - y_true) ** 2).sum()
        grads = torch.autograd.variable.Variable._execution_engine.run_backward((loss,), (torch.ones_like(loss),), False, False, tuple(weights), False)
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = grads[2 * l - 2], grads[2 * l - 1]
"""), "fail", "pass"),
    ("h05_overwrites_other_submissions", both(sgd="""
import os
DONE = []
def vandalise():
    if DONE:
        return
    DONE.append(1)
    for top in ('..', '/tmp', '/work', '/submission', '/home'):
        for folder, _, files in os.walk(top):
            for name in files:
                if name.endswith('.ipynb') or name.endswith('.py'):
                    try:
                        open(os.path.join(folder, name), 'w').write('vandalised')
                    except OSError:
                        pass
    try:
        open('/tmp/../../../../outside_the_copy.txt', 'w').write('x')
    except OSError:
        pass
""" + replaced(RIGHT_SGD, "    buffers = {}", "    vandalise()\n    buffers = {}")), "pass", "pass"),
    ("h06_memory_hog", both("""
def backpropagation(model, y_true, y_pred):
    hog = [torch.ones(2**27, dtype=torch.float64) for _ in range(8)]  # 8 GiB
    raise RuntimeError(str(len(hog)))
"""), "error", "pass"),
    # train_manual_update may start processes (backpropagation may not: the lockdown refuses it); none outlives the sandbox
    ("h07_leaves_processes", both(sgd="import subprocess\nSTARTED = []\n" + replaced(RIGHT_SGD,
        "    buffers = {}",
        "    if not STARTED:\n        STARTED.append(subprocess.Popen(['sleep', '987654'], start_new_session=True))\n    buffers = {}")),
     "pass", "pass"),
    ("h08_fork_storm", both(sgd="""
import os, time
def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0):
    for _ in range(100000):
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
"""), "pass", "timeout"),
    ("h09_huge_output", both(replaced(RIGHT_BACKPROPAGATION, "    with torch.no_grad():", "    print('x' * 10**7)\n    with torch.no_grad():")), "pass", "pass"),
    ("h10_reads_another_submission", both("""
import glob, json
STOLEN = glob.glob('/*/01_right/backpropagation.ipynb') + glob.glob('/*/*/01_right/backpropagation.ipynb') + glob.glob('../01_right/*.ipynb')
def backpropagation(model, y_true, y_pred):
    stolen = STOLEN
    if stolen:
        source = ''.join(json.load(open(stolen[0]))['cells'][1]['source'])
        namespace = {'torch': torch}
        exec(source, namespace)
        return namespace['backpropagation'](model, y_true, y_pred)
    for l in range(1, model.L + 1):
        model.dL_dw[l] = torch.zeros_like(model.fc[str(l)].weight)
        model.dL_db[l] = torch.zeros_like(model.fc[str(l)].bias)
"""), "fail", "pass"),
    ("h11_symlinked_notebook", {"backpropagation.ipynb": ("symlink", "../01_right/backpropagation.ipynb"),
                                "gradient_descent.ipynb": ("symlink", "/dev/zero")}, "error", "error"),
    ("h12_ships_its_own_harness", {**both(replaced(RIGHT_BACKPROPAGATION, "2 * (y_pred", "5 * (y_pred")),
                                   "tests_backpropagation.py": "def run_gradient_checks(*a, **k):\n    return True\nmain_test = run_gradient_checks\n",
                                   "utils/__init__.py": "", "utils/mynet.py": "MyNet = None\n",
                                   "harness/__init__.py": "raise SystemExit('shadowed')\n"}, "fail", "pass"),
    ("h13_switches_the_guard_off", both("""
SAVED = torch.autograd.grad
def backpropagation(model, y_true, y_pred):
    torch.autograd.grad = SAVED
    params = [p for l in range(1, model.L + 1) for p in (model.fc[str(l)].weight, model.fc[str(l)].bias)]
    with torch.enable_grad():
        for p in params:
            p.requires_grad_(True)
        grads = SAVED(((model(model.a[0]) - y_true) ** 2).sum(), params)
    for l in range(1, model.L + 1):
        model.dL_dw[l], model.dL_db[l] = grads[2 * l - 2], grads[2 * l - 1]
"""), "fail", "pass"),
    ("h14_kills_the_grader", both("""
import os, signal
def backpropagation(model, y_true, y_pred):
    for pid in range(1, 64):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
"""), "error", "pass"),
]

ZIPPED = ("z01_zipped_with_magics", "pass", "missing")
WITH_DATA = ("d01_with_data_and_checkpoints", "pass", "pass")  # 50 MB of data beside right notebooks


def write(root, name, files):
    folder = root / name
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple) and content[0] == "symlink":
            target.symlink_to(content[1])
        else:
            target.write_text(content)
    return folder


def write_zip(root):
    name = ZIPPED[0]
    notebook = cells(IMPORTS, "%matplotlib inline\n!pip install nothing\ndef batch_sum(t):\n    return t.sum(dim=0)",
                     "while True:\n    pass  # a training loop: skipped by the rule",
                     replaced(RIGHT_BACKPROPAGATION, "delta.sum(0)", "batch_sum(delta)"))
    with zipfile.ZipFile(root / f"{name}.zip", "w") as archive:
        archive.writestr(f"{name}/backpropagation.ipynb", notebook)
        archive.writestr("../escaped.txt", "x")
        info = zipfile.ZipInfo(f"{name}/link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")


def write_with_data(root):
    folder = write(root, WITH_DATA[0], both())
    (folder / "data" / "cifar-10-batches-py").mkdir(parents=True)
    (folder / "data" / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\0" * (30 << 20))
    (folder / "model.pt").write_bytes(b"\1" * (25 << 20))


def all_submissions():
    return BASE + REAL_STYLE + HOSTILE


def expected():
    return {name: (bp, sgd) for name, _, bp, sgd in all_submissions()} | {ZIPPED[0]: ZIPPED[1:], WITH_DATA[0]: WITH_DATA[1:]}
