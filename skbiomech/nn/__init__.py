"""Torch modules: encoders, the physics regressor and ODE decoder, the AU head, losses."""

from ._losses import BiomechLoss, au_loss, clean_loss, reconstruction_loss, smooth_loss
from ._network import BiomechNetwork, MLP

__all__ = [
    "MLP",
    "BiomechLoss",
    "BiomechNetwork",
    "au_loss",
    "clean_loss",
    "reconstruction_loss",
    "smooth_loss",
]
