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
