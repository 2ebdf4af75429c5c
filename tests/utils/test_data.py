"""Tests of utils.data on small generated image folders; the real copy too when CIFAR10_ROOT is set."""

import os
import pickle
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from utils import data
from utils.data import CIFAR10_CLASSES, DatasetError, load_cifar2, make_loader

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def write_image_folder(root, counts={"train": 20, "test": 6}, classes=("cat", "automobile"), fmt="png"):
    """Images whose red channel encodes the class (cat dark, automobile bright) plus noise."""
    rng = np.random.default_rng(0)
    for split, n in counts.items():
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 100, size=(32, 32, 3), dtype=np.uint8) + 100 * label
                Image.fromarray(pixels).save(folder / f"{i:04d}.{fmt}")
    return root


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    return write_image_folder(tmp_path / "cifar10")


def test_split_sizes_and_stratification(folder):
    train, val, test = load_cifar2(root=folder, val_fraction=0.25)
    assert (len(train), len(val), len(test)) == (30, 10, 12)
    assert train.y.bincount().tolist() == [15, 15]
    assert val.y.bincount().tolist() == [5, 5]
    assert test.y.bincount().tolist() == [6, 6]


def test_tensors_are_float64_int64_with_requested_size(folder):
    train, _, test = load_cifar2(root=folder, image_size=8)
    assert train.x.dtype == torch.float64 and train.x.shape == (36, 3, 8, 8)
    assert train.y.dtype == torch.int64 and test.x.shape == (12, 3, 8, 8)
    full, _, _ = load_cifar2(root=folder, image_size=32)
    assert full.x.shape[1:] == (3, 32, 32)


def test_dtype_casts_the_float64_result(folder):
    reference, _, _ = load_cifar2(root=folder, image_size=8)
    single, _, _ = load_cifar2(root=folder, image_size=8, dtype=torch.float32)
    assert single.x.dtype == torch.float32 and single.y.dtype == torch.int64
    assert torch.equal(single.x, reference.x.to(torch.float32))
    assert single.mean.dtype == torch.float64  # the statistics stay float64


@pytest.mark.parametrize("dtype", [torch.int64, "float32", None])
def test_a_non_float_dtype_is_refused(folder, dtype):
    with pytest.raises(DatasetError, match="dtype must be a floating-point torch.dtype"):
        load_cifar2(root=folder, dtype=dtype)


def test_no_resize_at_32_keeps_pixels(folder):
    train, _, _ = load_cifar2(root=folder, image_size=32, val_fraction=0.5)
    raw = data._load_split(("folder", folder), "train", ("cat", "automobile"))[0]
    pixels = train.x * train.std[:, None, None] + train.mean[:, None, None]
    train_index, _ = data.stratified_split(torch.tensor([0] * 20 + [1] * 20), 0.5, 265)
    torch.testing.assert_close(pixels, raw[train_index].double() / 255, rtol=0, atol=1e-12)


def test_labels_follow_class_order(folder):
    # the automobile images are brighter, so the label order shows in the raw means
    for classes in [("cat", "automobile"), ("automobile", "cat")]:
        train, _, _ = load_cifar2(classes=classes, root=folder)
        pixels = train.x * train.std[:, None, None] + train.mean[:, None, None]
        brightness = [pixels[train.y == label].mean().item() for label in (0, 1)]
        assert (brightness[0] < brightness[1]) == (classes[0] == "cat")
        assert train.classes == classes


