"""Figures for the notebooks and the report: every plot has a title, labelled axes and units."""

import torch

from utils.metrics import binomial_standard_error

# Figures are drawn at the size they are printed (the report's text is 6.7 inches wide), so that
# a 9-point label stays 9 points on paper.
FULL_WIDTH, HALF_WIDTH = 6.7, 3.3
FONT_SIZE = 9


def _subplots(*args, **kwargs):
    # pyplot is imported on first use: importing this module stays cheap for code that only needs
    # the notebook's definitions (the grader loads them without plotting anything).
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "legend.fontsize": FONT_SIZE - 1,
                         "figure.titlesize": FONT_SIZE + 1})
    return plt.subplots(*args, **kwargs)


def _legend_below(fig, ax, columns=2):
    """One legend under the panels, where it covers no data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns, frameon=False)


def _whole_epochs(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at 2.5


def save(fig, path):
    """Write fig as a PNG (200 dpi, no timestamp metadata, so reruns give the same bytes)."""
    fig.savefig(path, dpi=200, bbox_inches="tight", metadata={"Software": None})
    return path


def image_grid(x, y, classes, mean, std, per_class=6):
    """The first per_class images of each class, un-normalised, one row per class (half a page wide)."""
    side = (HALF_WIDTH - 0.4) / per_class  # inches per image, beside the class names
    fig, axes = _subplots(len(classes), per_class, figsize=(HALF_WIDTH, len(classes) * side + 0.45))
    for label, name in enumerate(classes):
        images = x[y == label][:per_class] * std[:, None, None] + mean[:, None, None]
        for ax, image in zip(axes[label], images):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([]), ax.set_yticks([])
        axes[label][0].set_ylabel(name)
    fig.suptitle(f"Training images ({x.shape[-1]}x{x.shape[-1]} pixels)")
    return fig


def misclassified_images(model, data, classes, per_class=6):
    """The first per_class test images of each class that model gets wrong, un-normalised, one row per
    true class (half a page wide); a row is shorter where fewer are wrong."""
    import torch

    with torch.no_grad():
        predicted = model(data.x).argmax(dim=1)
    wrong = predicted != data.y
    side = (HALF_WIDTH - 0.4) / per_class
    fig, axes = _subplots(len(classes), per_class, figsize=(HALF_WIDTH, len(classes) * side + 0.45), squeeze=False)
    for label, name in enumerate(classes):
        chosen = torch.nonzero(wrong & (data.y == label)).flatten()[:per_class]
        for ax in axes[label]:
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        for ax, index in zip(axes[label], chosen):
            image = data.x[index].cpu() * data.std[:, None, None] + data.mean[:, None, None]
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).double().numpy())
        axes[label][0].set_ylabel(name)
    fig.suptitle("Misclassified test images (row: the true class)")
    return fig


def learning_curves(curves, title):
    """curves: {label: {"loss": [...], "val_accuracy": [...]}} per epoch; two panels side by side."""
    fig, (left, right) = _subplots(1, 2, figsize=(FULL_WIDTH, 2.6))
    for label, curve in curves.items():
        epochs = range(1, len(curve["loss"]) + 1)
        left.plot(epochs, curve["loss"], label=label)
        right.plot(epochs, [100 * a for a in curve["val_accuracy"]], label=label)
    left.set(title="Training loss", xlabel="epoch", ylabel="mean cross-entropy (nats)")
    right.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (left, right):
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, left, columns=1 if max(map(len, curves)) > 40 else 2)
    return fig


def train_validation_curves(train_accuracy, val_accuracy, scored_epochs, title):
    """Train and validation accuracy per epoch on one axis: the gap between them is the overfitting. The last
    scored_epochs epochs, whose mean validation accuracy scored the configuration, are shaded."""
    fig, ax = _subplots(figsize=(FULL_WIDTH, 2.6))
    epochs = range(1, len(train_accuracy) + 1)
    ax.plot(epochs, [100 * a for a in train_accuracy], label="train (without augmentation)")
    ax.plot(epochs, [100 * a for a in val_accuracy], label="validation")
    first = max(1, len(val_accuracy) - scored_epochs + 1)
    ax.axvspan(first - 0.5, len(val_accuracy) + 0.5, color="grey", alpha=0.15, label=f"scored epochs ({first}-{len(val_accuracy)})")
    ax.set(title=title, xlabel="epoch", ylabel="accuracy (%)")
    _whole_epochs(ax)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _legend_below(fig, ax, columns=3)
    return fig


def search_comparison(rows, n_val, selected=None):
    """rows: [{"train_accuracy", "val_accuracy", "val_score"}], numbered 1.. in order, top to bottom.

    The score (mean validation accuracy of the last epochs) as points with +-1 standard error of one reading
    (binomial, n_val images; the mean of correlated readings is no more precise than that, to be safe); the
    last epoch's validation and training accuracy as open markers. Points, not bars: the axis need not start
    at 0 to be read right.
    """
    fig, ax = _subplots(figsize=(FULL_WIDTH, 0.9 + 0.32 * len(rows)))
    positions = list(range(len(rows)))
    score = [100 * r["val_score"] for r in rows]
    errors = [100 * binomial_standard_error(r["val_score"], n_val) for r in rows]
    ax.errorbar(score, positions, xerr=errors, fmt="o", capsize=3, label=f"score: validation, mean of the last epochs (+-1 SE, {n_val} images)")
    ax.plot([100 * r["val_accuracy"] for r in rows], positions, "D", mfc="none", label="validation, last epoch")
    ax.plot([100 * r["train_accuracy"] for r in rows], positions, "s", mfc="none", label="train, last epoch")
    if selected is not None:
        ax.axhspan(selected - 0.4, selected + 0.4, color="gold", alpha=0.25, label="selected")
    ax.set_yticks(positions, [str(i + 1) for i in positions])
    ax.invert_yaxis()
    ax.set(title="Hyper-parameter search: accuracy of each configuration's kept (last-epoch) weights",
           xlabel="accuracy (%)", ylabel="configuration")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _legend_below(fig, ax, columns=2)
    return fig


def confusion_matrix_plot(matrix, classes, title):
    """matrix[i, j]: samples of true class i predicted as class j, with counts in the cells."""
    fig, ax = _subplots(figsize=(HALF_WIDTH, 3.0))
    ax.imshow(matrix.cpu().numpy(), cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            value = int(matrix[i, j])
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    return fig
