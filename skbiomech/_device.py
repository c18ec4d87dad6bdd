"""Which torch device an estimator runs on."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device):
    """``"auto"`` -> cuda when available; a clear error for a device this machine lacks."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but PyTorch sees no CUDA GPU here; use device='cpu' or 'auto' "
            "(or install a CUDA build of PyTorch on a machine with a GPU)."
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} but MPS is not available here; use device='cpu' or 'auto'.")
    return str(device)
