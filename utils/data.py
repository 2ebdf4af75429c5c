"""CIFAR-2: two CIFAR-10 classes as preloaded, normalised tensors (float64 unless asked otherwise).

    train, val, test = load_cifar2(("cat", "automobile"))

Where the images come from (first found wins):

1. the ``root`` argument,
2. the environment variable ``CIFAR10_ROOT``,
3. ``data/``, where torchvision downloads the official archive when it is missing.

A root may be an image-folder copy (``train/<class>/*.jpg`` and ``test/<class>/*.jpg``) or
torchvision's extracted ``cifar-10-batches-py`` (the folder itself or the one holding it).

Decoding happens once: the uint8 pixels of each class and split are cached under ``data/cache/``,
keyed by the source, so later calls only resize, split and normalise tensors.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
CACHE_VERSION = 1  # bump when the cached tensors' meaning changes


class DatasetError(ValueError):
    """A CIFAR-10 source or a load_cifar2 argument that cannot be used; the message says why."""


class Cifar2Dataset(TensorDataset):
    """A TensorDataset of (x, y) with what the split was made from.

    x: float64 (N, 3, H, W), normalised with the train split's per-channel ``mean`` and ``std``
    (each (3,)). y: int64 (N,), index into ``classes``.
    """

    def __init__(self, x, y, classes, mean, std):
        super().__init__(x, y)
        self.x, self.y = x, y
        self.classes, self.mean, self.std = tuple(classes), mean, std


def load_cifar2(classes=("cat", "automobile"), image_size=16, val_fraction=0.1, seed=265, root=None, dtype=torch.float64):
    """Load two CIFAR-10 classes as (train, val, test) Cifar2Datasets.

    train/val: a seeded split of the official training images, stratified so that
    ``round(val_fraction * n_c)`` images of each class go to val. test: the official test images.
    Images are resized to ``image_size`` with antialiased bilinear interpolation (32: no resize)
    and normalised per channel with the train split's statistics: x <- (x - mean_train) / std_train.
    Labels are 0 and 1 in the order of ``classes``. ``dtype`` is that of the returned images; the
    resizing and the statistics are computed in float64 whatever it is.
    """
    classes = _check_classes(classes)
    _check_settings(image_size, val_fraction, dtype)
    source = _find_source(root)
    train_images, train_labels = _load_split(source, "train", classes)
    test_images, test_labels = _load_split(source, "test", classes)

    train_index, val_index = stratified_split(train_labels, val_fraction, seed)
    x_trainval = resize_images(train_images, image_size)
    x_test = resize_images(test_images, image_size)
    x_train, x_val = x_trainval[train_index], x_trainval[val_index]
    mean, std = x_train.mean(dim=(0, 2, 3)), x_train.std(dim=(0, 2, 3))

    def split(x, y):
        return Cifar2Dataset(normalize(x, mean, std).to(dtype), y, classes, mean, std)

    return (
        split(x_train, train_labels[train_index]),
        split(x_val, train_labels[val_index]),
        split(x_test, test_labels),
    )


def stratified_split(labels, val_fraction, seed):
    """Return (train_index, val_index), each sorted; val holds round(val_fraction * n_c) of class c."""
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for label in labels.unique(sorted=True):
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = round(val_fraction * len(members))
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return torch.cat(train_parts).sort().values, torch.cat(val_parts).sort().values


def resize_images(images, image_size):
    """uint8 (N, 3, 32, 32) -> float64 (N, 3, s, s) in [0, 1], antialiased bilinear when s != 32."""
    x = images.to(torch.float64) / 255
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return x


def normalize(x, mean, std):
    """(x - mean) / std per channel; mean and std have shape (3,)."""
    return (x - mean[:, None, None]) / std[:, None, None]


def make_loader(dataset, batch_size, shuffle=False, seed=0, flip=False, shift=0):
    """A DataLoader that yields whole batches by tensor indexing (no per-sample Python work).

    shuffle: a new seeded permutation each epoch (the same sequence for the same seed).
    flip: mirror each image of a batch left-right with probability 1/2 (seeded too).
    shift: move each image by up to shift pixels in each direction, reflecting at the border (seeded).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not isinstance(shift, int) or shift < 0:
        raise ValueError(f"shift must be a non-negative integer number of pixels, got {shift!r}.")
    generator = torch.Generator().manual_seed(seed)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    source = _RandomFlips(dataset, seed, shift) if flip or shift else dataset
    # batch_size=None: the sampler already yields index lists, and TensorDataset gathers them at once.
    return DataLoader(source, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


class _RandomFlips(torch.utils.data.Dataset):
    """Gathers a batch of (x, y), mirrors a seeded random half of its images and, with shift > 0,
    moves each image by a seeded offset of up to shift pixels (reflection padding, one gather)."""

    def __init__(self, dataset, seed, shift=0):
        self.dataset, self.generator, self.shift = dataset, torch.Generator().manual_seed(seed + 1), shift

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        x, y = self.dataset[index]
        mirrored = (torch.rand(len(x), generator=self.generator) < 0.5).to(x.device)
        x = torch.where(mirrored[:, None, None, None], x.flip(-1), x)
        if self.shift:
            x = self._shifted(x)
        return x, y

    def _shifted(self, x):
        n, channels, height, width = x.shape
        padded = F.pad(x, (self.shift,) * 4, mode="reflect")
        offsets = torch.randint(0, 2 * self.shift + 1, (2, n), generator=self.generator).to(x.device)
        rows = (offsets[0][:, None] + torch.arange(height, device=x.device))[:, None, :, None]
        cols = (offsets[1][:, None] + torch.arange(width, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        return padded[batch, torch.arange(channels, device=x.device)[None, :, None, None], rows, cols]


# --- arguments ---------------------------------------------------------------------------------

def _check_classes(classes):
    if isinstance(classes, str) or len(classes) != 2:
        raise DatasetError(f"classes must name exactly two CIFAR-10 classes, got {classes!r}; for example ('cat', 'automobile').")
    for name in classes:
        if name not in CIFAR10_CLASSES:
            raise DatasetError(f"Unknown CIFAR-10 class {name!r}; choose two of: {', '.join(CIFAR10_CLASSES)}.")
    if classes[0] == classes[1]:
        raise DatasetError(f"classes names {classes[0]!r} twice; choose two different CIFAR-10 classes.")
    return tuple(classes)


def _check_settings(image_size, val_fraction, dtype):
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 1 <= image_size <= 32:
        raise DatasetError(f"image_size must be an integer from 1 to 32 (32 keeps the original size), got {image_size!r}.")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise DatasetError(f"val_fraction must be a number strictly between 0 and 1, got {val_fraction!r}.")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise DatasetError(f"dtype must be a floating-point torch.dtype such as torch.float32 or torch.float64, got {dtype!r}.")


# --- sources -----------------------------------------------------------------------------------

def cifar10_source(root=None):
    """In words, which CIFAR-10 load_cifar2 reads (for the report): the official archive (torchvision's
    python batches) or an image-folder copy (CIFAR10_ROOT, JPEG files decoded with Pillow)."""
    kind, path = _find_source(root)
    if kind == "batches":
        return "the official CIFAR-10 archive (torchvision's python batches)"
    return "an image-folder copy of CIFAR-10 (JPEG files, decoded with Pillow), not torchvision's download"


def _find_source(root):
    """Return ("folder" | "batches", path) for the first configured source."""
    if root is None:
        root = os.environ.get("CIFAR10_ROOT") or None
        origin = "CIFAR10_ROOT"
    else:
        origin = "root"
    if root is None:
        return _download_official(DATA_DIR)
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise DatasetError(f"CIFAR-10 {origin} {str(path)!r} does not exist; point it at a folder holding train/ and test/ (or cifar-10-batches-py).")
    if (path / "cifar-10-batches-py").is_dir():
        return "batches", path
    if path.name == "cifar-10-batches-py" and (path / "batches.meta").is_file():
        return "batches", path.parent
    for split in ("train", "test"):
        if not (path / split).is_dir():
            raise DatasetError(f"CIFAR-10 {origin} {str(path)!r} has no {split}/ folder; it must hold train/<class>/*.jpg and test/<class>/*.jpg (or be torchvision's cifar-10-batches-py).")
    return "folder", path


def _download_official(data_dir):
    """Download and extract the official archive into data_dir through torchvision."""
    import torchvision

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            torchvision.datasets.CIFAR10(data_dir, train=train, download=True)
    except Exception as error:  # URLError, socket errors, HTTP errors, checksum failures
        raise DatasetError(
            f"Could not download CIFAR-10 into {str(data_dir)!r} ({type(error).__name__}: {error}); "
            "set CIFAR10_ROOT to a CIFAR-10 image-folder copy or put cifar-10-python.tar.gz in data/."
        ) from error
    return "batches", data_dir.resolve()


def _load_split(source, split, classes):
    """uint8 images (N, 3, 32, 32) and int64 labels (N,) of the two classes, first class first."""
    parts = [_cached_class_images(source, split, name) for name in classes]
    labels = torch.cat([torch.full((len(p),), i, dtype=torch.int64) for i, p in enumerate(parts)])
    return torch.cat(parts), labels


def _cached_class_images(source, split, name):
    kind, path = source
    folder = path / split / name
    stamp = folder.stat().st_mtime_ns if kind == "folder" and folder.is_dir() else 0
    key = hashlib.sha1(f"{CACHE_VERSION}|{kind}|{path}|{stamp}".encode()).hexdigest()[:16]
    cache_file = DATA_DIR / "cache" / key / f"{split}-{name}.pt"
    if cache_file.is_file():
        try:
            images = torch.load(cache_file, weights_only=True)
            if images.dtype == torch.uint8 and images.dim() == 4 and images.shape[1:] == (3, 32, 32):
                return images
        except Exception:
            pass  # a corrupt or truncated cache file is rebuilt below
    images = _decode_folder(path, split, name) if kind == "folder" else _read_batches(path, split, name)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_file.with_suffix(f".tmp{os.getpid()}")
    torch.save(images, partial)
    os.replace(partial, cache_file)  # atomic: a crash never leaves a half-written cache file
    return images


def _decode_folder(path, split, name):
    from PIL import Image

    folder = path / split / name
    if not folder.is_dir():
        raise DatasetError(f"Class folder {str(folder)!r} is missing; the CIFAR-10 copy must hold {split}/{name}/ with its images.")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DatasetError(f"Class folder {str(folder)!r} holds no images (.jpg/.png); restore the CIFAR-10 copy there.")
    images = torch.empty((len(files), 3, 32, 32), dtype=torch.uint8)
    for i, file in enumerate(files):
        try:
            with Image.open(file) as opened:
                image = torch.from_numpy(np.array(opened.convert("RGB"))).permute(2, 0, 1)
        except Exception as error:
            raise DatasetError(f"Cannot read image {str(file)!r} ({error}); replace or delete that file.") from error
        if image.shape[1:] != (32, 32):
            raise DatasetError(f"Image {str(file)!r} is {image.shape[2]}x{image.shape[1]} pixels, not 32x32; CIFAR-10 images are 32x32.")
        images[i] = image
    return images


def _read_batches(path, split, name):
    import torchvision

    try:
        official = torchvision.datasets.CIFAR10(path, train=(split == "train"), download=False)
    except RuntimeError as error:
        raise DatasetError(f"{str(path / 'cifar-10-batches-py')!r} is incomplete or corrupt ({error}); delete it and download again.") from error
    targets = torch.tensor(official.targets)
    wanted = targets == official.class_to_idx[name]
    return torch.from_numpy(official.data).permute(0, 3, 1, 2)[wanted].contiguous()
