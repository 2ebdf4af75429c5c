"""The comparisons a report makes of its runs, computed (and tested) here so that a sentence states a
finding instead of deciding one.

    standard_error(p, n)                  of an accuracy p measured on n images: sqrt(p (1 - p) / n)
    difference(p1, n1, p2, n2)            p1 - p2 with the standard error of the difference, each split its own n
    effective_step(lr, momentum, tau)     SGD with momentum's step in a steady gradient: lr (1 - tau) / (1 - momentum)
    settings_apart(a, b)                  the settings in which two configurations differ
    pairs_apart_in(configs, setting)      the pairs of configurations that differ in that setting alone
    mcnemar(a_right, b_right)             two models on the same images: the discordant counts and McNemar's exact p
    selected_epoch(curve, epoch, n)       whether the selected epoch stands above its neighbours or is a spike
    findings(results)                     every comparison the report states, from results.json's numbers

Each finding carries its verdict as a word ("higher", "lower", "no evidence", ...); report.typ prints the
sentence of that verdict and fails to build where a sentence claims another.

Standard errors treat each image as an independent Bernoulli trial; two models read on the same images
are compared by McNemar's test on the images where they disagree, which is what differs between them.
"""

import math

SETTINGS = ("lr", "momentum", "weight_decay", "dampening", "nesterov", "hidden")
SPIKE_STANDARD_ERRORS = 2.0  # an epoch more than this many standard errors above its neighbours' mean is a spike
ALPHA = 0.05  # McNemar's p below this: the two models differ on these images
EVIDENCE_STANDARD_ERRORS = 2.0  # two accuracies on different images: apart when further than this many standard errors
NOISIER = 1.5  # a curve whose last epochs spread this many times more than another's is the noisier one
TAIL = 10  # epochs whose mean validation accuracy scores a configuration (one epoch's reading can be a spike)


def standard_error(p, n):
    """Of an accuracy p measured on n independent images."""
    if n <= 0:
        raise ValueError(f"an accuracy needs images: n = {n}")
    return math.sqrt(p * (1 - p) / n)


def difference(p1, n1, p2, n2):
    """{"difference": p1 - p2, "standard_error": of the difference, "standard_errors": |d| / se} of two
    accuracies measured on different images (n1 and n2 each its own split's size)."""
    se = math.sqrt(standard_error(p1, n1) ** 2 + standard_error(p2, n2) ** 2)
    d = p1 - p2
    return {"difference": d, "standard_error": se, "standard_errors": abs(d) / se if se else math.inf,
            "evidence": abs(d) > EVIDENCE_STANDARD_ERRORS * se}


def effective_step(lr, momentum=0.0, dampening=0.0):
    """The step SGD with momentum takes in a steady gradient: lr (1 - dampening) / (1 - momentum); plain SGD's is lr."""
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1): {momentum}")
    return lr * (1 - dampening) / (1 - momentum) if momentum else lr


def _setting(config, key):
    value = config.get(key, (0.0 if key != "nesterov" else False) if key != "hidden" else None)
    return tuple(value) if isinstance(value, list) else value


def settings_apart(a, b, settings=SETTINGS):
    """The settings in which configurations a and b ({setting: value}) differ."""
    return {key for key in settings if _setting(a, key) != _setting(b, key)}


def pairs_apart_in(configs, setting, settings=SETTINGS):
    """[(a, b)]: the pairs of configurations that differ in setting and in nothing else."""
    return [(a, b) for i, a in enumerate(configs) for b in configs[i + 1:] if settings_apart(a, b, settings) == {setting}]


def mcnemar(a_right, b_right):
    """Two models judged on the same images ([bool] each, right or not): {"only_a", "only_b", "p"}, the
    images only a gets right, only b gets right, and McNemar's exact two-sided p (a binomial test of
    only_a against only_b with probability one half)."""
    if len(a_right) != len(b_right):
        raise ValueError("McNemar's test compares two models on the same images: the lists differ in length")
    only_a = sum(1 for a, b in zip(a_right, b_right) if a and not b)
    only_b = sum(1 for a, b in zip(a_right, b_right) if b and not a)
    n, k = only_a + only_b, min(only_a, only_b)
    p = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
    return {"only_a": only_a, "only_b": only_b, "p": p}


def selected_epoch(curve, epoch, n, window=2):
    """Whether the selected epoch (1-based) of a validation curve stands above its neighbours: {"value",
    "neighbours" the mean of the window epochs on each side, "tail" the mean of the last TAIL epochs, "spike":
    the value more than SPIKE_STANDARD_ERRORS standard errors above the neighbours on *both* sides (the first
    epoch of a plateau stands above the rise before it, but not above the plateau after it)}."""
    if not 1 <= epoch <= len(curve):
        raise ValueError(f"epoch {epoch} is not in a curve of {len(curve)} epochs")
    i = epoch - 1
    before, after = curve[max(0, i - window):i], curve[i + 1:i + 1 + window]
    sides = [sum(side) / len(side) for side in (before, after) if side]
    value = curve[i]
    neighbours = before + after
    mean = sum(neighbours) / len(neighbours) if neighbours else value
    se = standard_error(value, n)
    return {"value": value, "neighbours": mean, "tail": tail_mean(curve),
            "spike": bool(sides) and value - max(sides) > SPIKE_STANDARD_ERRORS * se}