def test_statistics_come_from_train_only(folder):
    train, val, test = load_cifar2(root=folder)
    assert torch.allclose(train.x.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(train.x.std(dim=(0, 2, 3)), torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert torch.equal(val.mean, train.mean) and torch.equal(test.std, train.std)
    # val and test are not re-centred on their own statistics
    assert not torch.allclose(test.x.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-6)


def test_same_seed_same_split_other_seed_other_split(folder):
    a = load_cifar2(root=folder, seed=1)[1].x
    b = load_cifar2(root=folder, seed=1)[1].x
    c = load_cifar2(root=folder, seed=2)[1].x
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_batches_source_matches_folder_source(tmp_path, monkeypatch):
    """torchvision's cifar-10-batches-py layout gives the same tensors as an image folder of PNGs."""
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "data")
    rng = np.random.default_rng(1)
    batches = tmp_path / "official" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    folder = tmp_path / "folder"
    labels_per_split = {"train": [1, 3] * 10, "test": [3, 1] * 3}
    for split, labels in labels_per_split.items():
        images = rng.integers(0, 256, size=(len(labels), 32, 32, 3), dtype=np.uint8)
        for i, (image, label) in enumerate(zip(images, labels)):
            target = folder / split / CIFAR10_CLASSES[label]
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target / f"{i:04d}.png")
        record = {"data": images.transpose(0, 3, 1, 2).reshape(len(labels), -1), "labels": labels}
        names = ["test_batch"] if split == "test" else [f"data_batch_{k}" for k in range(1, 6)]
        for k, name in enumerate(names):  # the whole train split in batch 1, the other four empty
            part = record if k == 0 else {"data": record["data"][:0], "labels": []}
            with open(batches / name, "wb") as f:
                pickle.dump(part, f)
    with open(batches / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CIFAR10_CLASSES)}, f)
    # the md5 sums of the official files cannot match these generated ones
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)

    from_folder = load_cifar2(root=folder)
    for root in (batches.parent, batches):  # the folder holding it, or the folder itself
        from_batches = load_cifar2(root=root)
        for a, b in zip(from_folder, from_batches):
            assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_environment_variable_is_used(folder, monkeypatch):
    monkeypatch.setenv("CIFAR10_ROOT", str(folder))
    assert len(load_cifar2()[0]) == 36


def test_root_argument_wins_over_environment(folder, monkeypatch, tmp_path):
    monkeypatch.setenv("CIFAR10_ROOT", str(tmp_path / "nowhere"))
    assert len(load_cifar2(root=folder)[0]) == 36


def test_second_call_hits_the_cache(folder, monkeypatch):
    first = load_cifar2(root=folder)
    monkeypatch.setattr(data, "_decode_folder", lambda *a: pytest.fail("decoded again despite the cache"))
    second = load_cifar2(root=folder)
    assert torch.equal(first[0].x, second[0].x)


def test_corrupt_cache_file_is_rebuilt(folder):
    first = load_cifar2(root=folder)
    cache_files = list((data.DATA_DIR / "cache").rglob("*.pt"))
    assert len(cache_files) == 4  # two classes x two splits
    for file in cache_files:
        file.write_bytes(b"not a tensor")
    second = load_cifar2(root=folder)
    assert torch.equal(first[0].x, second[0].x)


def test_loader_yields_whole_batches_in_seeded_order(folder):
    train, _, _ = load_cifar2(root=folder)
    batches = [y for _, y in make_loader(train, batch_size=8, shuffle=True, seed=3)]
    assert [len(y) for y in batches] == [8, 8, 8, 8, 4]
    again = [y for _, y in make_loader(train, batch_size=8, shuffle=True, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    assert torch.equal(torch.cat(batches).sort().values, train.y.sort().values)


def test_loader_flips_are_mirror_images(folder):
    train, _, _ = load_cifar2(root=folder)
    plain = next(iter(make_loader(train, batch_size=36)))[0]
    flipped = next(iter(make_loader(train, batch_size=36, flip=True)))[0]
    mirrored = [torch.equal(f, p.flip(-1)) for f, p in zip(flipped, plain)]
    unchanged = [torch.equal(f, p) for f, p in zip(flipped, plain)]
    assert all(m or u for m, u in zip(mirrored, unchanged))
    assert 0 < sum(mirrored) < 36


# --- errors: one sentence saying what is wrong and what to do ------------------------------------

@pytest.mark.parametrize("classes, expected", [
    (("cat", "plane"), "Unknown CIFAR-10 class 'plane'; choose two of: airplane, automobile, bird"),
    (("cat", "cat"), "names 'cat' twice"),
    (("cat",), "exactly two"),
    (("cat", "dog", "frog"), "exactly two"),
    ("cat", "exactly two"),
])
def test_bad_classes(folder, classes, expected):
    with pytest.raises(DatasetError, match=expected):
        load_cifar2(classes=classes, root=folder)


@pytest.mark.parametrize("settings, expected", [
    ({"image_size": 0}, "image_size must be an integer from 1 to 32"),
    ({"image_size": 64}, "image_size must be an integer from 1 to 32"),
    ({"image_size": 16.0}, "image_size must be an integer"),
    ({"val_fraction": 0}, "val_fraction must be a number strictly between 0 and 1"),
    ({"val_fraction": 1.5}, "val_fraction must be a number strictly between 0 and 1"),
])
def test_bad_settings(folder, settings, expected):
    with pytest.raises(DatasetError, match=expected):
        load_cifar2(root=folder, **settings)


def test_root_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetError, match="does not exist; point it at a folder holding train/ and test/"):
        load_cifar2(root=tmp_path / "nowhere")


def test_environment_root_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="CIFAR-10 CIFAR10_ROOT .* does not exist"):
        load_cifar2()


