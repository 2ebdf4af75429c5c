"""The graded part `backpropagation` of backpropagation.ipynb.

In the sandbox (run), with autograd locked away: the gradient battery's nets are rebuilt from the
grader's weights (with the notebook's own MyNet when it fits the course's contract), the submitted
function runs on each, and what it stored goes back as raw numbers. In the grader (judge): the
source is read for autograd, then every case is judged against autograd and finite differences
computed here (harness.checks.gradients). Raw outcome, per case i:

    data["cases"][i] = {"error": null | [kind, message], "gradients": {"<l>.<kind>": "array" | null | type name}}
    arrays["c<i>.<l>.<kind>"] = the gradient stored for layer l
"""

import os

import torch

from harness.checks.cases import set_activation
from harness.checks.gradients import cached_references, judge_case, summarize
from harness.checks.guard import RawOutcome, run_backpropagation
from harness.checks.references import parameter_items
from harness.checks.tolerances import FORWARD_MATCH_RTOL
from harness.grading.sandbox import protocol
from harness.grading.parts.part import Part
from harness.grading.parts.source_check import check_in_child
from harness.grading.parts.verdict import Verdict, error, verdict_of
from harness.status import Status
from utils.metrics import relative_error
from utils.mynet import MyNet

N_RANDOM, SEED = 50, 0
COURSE_ATTRIBUTES = ("L", "fc", "z", "a", "f", "df", "dL_dw", "dL_db")
ERROR_KINDS = ("raised", "autograd", "edited")


def write_inputs(folder):
    """cases.bin: every case's widths, activation, weights, inputs and targets."""
    cases, _ = cached_references(N_RANDOM, SEED)
    arrays, specs = {}, []
    for i, case in enumerate(cases):
        specs.append({"n_l": case.n_l, "activation": case.activation})
        arrays[f"c{i}.x"], arrays[f"c{i}.y"] = case.x.numpy(), case.y_true.numpy()
        for l, kind, p in parameter_items(case.build()):
            arrays[f"c{i}.{l}.{kind}"] = p.detach().numpy()
    (folder / "cases.bin").write_bytes(protocol.pack({"cases": specs}, arrays))


# --- in the sandbox -------------------------------------------------------------------------------------

def notebook_net_class(namespace):
    """(the notebook's MyNet when it fits the course's contract, else None; which net builds the cases)."""
    cls = namespace.get("MyNet")
    if not isinstance(cls, type):
        return None, "the harness's MyNet (the notebook defines none)"
    try:
        torch.manual_seed(0)
        net = cls([2, 3, 2])
        missing = [name for name in COURSE_ATTRIBUTES if not hasattr(net, name)]
        if missing:
            return None, f"the harness's MyNet (the notebook's MyNet lacks {', '.join(missing)})"
    except Exception as failure:
        return None, f"the harness's MyNet (the notebook's MyNet([2, 3, 2]) raised {type(failure).__name__})"
    return cls, "the notebook's MyNet"


def _case_model(net_class, spec, weights, x):
    model = net_class(list(spec["n_l"]))
    set_activation(model, spec["activation"])
    model = model.to(torch.float64)
    with torch.no_grad():
        for l in range(1, len(spec["n_l"])):
            model.fc[str(l)].weight.copy_(weights[f"{l}.weight"])
            model.fc[str(l)].bias.copy_(weights[f"{l}.bias"])
        y = model(x)
    return model, y


def _array(tensor):
    return tensor.detach().cpu().numpy() if tensor.dtype != torch.bfloat16 else tensor.detach().to(torch.float32).numpy()


def run(function, loaded, inputs, verify=None):
    with open(os.path.join(inputs, "cases.bin"), "rb") as file:
        meta, data = protocol.unpack(file.read())
    net_class, net_note = notebook_net_class(loaded.namespace)
    result, arrays = {"net": net_note, "cases": []}, {}
    for i, spec in enumerate(meta["cases"]):
        x, y_true = torch.from_numpy(data[f"c{i}.x"].copy()), torch.from_numpy(data[f"c{i}.y"].copy())
        weights = {key: torch.from_numpy(data[f"c{i}.{key}"].copy()) for l in range(1, len(spec["n_l"]))
                   for key in (f"{l}.weight", f"{l}.bias")}
        model, expected_output = _case_model(MyNet, spec, weights, x)
        if net_class is not None:
            try:
                candidate, output = _case_model(net_class, spec, weights, x)
                if output.shape == expected_output.shape and relative_error(output, expected_output) < FORWARD_MATCH_RTOL:
                    model = candidate
                else:
                    result["net"] = "the harness's MyNet (the notebook's MyNet computes another forward pass)"
            except Exception as failure:
                result["net"] = f"the harness's MyNet (the notebook's MyNet failed: {type(failure).__name__})"
        outcome = run_backpropagation(function, model, x, y_true, verify)
        entry = {"error": list(outcome.error) if outcome.error else None, "gradients": {}}
        for (l, kind), got in outcome.gradients.items():
            if isinstance(got, torch.Tensor):
                arrays[f"c{i}.{l}.{kind}"] = _array(got)
                entry["gradients"][f"{l}.{kind}"] = "array"
            else:
                entry["gradients"][f"{l}.{kind}"] = got  # None or a type name
        result["cases"].append(entry)
    return result, arrays


