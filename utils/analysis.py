"""The comparisons a report makes of its runs, computed (and tested) here so that a sentence states a
finding instead of deciding one.

    standard_error(p, n)                  of an accuracy p measured on n images: sqrt(p (1 - p) / n)
    difference(p1, n1, p2, n2)            p1 - p2 with the standard error of the difference, each split its own n
    effective_step(lr, momentum, tau)     SGD with momentum's step in a steady gradient: lr (1 - tau) / (1 - momentum)
    settings_apart(a, b)                  the settings in which two configurations differ
    pairs_apart_in(configs, setting)      the pairs of configurations that differ in that setting alone
    mcnemar(a_right, b_right)             two models on the same images: the discordant counts and McNemar's exact p
    selected_epoch(curve, epoch, n)       whether the selected epoch stands above its neighbours or is a spike

Standard errors treat each image as an independent Bernoulli trial; two models read on the same images
are compared by McNemar's test on the images where they disagree, which is what differs between them.
"""

import math

SETTINGS = ("lr", "momentum", "weight_decay", "dampening", "nesterov", "hidden")
SPIKE_STANDARD_ERRORS = 2.0  # an epoch more than this many standard errors above its neighbours' mean is a spike


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
            "evidence": abs(d) > se}


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
    "neighbours", their mean, "tail" the mean of the last 10 epochs, "spike": the value more than
    SPIKE_STANDARD_ERRORS standard errors above its neighbours' mean}."""
    if not 1 <= epoch <= len(curve):
        raise ValueError(f"epoch {epoch} is not in a curve of {len(curve)} epochs")
    i = epoch - 1
    neighbours = [curve[j] for j in range(max(0, i - window), min(len(curve), i + window + 1)) if j != i]
    value = curve[i]
    mean = sum(neighbours) / len(neighbours) if neighbours else value
    se = standard_error(value, n)
    tail = curve[-10:]
    return {"value": value, "neighbours": mean, "tail": sum(tail) / len(tail),
            "spike": bool(neighbours) and value - mean > SPIKE_STANDARD_ERRORS * se}
