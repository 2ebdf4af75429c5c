"""Training speed: the notebook's pipeline against a seed-style pipeline and against GEMM throughput.

    CIFAR10_ROOT=../shared/datasets/cifar10 .venv/bin/python benchmarks/bench_training.py

* notebook pipeline: MyMLP and train() taken from gradient_descent.ipynb, data preloaded as float64
  tensors, batches gathered by tensor indexing (utils.data.make_loader, with flips).
* seed-style pipeline: the same model, loss and epochs, but a DataLoader over the image files with
  per-sample PIL transforms (resize, to tensor, normalise) and one-hot labels built in a Python loop,
  as the seed reports did.
* GEMM throughput: float64 matrix-multiply FLOP/s of this machine (1024 x 1024 products); the
  notebook pipeline's FLOP/s count the MLP's forward and backward matrix products.

Goals (issue: gradient descent): >= 20x the seed-style pipeline, >= 50% of GEMM throughput.
"""

import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from utils.data import load_cifar2, make_loader  # noqa: E402
from harness.checks.notebook import load_definitions  # noqa: E402

CLASSES = ("cat", "automobile")
EPOCHS = 3
BATCH_SIZE = 256


class SeedStyleImages(torch.utils.data.Dataset):
    """One PIL image opened and transformed per __getitem__, one-hot labels made in a Python loop."""

    def __init__(self, root, classes, mean, std):
        from torchvision import transforms

        self.files, labels = [], []
        for label, name in enumerate(classes):
            for file in sorted((Path(root) / "train" / name).iterdir()):
                self.files.append(file)
                labels.append(label)
        self.one_hot = []
        for label in labels:
            row = [0.0] * len(classes)
            row[label] = 1.0
            self.one_hot.append(torch.tensor(row, dtype=torch.float64))
        self.transform = transforms.Compose([
            transforms.Resize(16), transforms.ToTensor(), transforms.Normalize(mean.tolist(), std.tolist()),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        from PIL import Image

        with Image.open(self.files[index]) as image:
            return self.transform(image.convert("RGB")).to(torch.float64), self.one_hot[index]


def seconds_per_epoch(train, model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=False)
    start = time.perf_counter()
    train(EPOCHS, optimizer, model, nn.CrossEntropyLoss(), loader, verbose=False)
    return (time.perf_counter() - start) / EPOCHS


def gemm_flops_per_second(n=1024, repeats=10):
    a, b = torch.randn(n, n, dtype=torch.float64), torch.randn(n, n, dtype=torch.float64)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def mlp_flops_per_epoch(model, n_samples):
    """Forward 2*n*in*out per layer; backward the same twice (weights, inputs), no input gradient for layer 1."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    total = sum(3 * 2 * n_samples * l.in_features * l.out_features for l in layers)
    return total - 2 * n_samples * layers[0].in_features * layers[0].out_features


def main():
    torch.set_default_dtype(torch.float64)
    root = os.environ.get("CIFAR10_ROOT")
    if not root or not (Path(root) / "train").is_dir():
        sys.exit("Set CIFAR10_ROOT to a CIFAR-10 image-folder copy (train/<class>/*.jpg): the seed-style pipeline reads the files.")
    notebook = load_definitions(PROJECT_ROOT / "gradient_descent.ipynb")
    MyMLP, train = notebook["MyMLP"], notebook["train"]
    train_data, _, _ = load_cifar2(CLASSES)

    torch.manual_seed(265)
    fast = seconds_per_epoch(train, MyMLP(), make_loader(train_data, BATCH_SIZE, shuffle=True, seed=265, flip=True))
    seed_style_data = SeedStyleImages(root, CLASSES, train_data.mean, train_data.std)
    torch.manual_seed(265)
    slow = seconds_per_epoch(train, MyMLP(), torch.utils.data.DataLoader(seed_style_data, BATCH_SIZE, shuffle=True))

    gemm = gemm_flops_per_second()
    achieved = mlp_flops_per_epoch(MyMLP(), len(train_data)) / fast
    print(f"notebook pipeline:   {fast:.3f} s per epoch ({len(train_data)} images, {EPOCHS} epochs timed)")
    print(f"seed-style pipeline: {slow:.3f} s per epoch")
    print(f"speed-up:            {slow / fast:.1f}x (goal >= 20x)")
    print(f"GEMM float64:        {gemm / 1e9:.1f} GFLOP/s")
    print(f"MLP forward+backward:{achieved / 1e9:6.1f} GFLOP/s = {100 * achieved / gemm:.0f}% of GEMM (goal >= 50%)")


if __name__ == "__main__":
    main()