# --- the findings the report states -------------------------------------------------------------------

# What each edition's course material leads us to expect before the run.
EXPECTATIONS = {
    "2023": {"reference_val_accuracy": 0.83, "reference": {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.0},
             "source": "The course's reference output for the 2023 handout (plain SGD at learning rate 0.01 for 30 "
                       "epochs, with momentum 0 to 0.9 and weight decay 0 to 0.01 beside it)"},
    "default": {"reference_val_accuracy": None, "reference": None, "source": None},
}


def right_answers(row):
    """A search row's per-image verdicts on the validation split ("0"/"1" per image) as [bool]."""
    return [c == "1" for c in row["val_right"]]


def tail_mean(curve, n=TAIL):
    tail = curve[-n:]
    return sum(tail) / len(tail)


def spread(curve, n=TAIL):
    """The standard deviation of a curve's last n readings."""
    tail = curve[-n:]
    m = sum(tail) / len(tail)
    return math.sqrt(sum((x - m) ** 2 for x in tail) / len(tail))


def paired(a, b):
    """Search rows a and b compared on the same validation images: accuracies, McNemar's counts and p, and the
    verdict for a: "higher", "lower", or "no evidence" (p >= ALPHA)."""
    test = mcnemar(right_answers(a), right_answers(b))
    verdict = "no evidence" if test["p"] >= ALPHA else "higher" if test["only_a"] > test["only_b"] else "lower"
    return {"a": a["val_accuracy"], "b": b["val_accuracy"], **test, "verdict": verdict}


def unpaired(p1, n1, p2, n2):
    """p1 against p2 measured on different images: the difference, its standard error (each split its own n),
    and the verdict for p1: "higher", "lower" or "no evidence" (within EVIDENCE_STANDARD_ERRORS)."""
    found = difference(p1, n1, p2, n2)
    apart = found["standard_errors"] > EVIDENCE_STANDARD_ERRORS
    return {**found, "verdict": ("higher" if found["difference"] > 0 else "lower") if apart else "no evidence"}


def noisier(a, b):
    """Which of two rows' validation curves spreads more over its last TAIL epochs: "a", "b" or "neither"."""
    sa, sb = spread(a["val_curve"]), spread(b["val_curve"])
    verdict = "a" if sa > NOISIER * sb else "b" if sb > NOISIER * sa else "neither"
    return {"a": sa, "b": sb, "verdict": verdict}


def _same(x, y):
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def momentum_findings(search):
    """For each configuration with momentum whose plain twin (the same settings, momentum 0) was run: the
    paired comparison with it; and with plain SGD at momentum's effective step, where that control was run."""
    found = []
    for plain, with_momentum in pairs_apart_in(search, "momentum"):
        if with_momentum["momentum"] == 0:
            plain, with_momentum = with_momentum, plain
        if plain["momentum"] != 0:
            continue
        step = effective_step(with_momentum["lr"], with_momentum["momentum"], with_momentum.get("dampening", 0.0))
        control = next((row for row in search if row["momentum"] == 0 and _same(row["lr"], step)
                        and settings_apart(row, plain) == {"lr"}), None)
        entry = {"momentum": search.index(with_momentum), "plain": search.index(plain), "effective_step": step,
                 "against_plain": paired(with_momentum, plain),
                 "final_loss": {"momentum": with_momentum["loss_curve"][-1], "plain": plain["loss_curve"][-1]},
                 "control": None}
        if control is not None:
            entry["control"] = {"index": search.index(control), "against": paired(with_momentum, control),
                                "noisier": noisier(control, with_momentum)}
        found.append(entry)
    return found


def weight_decay_findings(search):
    """Each configuration with weight decay against its twin without (the same settings otherwise): the paired
    comparison on validation, and both training accuracies and gaps (training minus validation)."""
    found = []
    for a, b in pairs_apart_in(search, "weight_decay"):
        without, with_decay = (a, b) if a["weight_decay"] == 0 else (b, a)
        if without["weight_decay"] != 0:
            continue
        found.append({"with": search.index(with_decay), "without": search.index(without),
                      "against_without": paired(with_decay, without),
                      "gap": {"with": with_decay["train_accuracy"] - with_decay["val_accuracy"],
                              "without": without["train_accuracy"] - without["val_accuracy"]}})
    return found


