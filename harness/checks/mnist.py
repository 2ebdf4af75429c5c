"""The five MNIST test images of the course's main_test(..., data="mnist"), through torchvision.

Where the images come from, the first that is set:
1. the root= argument, 2. the environment variable MNIST_ROOT, 3. data/ in this project.
A root holds torchvision's layout, MNIST/raw/t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]
(the test split is enough). Without a copy, torchvision downloads the official files into data/.
Preprocessing as the course: CenterCrop(24), ToTensor(), Normalize(0.1306, 0.3080); inputs in float64
of shape (1, 1, 24, 24), targets the label as a (1, 1) tensor (the loss broadcasts it over the 10 outputs).
"""

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import torch

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
N_SAMPLES = 5


class MnistUnavailable(RuntimeError):
    """No MNIST copy and no download: the message says what to set."""


def course_transform():
    from torchvision import transforms

    return transforms.Compose([transforms.CenterCrop(24), transforms.ToTensor(), transforms.Normalize(0.1306, 0.3080)])


def _raw_file(raw, name):
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_test_split(raw):
    """(images uint8 (N, 28, 28), labels int64 (N,)) read by torchvision's IDX readers."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    paths = [_raw_file(raw, name) for name in TEST_FILES]
    with tempfile.TemporaryDirectory() as scratch:
        plain = []
        for path in paths:
            if path.suffix == ".gz":
                target = Path(scratch) / path.stem
                with gzip.open(path, "rb") as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                path = target
            plain.append(str(path))
        return read_image_file(plain[0]), read_label_file(plain[1])


def _download(data_dir):
    from torchvision import datasets

    try:
        dataset = datasets.MNIST(str(data_dir), train=False, download=True)
    except Exception as error:  # no network: URLError, RuntimeError, OSError, ...
        raise MnistUnavailable(
            "data='mnist' needs MNIST's test split: no copy was found (MNIST_ROOT is not set and data/MNIST/raw holds none) "
            f"and torchvision could not download it ({type(error).__name__}); set MNIST_ROOT to a folder holding "
            "MNIST/raw/t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, or connect to the internet.") from error
    return dataset.data, dataset.targets


def load_mnist_samples(n=N_SAMPLES, root=None):
    """[(x (1, 1, 24, 24) float64, y (1, 1))] for the first n images of MNIST's test split."""
    from PIL import Image

    root = root or os.environ.get("MNIST_ROOT") or None
    if root is not None and not (Path(root) / "MNIST" / "raw").is_dir():
        raise MnistUnavailable(f"MNIST root {str(root)!r} has no MNIST/raw folder; point MNIST_ROOT at the folder that holds MNIST/raw/t10k-images-idx3-ubyte.gz.")
    raw = Path(root or PROJECT_DATA) / "MNIST" / "raw"
    if all(_raw_file(raw, name) for name in TEST_FILES):
        images, labels = _read_test_split(raw)
    else:
        images, labels = _download(PROJECT_DATA)
    transform = course_transform()
    samples = []
    for image, label in zip(images[:n], labels[:n]):
        x = transform(Image.fromarray(image.numpy(), mode="L")).unsqueeze(0).to(torch.float64)
        samples.append((x, torch.tensor([[float(label)]], dtype=torch.get_default_dtype())))
    return samples
