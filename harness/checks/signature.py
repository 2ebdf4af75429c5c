"""Calling a student's train_manual_update by parameter name, whatever it named its parameters.

The handout asks for "a learning rate lr parameter", then "an additional weight_decay parameter" and
"an additional momentum parameter"; real functions name and order them in many ways:
(n_epochs, model, loss_fn, train_loader, lr=1e-2, momentum_coeff=0., weight_decay=0.),
(epoch_count, model, loss_function, learning_rate, momentum, weight_decay), ... call_plan maps each
parameter to its role by name (synonyms below); a required loader the grader has no use for gets a
small loader, optional flags keep their defaults.
"""

import inspect
from dataclasses import dataclass, field


def _normal(name):
    return name.lower().replace("_", "")


SYNONYMS = {
    "n_epochs": ["n_epochs", "epochs", "num_epochs", "nb_epochs", "n_epoch", "epoch_count", "number_of_epochs",
                 "max_epochs", "num_epoch", "nepochs", "epoch", "n_iter", "iterations", "n_iterations", "epoch_num"],
    "model": ["model", "net", "network", "mlp", "nn_model", "neural_net", "classifier", "my_model"],
    "loss_fn": ["loss_fn", "loss_function", "loss_func", "criterion", "loss", "lossfn", "cost_fn", "cost_function", "objective"],
    "train_loader": ["train_loader", "loader", "trainloader", "train_dataloader", "dataloader", "data_loader",
                     "training_loader", "train_data_loader", "train_data", "train_set", "data", "dl_train", "train_dl"],
    "lr": ["lr", "learning_rate", "learningrate", "eta", "step_size", "alpha", "lr_rate"],
    "momentum": ["momentum", "momentum_coeff", "momentum_coef", "momentum_coefficient", "mu", "beta",
                 "momentum_factor", "momentum_rate", "momentum_term", "m"],
    "weight_decay": ["weight_decay", "wd", "decay", "weight_decay_coeff", "l2", "l2_reg", "l2_lambda", "lambda_",
                     "lmbda", "lambd", "lam", "reg", "regularization", "l2_penalty", "weightdecay", "weight_decay_rate"],
    "dampening": ["dampening", "dampening_coeff", "tau", "damp"],
    "nesterov": ["nesterov", "use_nesterov", "nesterov_momentum"],
    "extra_loader": ["val_loader", "valid_loader", "validation_loader", "val_dataloader", "test_loader",
                     "loader_val", "val_data", "validation_data", "eval_loader", "val_dl"],
    "device": ["device", "dev"],
}
ROLE_OF = {_normal(name): role for role, names in SYNONYMS.items() for name in names}
HYPER_PARAMETERS = ("lr", "momentum", "weight_decay", "dampening", "nesterov")


@dataclass
class CallPlan:
    """How to call the function: which parameter takes each role, and what could not be filled."""
    roles: dict = field(default_factory=dict)       # role -> parameter name
    positional_only: list = field(default_factory=list)
    unfillable: list = field(default_factory=list)  # required parameters the grader cannot fill
    defaults: dict = field(default_factory=dict)    # role -> default value

    @property
    def supported(self):
        """The SGD settings the function takes."""
        return {role for role in HYPER_PARAMETERS if role in self.roles}

    def describe(self):
        return ", ".join(f"{role}={name}" for role, name in self.roles.items() if role != name) or "the course's names"


def call_plan(function):
    """Map the function's parameters to roles by name."""
    plan = CallPlan()
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        plan.unfillable.append("(no readable signature)")
        return plan
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        role = ROLE_OF.get(_normal(p.name))
        if role is None and "epoch" in p.name.lower():
            role = "n_epochs"
        if role is not None and role not in plan.roles:
            plan.roles[role] = p.name
            if p.default is not p.empty:
                plan.defaults[role] = p.default
            if p.kind == p.POSITIONAL_ONLY:
                plan.positional_only.append(p.name)
        elif p.default is p.empty:
            plan.unfillable.append(p.name)
    return plan


def call_arguments(plan, function, values):
    """(args, kwargs) for function: values maps roles to values; roles absent from values keep defaults."""
    args, kwargs = [], {}
    for p in inspect.signature(function).parameters.values():
        role = next((r for r, name in plan.roles.items() if name == p.name), None)
        if role is None or role not in values:
            continue
        if p.name in plan.positional_only:
            args.append(values[role])
        else:
            kwargs[p.name] = values[role]
    return args, kwargs
