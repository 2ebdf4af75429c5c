"""The figures carry what DEVELOPERS.md asks of every plot: a title, labelled axes with units, and
epochs on whole-number ticks."""

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from utils import plotting  # noqa: E402


def test_learning_curves_have_titles_units_and_whole_epoch_ticks():
    curves = {"SGD": {"loss": [0.7, 0.6, 0.5, 0.45, 0.4], "val_accuracy": [0.6, 0.7, 0.75, 0.8, 0.82]}}
    fig = plotting.learning_curves(curves, "Five epochs")
    fig.canvas.draw()
    left, right = fig.axes
    assert fig._suptitle.get_text() == "Five epochs"
    assert (left.get_ylabel(), right.get_ylabel()) == ("mean cross-entropy (nats)", "accuracy (%)")
    for ax in (left, right):
        assert ax.get_xlabel() == "epoch" and ax.get_title()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert right.lines[0].get_ydata()[-1] == 82.0  # accuracies are plotted in percent


def test_confusion_matrix_plot_labels_classes():
    fig = plotting.confusion_matrix_plot(torch.tensor([[9, 1], [2, 8]]), ("cat", "automobile"), "Test split")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted class", "true class", "Test split")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "automobile"]


def test_search_comparison_shows_points_with_standard_errors_not_truncated_bars():
    rows = [{"train_accuracy": 0.95, "val_accuracy": 0.90, "val_score": 0.89}, {"train_accuracy": 0.99, "val_accuracy": 0.93, "val_score": 0.92}]
    fig = plotting.search_comparison(rows, n_val=1000, selected=1)
    ax = fig.axes[0]
    assert not ax.patches or all(p.get_width() < 100 for p in ax.patches if hasattr(p, "get_width"))  # no bars from 0
    assert ax.get_xlabel() == "accuracy (%)" and ax.get_title()
    caps = [c for c in ax.containers if hasattr(c, "has_xerr") and c.has_xerr]
    assert caps, "the score carries error bars"
    low, high = caps[0].lines[2][0].get_segments()[1][:, 0]  # second configuration's bar
    expected = 100 * (0.92 * 0.08 / 1000) ** 0.5
    assert abs((high - low) / 2 - expected) < 1e-9
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2"]


def test_train_and_validation_share_one_accuracy_axis():
    fig = plotting.train_validation_curves([0.8, 0.9, 0.95], [0.78, 0.85, 0.86], 3, "Selected configuration")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "accuracy (%)" and ax.get_xlabel() == "epoch"
    assert [list(line.get_ydata()) for line in ax.lines[:2]] == [[80.0, 90.0, 95.0], [78.0, 85.0, 86.0]]
    assert fig.legends and not ax.get_legend()  # the legend sits below the axes, off the curves
    shaded = [p for p in ax.patches]  # the scored epochs (here the last three: all of them)
    assert len(shaded) == 1 and "scored epochs (1-3)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_figures_are_drawn_at_print_size_with_legible_text():
    fig = plotting.learning_curves({"a": {"loss": [1, 0.5], "val_accuracy": [0.5, 0.6]}}, "t")
    assert fig.get_figwidth() <= plotting.FULL_WIDTH
    fig.canvas.draw()
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert min(sizes) >= 8


def test_image_grid_fits_half_a_page_with_a_row_per_class():
    x = torch.rand(12, 3, 16, 16)
    y = torch.tensor([0, 1] * 6)
    fig = plotting.image_grid(x, y, ("cat", "automobile"), torch.zeros(3), torch.ones(3))
    assert fig.get_figwidth() <= plotting.HALF_WIDTH
    assert (fig.axes[0].get_ylabel(), fig.axes[6].get_ylabel()) == ("cat", "automobile")  # six images a row
