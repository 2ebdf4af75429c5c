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
