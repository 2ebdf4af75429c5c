"""Figures for the notebooks and the report: every plot has a title, labelled axes and units."""

import torch


def _subplots(*args, **kwargs):
    # pyplot is imported on first use: importing this module stays cheap for code that only needs
    # the notebook's definitions (the grader loads them without plotting anything).
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save(fig, path):
    """Write fig as a PNG (150 dpi, no timestamp metadata, so reruns give the same bytes)."""
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Software": None})
    return path


def image_grid(x, y, classes, mean, std, per_class=8):
    """The first per_class images of each class, un-normalised, one row per class."""
    fig, axes = _subplots(len(classes), per_class, figsize=(per_class * 1.1, len(classes) * 1.3))
    for label, name in enumerate(classes):
        images = x[y == label][:per_class] * std[:, None, None] + mean[:, None, None]
        for ax, image in zip(axes[label], images):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([]), ax.set_yticks([])
        axes[label][0].set_ylabel(name)
    fig.suptitle(f"Example training images ({x.shape[-1]}x{x.shape[-1]} pixels)")
    return fig


def learning_curves(curves, title):
    """curves: {label: {"loss": [...], "val_accuracy": [...]}} per epoch; two panels side by side."""
    fig, (left, right) = _subplots(1, 2, figsize=(11, 4))
    for label, curve in curves.items():
        epochs = range(1, len(curve["loss"]) + 1)
        left.plot(epochs, curve["loss"], label=label)
        right.plot(epochs, [100 * a for a in curve["val_accuracy"]], label=label)
    left.set(title="Training loss", xlabel="epoch", ylabel="mean cross-entropy (nats)")
    right.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at 2.5
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def search_comparison(rows):
    """rows: [{"train_accuracy", "val_accuracy"}], numbered 1.. in order; grouped bars in percent."""
    fig, ax = _subplots(figsize=(11, 4))
    positions = torch.arange(len(rows), dtype=torch.float64)
    ax.bar(positions - 0.2, [100 * r["train_accuracy"] for r in rows], 0.4, label="train")
    ax.bar(positions + 0.2, [100 * r["val_accuracy"] for r in rows], 0.4, label="validation")
    ax.set_xticks(positions.tolist(), [str(i + 1) for i in range(len(rows))])
    low = min(min(r["val_accuracy"], r["train_accuracy"]) for r in rows)
    ax.set_ylim(100 * low - 3, 100)
    ax.set(title="Hyper-parameter search: accuracy at the best validation epoch",
           xlabel="configuration (numbered in search order)", ylabel="accuracy (%)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return fig


def confusion_matrix_plot(matrix, classes, title):
    """matrix[i, j]: samples of true class i predicted as class j, with counts in the cells."""
    fig, ax = _subplots(figsize=(4, 3.6))
    ax.imshow(matrix.cpu().numpy(), cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            value = int(matrix[i, j])
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    return fig
