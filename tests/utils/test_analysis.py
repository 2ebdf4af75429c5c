"""utils/analysis.py on constructed results: each finding's true and false case."""

import math

import pytest

from utils import analysis as A


def test_the_standard_error_of_a_difference_uses_each_splits_own_size():
    # the slip of the second round: the test split's size used for the validation accuracy too
    found = A.difference(0.928, 2000, 0.931, 1000)
    assert found["standard_error"] == pytest.approx(math.sqrt(0.928 * 0.072 / 2000 + 0.931 * 0.069 / 1000))
    assert found["standard_error"] > A.difference(0.928, 2000, 0.931, 2000)["standard_error"]
    assert not found["evidence"] and A.difference(0.95, 2000, 0.90, 1000)["evidence"]


@pytest.mark.parametrize("lr, momentum, dampening, step", [(0.01, 0.9, 0.0, 0.1), (0.01, 0.8, 0.0, 0.05), (0.05, 0.0, 0.0, 0.05),
                                                            (0.01, 0.9, 0.5, 0.05)])
def test_the_effective_step_of_momentum(lr, momentum, dampening, step):
    assert A.effective_step(lr, momentum, dampening) == pytest.approx(step)


def test_momentum_of_one_has_no_effective_step():
    with pytest.raises(ValueError):
        A.effective_step(0.01, 1.0)


SEARCH_2023 = [  # the 2023 edition's reference configurations: weight decay varied alone, momentum varied alone
    {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.0},
    {"lr": 0.01, "momentum": 0.8, "weight_decay": 0.0},
    {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},
    {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.001},
    {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.01},
    {"lr": 0.02, "momentum": 0.0, "weight_decay": 0.0},
    {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.001, "nesterov": True},
]


def test_which_configurations_differ_in_one_setting_only():
    decay = A.pairs_apart_in(SEARCH_2023, "weight_decay")
    assert len(decay) == 3  # 0 against 0.001, 0 against 0.01, 0.001 against 0.01: weight decay is isolated
    assert len(A.pairs_apart_in(SEARCH_2023, "momentum")) == 3
    assert A.pairs_apart_in(SEARCH_2023, "nesterov") == []  # Nesterov came with other changes: not isolated
    assert A.settings_apart(SEARCH_2023[0], SEARCH_2023[6]) == {"lr", "momentum", "weight_decay", "nesterov"}
    assert A.settings_apart({"hidden": [128, 32]}, {"hidden": (128, 32)}) == set()


def test_mcnemar_compares_two_models_on_the_same_images():
    a = [True] * 90 + [False] * 10
    b = [True] * 80 + [False] * 10 + [True] * 10  # b fixes a's 10 mistakes and makes 10 of its own: no evidence
    found = A.mcnemar(a, b)
    assert (found["only_a"], found["only_b"], found["p"]) == (10, 10, 1.0)
    better = A.mcnemar([True] * 100, [True] * 85 + [False] * 15)  # 15 discordant images, all for a
    assert better["p"] == pytest.approx(2 / 2 ** 15) and better["p"] < 0.001
    assert A.mcnemar([True, False], [True, False])["p"] == 1.0
    with pytest.raises(ValueError):
        A.mcnemar([True], [True, False])


def test_a_selected_epoch_that_is_a_spike_is_told_from_one_that_stands():
    noisy = [0.90, 0.91, 0.90, 0.92, 0.90, 0.931, 0.905, 0.91, 0.915, 0.91, 0.918, 0.912]
    spike = A.selected_epoch(noisy, 6, n=1000)
    assert spike["value"] == 0.931 and spike["spike"] and spike["tail"] == pytest.approx(sum(noisy[-10:]) / 10)
    plateau = [0.80, 0.85, 0.90, 0.925, 0.928, 0.931, 0.930, 0.929, 0.930, 0.928]
    assert not A.selected_epoch(plateau, 6, n=1000)["spike"]
    with pytest.raises(ValueError):
        A.selected_epoch(plateau, 11, n=1000)


# --- findings() on a constructed search -----------------------------------------------------------------

def _row(lr, momentum=0.0, weight_decay=0.0, right=None, curve=None, train=0.95, **other):
    right = right if right is not None else [True] * 900 + [False] * 100
    curve = curve if curve is not None else [sum(right) / len(right)] * 12
    return {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "dampening": other.get("dampening", 0.0),
            "nesterov": other.get("nesterov", False), "hidden": [128, 32], "val_curve": curve,
            "val_accuracy": sum(right) / len(right), "val_right": "".join("1" if r else "0" for r in right),
            "train_accuracy": train, "loss_curve": [0.5, 0.3], "bitwise_equal": True, "losses_equal": True}


def _results(search, edition="default", selected=None, wrong_confidence=0.6):
    scores = [A.tail_mean(row["val_curve"]) for row in search]
    index = selected if selected is not None else scores.index(max(scores))
    return {"search": search, "dataset": {"sizes": {"train": 9000, "val": 1000, "test": 2000}},
            "settings": {"edition": edition}, "test_accuracy": 0.9, "backpropagation": {"all_passed": True},
            "selected": {"index": index, "confusion_matrix": [[900, 100], [100, 900]],
                         "test_confidence": {"right": 0.95, "wrong": wrong_confidence}},
            "extension": {"activations": {"ReLU": {"best_val_accuracy": 0.92}, "sigmoid": {"best_val_accuracy": 0.82}}}}


