"""The course's main_test: banners as the course prints them, no false rejection on course-size nets,
MNIST through torchvision from a local copy, and the course's own notebook conventions."""

import gzip

import numpy as np
import pytest
import torch
from torch import nn

from harness.checks import mnist
from harness.checks.course import main_test
from tests.fixtures import backprops as bp
from tests.fixtures.submissions import COURSE_MYNET
from utils.mynet import MyNet


def course_net_class():
    """The MyNet a course notebook defines itself (lambdas, 1 / cosh^2), float32 unless told otherwise."""
    namespace = {"torch": torch, "nn": nn}
    exec(COURSE_MYNET, namespace)
    return namespace["MyNet"]


BANNERS = ["Check gradients", "Check that weights have been updated", "Check computational graph", "Conclusion"]


def test_right_passes_with_the_course_banners(capsys):
    assert main_test(bp.right, MyNet([2, 3, 2]), verbose=False)
    out = capsys.readouterr().out
    assert all(banner in out for banner in BANNERS) and out.count("TEST PASSED") == 5
    assert out.rstrip().endswith("4 / 4: ALL TEST PASSED :)")


def test_wrong_fails_and_verbose_says_why(capsys):
    assert not main_test(bp.mistake(factor=1.0), MyNet([2, 3, 2]), verbose=True)
    out = capsys.readouterr().out
    assert "TEST FAILED: Gradients NOT consistent with autograd's computations." in out
    assert "SOME TESTS FAILED, use 'verbose=True'" in out and "factor 2 from d/dy" in out


@pytest.mark.parametrize("widths", [[576, 16, 10], [20, 10, 5]])
@pytest.mark.parametrize("seed", range(0, 20, 2))
def test_no_false_rejection_on_course_nets(widths, seed, capsys):
    torch.manual_seed(seed)
    assert main_test(bp.right, MyNet(widths), verbose=True), capsys.readouterr().out[-800:]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_notebook_defined_course_net_in_either_precision(dtype, capsys):
    torch.manual_seed(1)
    model = course_net_class()([2, 3, 2]).to(dtype)
    assert main_test(bp.one_sample_squeezed, model, 1e-6, False, "toy")  # positional, as notebooks call it
    assert "4 / 4: ALL TEST PASSED :)" in capsys.readouterr().out


def test_finite_differences_say_skipped_when_they_cannot_run(capsys):
    model = MyNet([2, 3, 2], activation="relu")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # every pre-activation sits on ReLU's kink
    main_test(bp.right, model)
    assert "TEST SKIPPED: finite differences not run" in capsys.readouterr().out


def test_bad_data_argument_is_a_clear_error():
    with pytest.raises(ValueError, match="data must be 'toy' or 'mnist'"):
        main_test(bp.right, MyNet([2, 3, 2]), data="cifar")


# --- MNIST --------------------------------------------------------------------------------------------

def write_idx(root, n=7, compress=True):
    """A small MNIST-format copy of the test split: torchvision's IDX layout, written with numpy."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) * 3 % 10).astype(np.uint8)
    files = {"t10k-images-idx3-ubyte": np.array([0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 28, 0, 0, 0, 28], dtype=np.uint8).tobytes() + images.tobytes(),
             "t10k-labels-idx1-ubyte": np.array([0, 0, 8, 1, 0, 0, 0, n], dtype=np.uint8).tobytes() + labels.tobytes()}
    for name, content in files.items():
        if compress:
            with gzip.open(raw / f"{name}.gz", "wb") as out:
                out.write(content)
        else:
            (raw / name).write_bytes(content)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_samples_are_the_course_preprocessing_of_the_first_five(tmp_path, monkeypatch, compress):
    images, labels = write_idx(tmp_path, compress=compress)
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path))
    samples = mnist.load_mnist_samples()
    assert len(samples) == 5
    for (x, y), image, label in zip(samples, images, labels):
        assert x.shape == (1, 1, 24, 24) and x.dtype == torch.float64 and y.shape == (1, 1) and y.item() == label
        expected = (torch.from_numpy(image[2:26, 2:26].astype(np.float32)) / 255 - 0.1306) / 0.3080
        assert torch.allclose(x[0, 0], expected.to(torch.float64), atol=1e-6)


def test_main_test_on_mnist_copy(tmp_path, monkeypatch, capsys):
    write_idx(tmp_path)
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path))
    torch.manual_seed(0)
    assert main_test(bp.right, MyNet([24 * 24, 16, 10]), verbose=False, data="mnist")
    assert "4 / 4: ALL TEST PASSED :)" in capsys.readouterr().out


def test_mnist_root_without_the_files_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path))
    with pytest.raises(mnist.MnistUnavailable, match="MNIST_ROOT"):
        mnist.load_mnist_samples()


def test_no_copy_and_no_network_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    monkeypatch.setattr(mnist, "PROJECT_DATA", tmp_path)
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(mnist.MnistUnavailable, match="set MNIST_ROOT"):
        mnist.load_mnist_samples()


@pytest.mark.parametrize("seed", range(6))
def test_the_courses_own_step_is_accepted(seed, capsys):
    """main_test(backprop, model, 10e-5, ...) as course notebooks call it: truncation is estimated, not guessed."""
    torch.manual_seed(seed)
    assert main_test(bp.right, MyNet([2, 3, 2]), 10e-5, True, "toy"), capsys.readouterr().out[-600:]


def test_main_test_uses_its_finite_difference_step(monkeypatch):
    from harness.checks import gradients

    steps = []
    original = gradients.finite_difference_gradients
    monkeypatch.setattr(gradients, "finite_difference_gradients",
                        lambda model, x, y, eps, entries=None: steps.append(eps) or original(model, x, y, eps, entries))
    assert main_test(bp.right, MyNet([2, 3, 2]), eps=1e-4)
    assert set(steps) == {1e-4, 2e-4}