# --- in the grader ----------------------------------------------------------------------------------------

def decode(envelope, cases, references):
    """[RawOutcome] per case, checked against what the grader asked for; ProtocolError if it does not fit."""
    entries = protocol.expect_list(envelope.data.get("cases"), len(cases), "cases")
    if len(entries) != len(cases):
        raise protocol.ProtocolError(f"the sandbox returned {len(entries)} cases, not {len(cases)}")
    outcomes = []
    for i, (entry, reference) in enumerate(zip(entries, references)):
        entry = protocol.expect_dict(entry, f"case {i}")
        failure, outcome = entry.get("error"), RawOutcome()
        if failure is not None:
            failure = protocol.expect_list(failure, 2, f"case {i}'s error")
            if len(failure) != 2 or failure[0] not in ERROR_KINDS:
                raise protocol.ProtocolError(f"case {i}'s error is not [kind, message]")
            outcome.error = (failure[0], protocol.text(failure[1], f"case {i}'s error"))
        marks = protocol.expect_dict(entry.get("gradients", {}), f"case {i}'s gradients", max_length=64)
        for l, kind, param in parameter_items(reference.model):
            mark = marks.get(f"{l}.{kind}")
            if mark == "array":
                array = protocol.bounded_array(envelope.arrays, f"c{i}.{l}.{kind}", 10 * param.numel() + 100)
                outcome.gradients[l, kind] = torch.from_numpy(array.copy()) if array is not None else "missing or oversized array"
            else:
                outcome.gradients[l, kind] = protocol.text(mark, "a gradient's type") if mark is not None else None
        outcomes.append(outcome)
    return outcomes


def read_source(context):
    """(a fail Verdict when the code backpropagation reaches (in the notebook and the .py modules it
    ships) uses autograd; an error Verdict when the grader cannot read the notebook; else None, notes:
    dynamic code is a note). Read in a child process with limits (source_check.check_in_child): what it cannot
    read within them is a note, and the runtime's verdict stands (the lockdown decides)."""
    found = check_in_child(context.notebook_path, context.folder, "backpropagation")
    if "failed" in found:
        return None, [f"the source was not read for autograd: {found['failed']}; the run, under the lockdown, decides"]
    if "unreadable" in found:
        return error(protocol.text(found["unreadable"], "why")[:300]), []
    uses = [(protocol.text(what, "use")[:100], line) for what, line in found.get("uses", [])[:100]
            if isinstance(line, int)]
    autograd = [(what, line) for what, line in uses if what.startswith("autograd")]
    dynamic = sorted({what for what, _ in uses if not what.startswith("autograd")})
    notes = [f"the source uses {', '.join(dynamic[:3])}, which a reading cannot follow; the run, under the lockdown, decides"] if dynamic else []
    if not autograd:
        return None, notes
    what = ", ".join(sorted({u for u, _ in autograd})[:4])
    return Verdict(Status.FAIL, f"backpropagation's code uses {what} (line {autograd[0][1]} of its cell or module); autograd is "
                                "not allowed: compute the gradients by hand."), []


def judge(envelope, context):
    cases, references = cached_references(N_RANDOM, SEED)
    outcomes = decode(envelope, cases, references)
    result = summarize([judge_case(case, reference, outcome) for case, reference, outcome in zip(cases, references, outcomes)])
    net = envelope.data.get("net")
    net = protocol.text(net, "net") if isinstance(net, str) else "the harness's MyNet"
    return verdict_of(result, before=[net_said(net)], after=envelope.notes[:5])


def net_said(net):
    """Which MyNet the test nets were built from, and why it matters to the student."""
    if net == "the notebook's MyNet":
        return ("the test nets were built from your notebook's MyNet (it computes the course's forward pass), so your "
                "backpropagation was checked on the class it is written for")
    return (f"the test nets were built from {net}: your backpropagation must work on the course's MyNet, the one the "
            "handout gives, whatever your notebook changes in it")


def reproduction(failure):
    return "\n".join([
        "from harness.checks.cases import gradient_cases",
        "from harness.checks.gradients import check_case",
        "",
        f"case = next(c for c in gradient_cases() if c.name == {failure['case']!r})",
        "print('widths', case.n_l, '| activation', case.activation, '| weights seed', case.seed, '| batch', case.batch)",
        "for failure in check_case(backpropagation, case).failures:",
        "    print(failure)",
    ])


PART = Part(key="backpropagation", notebook="backpropagation.ipynb", function="backpropagation",
            unit="cases (one sample each)", module=__name__, write_inputs=write_inputs, run=run, judge=judge,
            reproduction=reproduction, points=60.0, lockdown=True, read_source=read_source)
