"""Float64 for what the checks build, whatever default dtype the notebook or a submission set."""

from contextlib import contextmanager

import torch


@contextmanager
def float64_default():
    """Run the block with float64 as torch's default dtype; the caller's default is put back after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
