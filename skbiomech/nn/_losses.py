"""The loss terms of Eq. 17: reconstruction, AU, force sparsity and smoothness.

Every term takes a ``mask`` of real (not padded) frames so that windows
shorter than the horizon can share a batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["BiomechLoss", "reconstruction_loss", "au_loss", "clean_loss", "smooth_loss"]


def _masked_mean(values, mask):
    mask = mask.to(values.dtype)
    while mask.ndim < values.ndim:
        mask = mask.unsqueeze(-1)
    mask = mask.expand_as(values)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def reconstruction_loss(positions, targets, mask, scale=None):
    """``L_3d``: mean squared error of the coefficients over real frames.

    Parameters
    ----------
    positions, targets : Tensor of shape (B, T, K)
    mask : Tensor of bool, shape (B, T)
    scale : Tensor of shape (K,), default=None
        Per-coefficient scale (the training data's standard deviation), so
        that every blendshape weighs alike whatever its range.
    """
    error = positions - targets
    if scale is not None:
        error = error / scale
    return _masked_mean(error**2, mask)


def au_loss(logits, labels, mask):
    """``L_au``: binary cross-entropy over the known labels (NaN = unknown).

    Parameters
    ----------
    logits, labels : Tensor of shape (B, T, A)
    mask : Tensor of bool, shape (B, T)
    """
    known = torch.isfinite(labels) & mask.unsqueeze(-1)
    if not known.any():
        return logits.sum() * 0.0  # keeps the graph; no labelled frame in this batch
    return F.binary_cross_entropy_with_logits(logits[known], labels[known])


def clean_loss(forces, mask):
    """``L_clean``: mean absolute muscle force (sparse activations)."""
    return _masked_mean(forces.abs().flatten(2), mask)


def smooth_loss(forces, mask):
    """``L_smooth``: mean squared change of the forces between adjacent frames."""
    flat = forces.flatten(2)
    both = mask[:, 1:] & mask[:, :-1]
    return _masked_mean((flat[:, 1:] - flat[:, :-1]) ** 2, both)


class BiomechLoss(torch.nn.Module):
    """Eq. 17: ``l_3d L_3d + l_au L_au + l_clean L_clean + l_smooth L_smooth``.

    Parameters
    ----------
    lambda_3d, lambda_au, lambda_clean, lambda_smooth : float
        Weights; a zero weight skips its term.
    center : int, default=0
        Index of the frame itself in each context stack.
    """

    def __init__(self, lambda_3d=1.0, lambda_au=1.0, lambda_clean=1e-3, lambda_smooth=1e-3, center=0):
        super().__init__()
        self.lambda_3d, self.lambda_au = float(lambda_3d), float(lambda_au)
        self.lambda_clean, self.lambda_smooth = float(lambda_clean), float(lambda_smooth)
        self.center = int(center)

    def terms(self, outputs, labels, batch):
        """Each loss term (unweighted), as a dict of scalar tensors."""
        mask = batch["mask"]
        targets = batch["coefficients"][:, :, self.center]
        terms = {}
        if self.lambda_3d:
            terms["3d"] = reconstruction_loss(outputs["positions"], targets, mask, outputs.get("scale"))
        if self.lambda_au and "logits" in outputs and labels is not None and labels.ndim == 3:
            terms["au"] = au_loss(outputs["logits"], labels.to(outputs["logits"].dtype), mask)
        if self.lambda_clean:
            terms["clean"] = clean_loss(outputs["forces"], mask)
        if self.lambda_smooth:
            terms["smooth"] = smooth_loss(outputs["forces"], mask)
        return terms

    def forward(self, outputs, labels, batch):
        weights = {"3d": self.lambda_3d, "au": self.lambda_au, "clean": self.lambda_clean, "smooth": self.lambda_smooth}
        terms = self.terms(outputs, labels, batch)
        if not terms:
            return outputs["forces"].sum() * 0.0
        return sum(weights[name] * value for name, value in terms.items())
