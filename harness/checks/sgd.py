"""The SGD check: a hand-written train_manual_update against torch.optim.SGD(foreach=False).

torch.optim.SGD with learning rate gamma, momentum mu, dampening tau, weight decay lambda does, for
every parameter theta with gradient g at step t:

    g <- g + lambda theta                          if lambda != 0
    b <- g (t = 1),  b <- mu b + (1 - tau) g       if mu != 0
    g <- g + mu b (Nesterov), g <- b (otherwise)   if mu != 0
    theta <- theta - gamma g

The course asks for lr, then weight decay, then momentum, with "exactly the same results". A setting
passes when after every epoch every parameter is within SGD_RTOL of PyTorch's (a right update in
another operation order rounds differently, see harness.tolerances); torch.equal everywhere earns
the distinction "bitwise". Dampening and Nesterov are beyond the course: tested only when the
function takes them, and reported as distinctions.

run_train_manual_update calls the submission (in grading, inside the sandbox) and returns raw
parameter snapshots; judge_sgd compares them with references it computes itself.
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from harness.checks.grader_globals import grader_failure
from harness.checks.precision import float64_default
from harness.checks.results import CheckResult, Failure
from harness.checks.signature import call_arguments, call_plan
from harness.checks.tolerances import SGD_RTOL
from utils.data import make_loader
from utils.metrics import relative_error
from utils.snapshots import ParameterRecorder, parameter_state

N_EPOCHS = 3

# Each course setting alone, then together: which one fails tells what is wrong (see sgd_cause).
COURSE_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
]
# Beyond the course: distinctions only.
EXTRA_CONFIGS = [
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01, "nesterov": True},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.001},
]
SGD_CONFIGS = COURSE_CONFIGS + EXTRA_CONFIGS
TASKS = {"lr": "the learning rate (task 5)", "weight_decay": "weight decay (task 6)", "momentum": "momentum (task 7)"}


def describe(config):
    return "{" + ", ".join(f"{k}={v}" for k, v in config.items()) + "}"


def sgd_problem(seed):
    """A small seeded float64 model and a function making its training loader (70 samples, batches of 16)."""
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(70, 3, 2, 2, dtype=torch.float64, generator=generator)
    y = torch.randint(0, 3, (70,), generator=generator)
    dataset = torch.utils.data.TensorDataset(x, y)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3)).to(torch.float64)
    # Batches in a fixed order: a function that also iterates the loader to measure its accuracy must
    # not change the order its training sees (a shuffling loader draws a new order per pass).
    return model, lambda: make_loader(dataset, batch_size=16)


def one_step_problem(seed):
    """The same model and one full batch: one step, to see which parameters a setting gets wrong."""
    model, _ = sgd_problem(seed)
    generator = torch.Generator().manual_seed(seed + 2)
    data = torch.utils.data.TensorDataset(torch.randn(16, 3, 2, 2, dtype=torch.float64, generator=generator),
                                          torch.randint(0, 3, (16,), generator=generator))
    return model, lambda: make_loader(data, 16)


def states_with_torch_sgd(model, loader, n_epochs, config):
    """Parameter states after every epoch of torch.optim.SGD(foreach=False) with cross-entropy."""
    optimizer = torch.optim.SGD(model.parameters(), foreach=False, **config)
    loss_fn, states = nn.CrossEntropyLoss(), []
    with torch.enable_grad():
        for _ in range(n_epochs):
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
            states.append(parameter_state(model))
    return states


def reference_states(configs, n_epochs, seed):
    """{config index: (states after each epoch, state after the one step)} by torch.optim.SGD."""
    return _reference_states(tuple(tuple(sorted(c.items())) for c in configs), n_epochs, seed)


@lru_cache(maxsize=64)
def _reference_states(configs, n_epochs, seed):
    configs = [dict(c) for c in configs]
    with float64_default():
        result = {}
        for i, config in enumerate(configs):
            model, loader = sgd_problem(seed)
            one_model, one_loader = one_step_problem(seed)
            result[i] = (states_with_torch_sgd(model, loader(), n_epochs, config),
                         states_with_torch_sgd(one_model, one_loader(), 1, config)[0])
        return result


# --- calling the submission ------------------------------------------------------------------------

@dataclass
class SgdOutcome:
    """What train_manual_update did with one configuration: an error, or its snapshots.
    raised: the error is an exception of the function (a NameError for a notebook global is a
    mistake of the contract, not an exception of the code: the message says which global)."""
    error: str = None
    states: list = None      # parameter states after each epoch
    one_step: dict = None    # parameter state after one step on one batch
    raised: bool = False
    passes: int = None       # passes over the loader, where more were made than states were kept


def _short(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _explain(error, function_name):
    """(message, raised) for an exception of the submitted function."""
    if isinstance(error, NameError) and getattr(error, "name", None):
        return (f"{function_name} reads the notebook global {error.name!r}, which the grader does not create "
                f"(the notebook computes it outside the function): use the function's own parameters instead"), False
    return f"{function_name} raised {_short(error)}", True


def _call(function, plan, model, loader, n_epochs, config):
    values = {"n_epochs": n_epochs, "model": model, "loss_fn": nn.CrossEntropyLoss(), "train_loader": loader,
              "extra_loader": make_loader(loader.dataset, 16) if hasattr(loader, "dataset") else loader,
              "device": torch.device("cpu"), **config}
    for role in ("momentum", "weight_decay", "dampening"):
        if role in plan.roles and role not in config:
            values[role] = 0.0
    if "nesterov" in plan.roles and "nesterov" not in config:
        values["nesterov"] = False
    args, kwargs = call_arguments(plan, function, values)
    with torch.enable_grad():
        function(*args, **kwargs)


def run_train_manual_update(function, configs, n_epochs=N_EPOCHS, seed=0, name="train_manual_update"):
    """Call function once per configuration it supports; returns (plan, {index: SgdOutcome})."""
    plan = call_plan(function)
    outcomes = {}
    if plan.unfillable or not {"n_epochs", "model", "loss_fn", "train_loader", "lr"} <= set(plan.roles):
        return plan, outcomes
    for i, config in enumerate(configs):
        if not set(config) <= plan.supported:
            continue
        with float64_default():
            model, loader = sgd_problem(seed)
            recorder = ParameterRecorder(loader(), model)
            try:
                _call(function, plan, model, recorder, n_epochs, config)
                states = recorder.finish()
                one_model, one_loader = one_step_problem(seed)
                _call(function, plan, one_model, one_loader(), 1, config)
                outcomes[i] = SgdOutcome(states=states, one_step=parameter_state(one_model))
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # SystemExit too
                message, raised = _explain(error, name)
                outcomes[i] = SgdOutcome(error=message, raised=raised)
    return plan, outcomes


# --- judging ---------------------------------------------------------------------------------------

def without_repeats(states):
    """The snapshots with passes that changed nothing left out: a function that also iterates the
    training loader to measure its accuracy makes two passes per epoch, one of them without updates."""
    kept = []
    for state in states:
        if not kept or any(not torch.equal(state[name], kept[-1][name]) for name in state):
            kept.append(state)
    return kept


def largest_difference(states, reference):
    """(epoch, name, max |difference|, relative error, bitwise) of the first epoch whose worst parameter
    is off by more than SGD_RTOL (else of the worst epoch); bitwise: torch.equal everywhere."""
    worst, bitwise = (0, None, 0.0, 0.0), True
    for epoch, (state, expected_state) in enumerate(zip(states, reference), start=1):
        epoch_worst = (epoch, None, 0.0, 0.0)
        for name, expected in expected_state.items():
            got = state.get(name)
            if got is None or got.shape != expected.shape or not torch.isfinite(got).all():
                return epoch, name, float("inf"), float("inf"), False
            if not torch.equal(got, expected):
                bitwise = False
                relative = relative_error(got, expected)
                if relative > epoch_worst[3]:
                    epoch_worst = (epoch, name, (got - expected).abs().max().item(), relative)
        if epoch_worst[3] > SGD_RTOL:
            return (*epoch_worst, False)
        if epoch_worst[3] > worst[3]:
            worst = epoch_worst
    return (*worst, bitwise)


def sgd_cause(config, epoch, passed_settings, one_step_wrong):
    """Name the mistake by the setting that fails; the course settings are tried alone first."""
    momentum, decay = config.get("momentum", 0), config.get("weight_decay", 0)
    plain_ok = passed_settings.get("plain", False)
    if set(config) == {"lr"}:
        if one_step_wrong is not None and not one_step_wrong and epoch >= 1:
            return "the first step is right but later ones are not: zero the gradients before each backward pass (they accumulate)"
        return "the plain step is wrong: zero the gradients before each backward and update theta <- theta - lr * g"
    if decay and not momentum:
        if one_step_wrong and all(n.endswith("bias") for n in one_step_wrong):
            return "weight decay is not applied to the biases (torch.optim.SGD decays every parameter)"
        return "weight decay differs: PyTorch adds it to the gradient, g <- g + weight_decay * theta" + ("" if plain_ok else " (the plain step is wrong too)")
    if momentum and not decay and not config.get("dampening") and not config.get("nesterov"):
        if epoch > 1 and one_step_wrong is not None and not one_step_wrong:
            return "the momentum buffer does not persist across epochs (reset each epoch?): it belongs to the optimizer"
        return "the momentum buffer is wrong: b <- g on the first step, then b <- mu * b + g, and theta <- theta - lr * b"
    inherited = _failed_course_settings(config, passed_settings)
    if inherited:
        return f"follows from the mistake named for the course setting{'s' if len(inherited) > 1 else ''} {' and '.join(inherited)}: fix it first"
    if config.get("dampening"):
        return "dampening misapplied: the first step sets b <- g (no (1 - dampening)), later steps b <- mu * b + (1 - dampening) * g"
    if config.get("nesterov"):
        return "Nesterov momentum ignored or wrong: with nesterov=True the step uses g + mu * b"
    if decay and momentum and not (passed_settings.get("weight_decay", True) and passed_settings.get("momentum", True)):
        wrong = [name for name in ("momentum", "weight_decay") if not passed_settings.get(name, True)]
        return f"follows from the {' and '.join(wrong)} mistake named for that setting alone: fix it first"
    if decay and momentum and passed_settings.get("weight_decay") and passed_settings.get("momentum"):
        return "weight decay combined with momentum in the wrong order: add weight_decay * theta to g before the momentum buffer"
    return "the update differs from torch.optim.SGD: g <- g + lambda theta; b <- mu b + (1 - tau) g; theta <- theta - gamma b"


def _failed_course_settings(config, passed_settings):
    """The failed course settings that a setting beyond the course (dampening, Nesterov) builds on: their
    mistake, not dampening or Nesterov, is the likely cause."""
    if not (config.get("dampening") or config.get("nesterov")):
        return []
    within = {key for key in ("momentum", "weight_decay") if config.get(key)}
    return [name for name, ok in passed_settings.items()
            if not ok and (name == "plain" or set(name.split("+")) <= within)]


def ignored_setting(config, states, n_epochs, seed=0):
    """The settings whose removal from config reproduces states (the function ignores them), or None."""
    removable = [key for key in ("momentum", "weight_decay", "nesterov", "dampening") if key in config]
    for size in range(1, len(removable) + 1):
        for dropped in itertools.combinations(removable, size):
            if "momentum" in dropped:
                dropped = set(dropped) | {"nesterov", "dampening"}
            without = {k: v for k, v in config.items() if k not in dropped}
            expected = reference_states([without], n_epochs, seed)[0][0]
            if largest_difference(states, expected)[3] <= SGD_RTOL:
                return " and ".join(sorted(set(dropped) & set(config)))
    return None


def _setting_name(config):
    keys = set(config) - {"lr"}
    return "plain" if not keys else "+".join(sorted(keys))


def judge_sgd(plan, outcomes, references, configs=SGD_CONFIGS, n_epochs=N_EPOCHS, name="train_manual_update"):
    """CheckResult of raw outcomes against torch.optim.SGD references (see reference_states)."""
    failures, passed_settings, bitwise, extra_results = [], {}, True, {}
    required = {"n_epochs": "the number of epochs", "model": "the model", "loss_fn": "the loss function",
                "train_loader": "the training loader", "lr": "a learning rate"}
    missing_roles = [text for role, text in required.items() if role not in plan.roles]
    if plan.unfillable or missing_roles:
        what = ", ".join([f"parameter {p!r}" for p in plan.unfillable] + missing_roles)
        cause = (f"{name} has required parameters the grader cannot fill or lacks some: {what}; "
                 f"the handout's signature is (n_epochs, model, loss_fn, train_loader, lr, weight_decay, momentum)")
        return CheckResult(False, 0, len(COURSE_CONFIGS), [Failure("signature", cause)], unit="settings")
    n_course, n_passed, root_cause = 0, 0, None
    for i, config in enumerate(configs):
        course = config in COURSE_CONFIGS
        label = describe(config)
        if not set(config) <= plan.supported:
            if course:
                n_course += 1
                lacking = sorted(set(config) - plan.supported)
                failures.append(Failure(label, f"{name} has no {' or '.join(TASKS.get(k, k) for k in lacking)} parameter"
                                        f" ({', '.join(lacking)}); the handout asks for it by name", config=config))
            else:
                extra_results[_setting_name(config)] = (None, "not a parameter of the function (beyond the course)")
            continue
        outcome = outcomes.get(i)
        if outcome is None:
            failure = Failure(label, "no result came back for this setting", config=config)
        elif outcome.error:
            failure = Failure(label, outcome.error, config=config, raised=outcome.raised)
        elif (outcome.passes or 0) > len(outcome.states) or len(without_repeats(outcome.states)) != n_epochs:
            passes = outcome.passes if (outcome.passes or 0) > len(outcome.states) else len(without_repeats(outcome.states))
            failure = Failure(label, config=config, cause=f"{name} trained for {passes} passes over the training loader for n_epochs={n_epochs}; it must run exactly n_epochs epochs")
        else:
            expected, expected_one = references[i]
            states = without_repeats(outcome.states)
            epoch, parameter, difference, relative, equal = largest_difference(states, expected)
            bitwise &= equal or not course
            failure = None
            if relative > SGD_RTOL:
                ignored = ignored_setting(config, states, n_epochs)
                one = outcome.one_step or {}
                one_step_wrong = {n for n, v in expected_one.items()
                                  if n not in one or one[n].shape != v.shape or relative_error(one[n], v) > SGD_RTOL}
                first_step_right = one_step_wrong is not None and not one_step_wrong
                if ignored:
                    cause = f"{ignored} {'are' if ' and ' in ignored else 'is'} ignored: the result equals torch.optim.SGD without it"
                elif root_cause and first_step_right:
                    cause = root_cause  # one mistake explains every setting whose first step is right: named once
                else:
                    cause = sgd_cause(config, epoch, passed_settings, one_step_wrong)
                if set(config) == {"lr"} and first_step_right:
                    root_cause = cause
                failure = Failure(label, f"likely cause: {cause}", config=config, detail=
                                  f"after epoch {epoch} parameter '{parameter}' differs from torch.optim.SGD by up to {difference:.2e} (relative {relative:.1e})")
        if course:
            n_course += 1
            n_passed += failure is None
            passed_settings[_setting_name(config)] = failure is None
            if failure:
                failures.append(failure)
        else:
            extra_results[_setting_name(config)] = (failure is None, str(failure) if failure else "")
    result = CheckResult(not failures, n_passed, n_course, failures, unit="settings")
    result.settings = passed_settings
    if not failures:  # a distinction is said only of results that exist: not judged while a course setting fails
        result.distinctions["bitwise equal to torch.optim.SGD"] = (bitwise, "" if bitwise else "equal to round-off only, as the course allows")
    for setting, (ok, detail) in extra_results.items():
        result.distinctions[f"{setting} (beyond the course)"] = (bool(ok), detail)
    if plan.describe() != "the course's names":
        result.notes.append(f"called by name: {plan.describe()}")
    return result


def check_sgd_equivalence(train_manual_update, configs=None, n_epochs=N_EPOCHS, seed=0, verbose=True):
    """Run torch.optim.SGD(foreach=False) and train_manual_update on the same seeded model and data.

    train_manual_update is called by parameter name (harness.signature) on every configuration its
    parameters allow. Returns a CheckResult: passed when the course settings (lr, weight decay,
    momentum, both) all match to round-off after every epoch; the distinctions say whether they
    match bit for bit and how dampening and Nesterov fare.
    """
    configs = SGD_CONFIGS if configs is None else configs
    references = reference_states(configs, n_epochs, seed)
    plan, outcomes = run_train_manual_update(train_manual_update, configs, n_epochs, seed)
    result = judge_sgd(plan, outcomes, references, configs, n_epochs)
    lacking = grader_failure(train_manual_update, "train_manual_update")
    if lacking is not None:  # what the grader will say: the same verdict here as there
        result.passed = False
        result.failures.insert(0, lacking)
    if verbose:
        print("SGD equivalence: " + "\n".join(result.report()))
    return result