@pytest.mark.parametrize("split", ["train", "test"])
def test_root_without_split_folder(folder, split):
    (folder / split).rename(folder / "elsewhere")
    with pytest.raises(DatasetError, match=f"has no {split}/ folder"):
        load_cifar2(root=folder)


def test_missing_class_folder(folder):
    (folder / "test" / "automobile").rename(folder / "test" / "car")
    with pytest.raises(DatasetError, match=r"Class folder .*test/automobile' is missing"):
        load_cifar2(root=folder)


def test_empty_class_folder(folder):
    for file in (folder / "train" / "cat").iterdir():
        file.unlink()
    with pytest.raises(DatasetError, match=r"train/cat' holds no images"):
        load_cifar2(root=folder)


def test_unreadable_image_is_named(folder):
    (folder / "train" / "cat" / "0007.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=r"Cannot read image .*train/cat/0007.png.*replace or delete"):
        load_cifar2(root=folder)


def test_download_without_network_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetError, match="Could not download CIFAR-10 .*set CIFAR10_ROOT .* or put cifar-10-python.tar.gz in data/"):
        load_cifar2()


# --- the real copy (CI sets CIFAR10_ROOT) --------------------------------------------------------

real_copy = pytest.mark.skipif(not os.environ.get("CIFAR10_ROOT"), reason="CIFAR10_ROOT is not set")


@real_copy
def test_real_cifar2_cat_automobile():
    train, val, test = load_cifar2()
    assert (len(train), len(val), len(test)) == (9000, 1000, 2000)
    assert train.y.bincount().tolist() == [4500, 4500]
    assert val.y.bincount().tolist() == [500, 500]
    assert test.y.bincount().tolist() == [1000, 1000]
    assert train.x.dtype == torch.float64 and train.x.shape == (9000, 3, 16, 16)
    assert train.x.mean(dim=(0, 2, 3)).abs().max() < 1e-12


@real_copy
def test_real_copy_is_served_from_cache_in_a_new_process():
    load_cifar2()  # make sure the cache is warm
    code = ("import utils.data as d\n"
            "d._decode_folder = d._read_batches = lambda *a: exit('decoded again')\n"
            "print(len(d.load_cifar2()[0]))")
    assert subprocess.check_output([sys.executable, "-c", code], cwd=PROJECT_ROOT, text=True).strip() == "9000"


def test_loader_shifts_are_seeded_translations(folder):
    train, _, _ = load_cifar2(("cat", "automobile"), image_size=8, seed=1, root=folder)
    plain = next(iter(make_loader(train, 4, seed=3)))[0]
    a = next(iter(make_loader(train, 4, seed=3, shift=2)))[0]
    b = next(iter(make_loader(train, 4, seed=3, shift=2)))[0]
    assert torch.equal(a, b) and a.shape == plain.shape and not torch.equal(a, plain)
    # every shifted image is its original moved (the centre survives any shift of up to 2 pixels)
    flipped = torch.stack([plain, plain.flip(-1)])
    for image, candidates in zip(a, flipped.transpose(0, 1)):
        assert any(torch.equal(image[:, 2:-2, 2:-2], torch.roll(c, (dy, dx), (1, 2))[:, 2:-2, 2:-2])
                   for c in candidates for dy in range(-2, 3) for dx in range(-2, 3))
    with pytest.raises(ValueError, match="shift must be a non-negative integer"):
        make_loader(train, 4, shift=-1)
