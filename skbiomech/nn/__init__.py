"""Torch modules: encoders, the physics regressor and ODE decoder, the AU head, losses."""

from ._losses import BiomechLoss, au_loss, clean_loss, reconstruction_loss, smooth_loss
from ._mesh import ChebConv, MeshConvEncoder, MeshPooling, chebyshev_conv, mesh_pooling, scaled_laplacian
from ._network import MLP, BiomechNetwork

__all__ = [
    "MLP",
    "BiomechLoss",
    "BiomechNetwork",
    "ChebConv",
    "MeshConvEncoder",
    "MeshPooling",
    "au_loss",
    "chebyshev_conv",
    "clean_loss",
    "mesh_pooling",
    "reconstruction_loss",
    "scaled_laplacian",
    "smooth_loss",
]
