"""The graded part `train_manual_update` of gradient_descent.ipynb (key "sgd").

In the sandbox (run): the function is called by parameter name on each SGD setting it takes
(harness.checks.sgd), from a seeded model and loader, and the parameters after every pass over the
loader go back as raw numbers. In the grader (judge): they are compared with torch.optim.SGD's,
computed here. Raw outcome:

    data["plan"] = {"roles": {role: parameter}, "unfillable": [parameter], "positional_only": [parameter]}
    data["outcomes"][str(i)] = {"error": null | message, "raised": bool, "passes": n}   (i: index in SGD_CONFIGS)
    arrays["o<i>.e<k>.<parameter>"] = the parameter after pass k (k < min(n, MAX_PASSES))
    arrays["o<i>.one.<parameter>"] = the parameter after one step on one batch
"""

import json
import os

import torch

from harness.checks.sgd import N_EPOCHS, SGD_CONFIGS, SgdOutcome, judge_sgd, reference_states, run_train_manual_update
from harness.checks.signature import SYNONYMS, CallPlan
from harness.grading.sandbox import protocol
from harness.grading.parts.part import Part
from harness.grading.parts.verdict import verdict_of

SEED = 0
# Passes over the training loader kept per setting: a right function makes N_EPOCHS, one that also
# measures its accuracy on the loader twice that; anything beyond is counted, not sent.
MAX_PASSES = 4 * N_EPOCHS + 2
MAX_NAME = 100


def write_inputs(folder):
    """sgd.json: the settings, epochs and seed; torch.optim.SGD's references are made here, once."""
    (folder / "sgd.json").write_text(json.dumps({"configs": SGD_CONFIGS, "n_epochs": N_EPOCHS, "seed": SEED}))
    reference_states(SGD_CONFIGS, N_EPOCHS, SEED)


def _array(tensor):
    return tensor.detach().cpu().numpy() if tensor.dtype != torch.bfloat16 else tensor.detach().to(torch.float32).numpy()


def run(function, loaded, inputs, verify=None):
    with open(os.path.join(inputs, "sgd.json")) as file:
        settings = json.load(file)
    plan, outcomes = run_train_manual_update(function, settings["configs"], settings["n_epochs"], settings["seed"])
    data = {"plan": {"roles": plan.roles, "unfillable": plan.unfillable[:20], "positional_only": plan.positional_only},
            "outcomes": {}}
    arrays = {}
    for i, outcome in outcomes.items():
        states = outcome.states or []
        data["outcomes"][str(i)] = {"error": outcome.error, "raised": outcome.raised, "passes": len(states)}
        for epoch, state in enumerate(states[:MAX_PASSES]):
            for name, value in state.items():
                arrays[f"o{i}.e{epoch}.{name}"] = _array(value)
        for name, value in (outcome.one_step or {}).items():
            arrays[f"o{i}.one.{name}"] = _array(value)
    return data, arrays


def _names(value, what):
    return [protocol.text(v, what)[:MAX_NAME] for v in protocol.expect_list(value, 50, what)]


def decode_plan(data):
    plan = protocol.expect_dict(data.get("plan"), "plan")
    roles = protocol.expect_dict(plan.get("roles", {}), "roles", max_length=len(SYNONYMS))
    if any(role not in SYNONYMS or not isinstance(name, str) for role, name in roles.items()):
        raise protocol.ProtocolError("the call plan names an unknown role")
    return CallPlan(roles={role: name[:MAX_NAME] for role, name in roles.items()},
                    unfillable=_names(plan.get("unfillable", []), "unfillable"),
                    positional_only=_names(plan.get("positional_only", []), "positional_only"))


def _state(arrays, prefix, expected_state):
    """{parameter: tensor} of the parameters the reference has, shaped as it has them (others are left out)."""
    state = {}
    for name, expected in expected_state.items():
        array = protocol.bounded_array(arrays, prefix + name, expected.numel())
        if array is not None and tuple(array.shape) == tuple(expected.shape):
            state[name] = torch.from_numpy(array.copy())
    return state


def decode_outcomes(data, arrays, references):
    """{config index: SgdOutcome}, with only what the grader asked for."""
    entries = protocol.expect_dict(data.get("outcomes", {}), "outcomes", max_length=len(SGD_CONFIGS))
    outcomes = {}
    for key, entry in entries.items():
        if not key.isdigit() or int(key) >= len(SGD_CONFIGS):
            raise protocol.ProtocolError(f"an outcome for setting {key[:20]!r}, which the grader did not ask for")
        i, entry = int(key), protocol.expect_dict(entry, f"outcome {key}")
        if entry.get("error") is not None:
            outcomes[i] = SgdOutcome(error=protocol.text(entry["error"], "error"), raised=entry.get("raised") is True)
            continue
        passes = protocol.expect_int(entry.get("passes", 0), 0, 10**9, "passes")
        expected_states, expected_one = references[i]
        reference_state = expected_states[0]
        states = [_state(arrays, f"o{i}.e{k}.", reference_state) for k in range(min(passes, MAX_PASSES))]
        outcomes[i] = SgdOutcome(states=states, one_step=_state(arrays, f"o{i}.one.", expected_one), passes=passes)
    return outcomes


def judge(envelope, context):
    references = reference_states(SGD_CONFIGS, N_EPOCHS, SEED)
    plan = decode_plan(envelope.data)
    outcomes = decode_outcomes(envelope.data, envelope.arrays, references)
    result = judge_sgd(plan, outcomes, references, SGD_CONFIGS, N_EPOCHS)
    return verdict_of(result, after=envelope.notes[:5])


def reproduction(failure):
    config = failure.get("config")
    if config is None:
        return None
    return "\n".join([
        "from tests_backpropagation import check_sgd_equivalence",
        "",
        f"check_sgd_equivalence(train_manual_update, configs=[{config!r}])  # epochs {N_EPOCHS}, seed {SEED}, as graded",
    ])


PART = Part(key="sgd", notebook="gradient_descent.ipynb", function="train_manual_update",
            unit="course settings (learning rate, weight decay, momentum, both)", module=__name__,
            write_inputs=write_inputs, run=run, judge=judge, reproduction=reproduction, points=40.0)