def selection_findings(search, n_val):
    """The configuration with the best mean validation accuracy over its last TAIL epochs (the first on a tie),
    the runner-up compared with it on the same images, how far the configurations' last TAIL readings spread
    (least and most), and what the best single epoch would have chosen."""
    scores = [tail_mean(row["val_curve"]) for row in search]
    selected = max(range(len(search)), key=lambda i: scores[i])
    spreads = [spread(row["val_curve"]) for row in search]
    found = {"index": selected, "score": scores[selected], "scores": scores, "runner_up": None,
             "spread": {"least": min(spreads), "most": max(spreads)}}
    if len(search) > 1:
        runner_up = max((i for i in range(len(search)) if i != selected), key=lambda i: scores[i])
        found["runner_up"] = {"index": runner_up, "score": scores[runner_up],
                              "against": paired(search[selected], search[runner_up])}
    best = [max(range(len(row["val_curve"])), key=lambda e: row["val_curve"][e]) for row in search]
    single = max(range(len(search)), key=lambda i: search[i]["val_curve"][best[i]])
    epoch = best[single] + 1
    reading = selected_epoch(search[single]["val_curve"], epoch, n_val)
    found["single_epoch"] = {"index": single, "epoch": epoch, **reading, "verdict": "spike" if reading["spike"] else "stands"}
    return found


def summary(verdicts):
    """One word for several paired verdicts: "none run", "no evidence", "higher", "lower" or "mixed"."""
    words = set(verdicts) - {"no evidence"}
    return "none run" if not verdicts else "no evidence" if not words else words.pop() if len(words) == 1 else "mixed"


def confidence_finding(confidence):
    """The median probability of the predicted class on right and on wrong test answers, and whether the model
    is "less sure" of its mistakes (or "as sure", or has made "no errors")."""
    right, wrong = confidence["right"], confidence["wrong"]
    verdict = "no errors" if wrong is None else "less sure" if wrong < right else "as sure"
    return {"right": right, "wrong": wrong, "verdict": verdict}


def findings(results):
    """Everything the report says of the numbers, from results.json's own numbers (recomputed by the report's
    build to check that the stored findings are those of the stored numbers)."""
    search, sizes, sel = results["search"], results["dataset"]["sizes"], results["selected"]
    n_val, n_test = sizes["val"], sizes["test"]
    edition = results["settings"].get("edition", "default")
    decays = sorted({row["weight_decay"] for row in search})
    decay = weight_decay_findings(search)
    activations = results.get("extension", {}).get("activations")
    chosen = search[sel["index"]]
    matrix = sel["confusion_matrix"]
    counts = [sum(row) for row in matrix]
    error_rates = [(counts[i] - matrix[i][i]) / counts[i] for i in range(len(matrix))]
    selected_wrong = [not right for right in right_answers(chosen)]
    wrong_everywhere = [not any(image) for image in zip(*(right_answers(row) for row in search))]
    expected = EXPECTATIONS.get(edition, EXPECTATIONS["default"])
    reference = None
    if expected["reference"] is not None:
        row = next((r for r in search if settings_apart(r, expected["reference"], ("lr", "momentum", "weight_decay",
                                                                                    "dampening", "nesterov")) == set()), None)
        if row is not None:
            reference = {"index": search.index(row), "score": tail_mean(row["val_curve"]),
                         "against_expected": unpaired(tail_mean(row["val_curve"]), n_val, expected["reference_val_accuracy"], n_val),
                         "selected_against": paired(chosen, row)}
    return {
        "momentum": momentum_findings(search),
        "weight_decay": decay,
        "weight_decay_verdict": {"verdict": summary([w["against_without"]["verdict"] for w in decay])},
        "decays": decays,
        "selection": selection_findings(search, n_val),
        "generalisation": {"gap": chosen["train_accuracy"] - chosen["val_accuracy"],
                           "test_against_val": unpaired(results["test_accuracy"], n_test, chosen["val_accuracy"], n_val),
                           "against_chance": unpaired(results["test_accuracy"], n_test, 0.5, n_test)},
        "errors": {"rates": error_rates, "first_against_second": unpaired(error_rates[0], counts[0], error_rates[1], counts[1]),
                   "validation_errors": sum(selected_wrong),
                   "shared_by_every_configuration": sum(w and s for w, s in zip(wrong_everywhere, selected_wrong)),
                   "confidence": confidence_finding(sel["test_confidence"])},
        "expected": {**expected, "reference_run": reference},
        "extension": {"relu_against_sigmoid": unpaired(activations["ReLU"]["best_val_accuracy"], n_val,
                                                       activations["sigmoid"]["best_val_accuracy"], n_val)} if activations else {},
        "checks": {"gradients": results.get("backpropagation", {}).get("all_passed"),
                   "bitwise": all(row["bitwise_equal"] and row["losses_equal"] for row in search)},
    }