def test_momentum_is_compared_with_plain_sgd_at_the_same_lr_and_at_its_effective_step():
    plain = _row(0.01, right=[True] * 800 + [False] * 200)
    momentum = _row(0.01, 0.9, right=[True] * 900 + [False] * 100)
    control = _row(0.1, right=[True] * 900 + [False] * 100)  # as good as momentum, on the same images
    found = A.findings(_results([plain, control, momentum]))["momentum"]
    assert len(found) == 1 and found[0]["effective_step"] == pytest.approx(0.1)
    assert found[0]["against_plain"]["verdict"] == "higher" and found[0]["against_plain"]["only_a"] == 100
    assert found[0]["control"]["index"] == 1 and found[0]["control"]["against"]["verdict"] == "no evidence"
    # the control at another step (0.05 is momentum 0.8's) is no control for momentum 0.9
    found = A.findings(_results([plain, _row(0.05), momentum]))["momentum"]
    assert found[0]["control"] is None


def test_weight_decay_found_alone_and_said_with_one_word():
    without = _row(0.01, 0.9)
    small = _row(0.01, 0.9, 1e-3)
    large = _row(0.01, 0.9, 1e-2, right=[True] * 950 + [False] * 50)
    found = A.findings(_results([without, small, large]))
    assert [(w["with"], w["without"]) for w in found["weight_decay"]] == [(1, 0), (2, 0)]  # 0.001 vs 0.01 is no twin
    assert [w["against_without"]["verdict"] for w in found["weight_decay"]] == ["no evidence", "higher"]
    assert found["weight_decay_verdict"]["verdict"] == "higher"
    mixed = _results([without, _row(0.02, 0.9, 1e-3), _row(0.01, 0.8, 1e-2)])  # decay always with another change
    assert A.findings(mixed)["weight_decay"] == [] and A.findings(mixed)["weight_decay_verdict"]["verdict"] == "none run"
    assert A.summary(["higher", "lower"]) == "mixed" and A.summary(["no evidence"]) == "no evidence"


def test_selection_scores_the_tail_and_says_a_spike_and_a_tie_with_the_runner_up():
    steady = _row(0.01, curve=[0.90] * 12)
    spiky = _row(0.1, curve=[0.85] * 5 + [0.95] + [0.85] * 6)  # its best epoch is the best of the search: a spike
    found = A.findings(_results([steady, spiky]))["selection"]
    assert found["index"] == 0 and found["score"] == pytest.approx(0.90)
    assert found["single_epoch"]["index"] == 1 and found["single_epoch"]["epoch"] == 6
    assert found["single_epoch"]["verdict"] == "spike"
    assert found["runner_up"]["index"] == 1 and found["runner_up"]["against"]["verdict"] == "no evidence"  # same images right
    plateau = _row(0.1, curve=[0.85, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95])
    assert A.findings(_results([steady, plateau]))["selection"]["single_epoch"]["verdict"] == "stands"


def test_generalisation_errors_and_the_expectation_of_the_2023_edition():
    reference = _row(0.01, curve=[0.835] * 12)
    better = _row(0.01, 0.9, right=[True] * 900 + [False] * 100, curve=[0.9] * 12)
    results = _results([reference, better], edition="2023")
    found = A.findings(results)
    ref = found["expected"]["reference_run"]
    assert ref["index"] == 0 and ref["against_expected"]["verdict"] == "no evidence"  # 83.5% is the course's ~83%
    assert found["expected"]["reference_val_accuracy"] == 0.83 and A.findings(_results([better]))["expected"]["reference_run"] is None
    assert found["generalisation"]["test_against_val"]["verdict"] == "no evidence"  # 0.90 test, 0.90 validation
    assert found["errors"]["first_against_second"]["verdict"] == "no evidence"  # 100 of 1000 wrong in each class
    assert found["errors"]["confidence"]["verdict"] == "less sure"
    assert A.findings(_results([better], wrong_confidence=0.97))["errors"]["confidence"]["verdict"] == "as sure"
    assert found["errors"]["shared_by_every_configuration"] == 100  # both miss the last 100 images
    results["test_accuracy"] = 0.85
    assert A.findings(results)["generalisation"]["test_against_val"]["verdict"] == "lower"


def test_the_noisier_curve_is_the_one_whose_last_epochs_spread_more():
    calm, jumpy = _row(0.01, curve=[0.9] * 12), _row(0.1, curve=[0.85, 0.95] * 6)
    assert A.noisier(jumpy, calm)["verdict"] == "a" and A.noisier(calm, jumpy)["verdict"] == "b"
    assert A.noisier(jumpy, jumpy)["verdict"] == "neither"
    assert A.noisier(jumpy, calm)["a"] == pytest.approx(0.05)


def test_two_accuracies_on_different_images_are_apart_beyond_two_standard_errors():
    assert A.unpaired(0.95, 2000, 0.90, 1000)["verdict"] == "higher"
    assert A.unpaired(0.90, 1000, 0.95, 2000)["verdict"] == "lower"
    assert A.unpaired(0.928, 2000, 0.931, 1000)["verdict"] == "no evidence"
