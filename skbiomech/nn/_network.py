"""The paper's network: encoder -> physics regressor -> weightless ODE decoder -> AU head.

``BiomechNetwork`` maps windows of frames to muscle forces, the blendshape
trajectory those forces produce under the reduced dynamics, and (when it has
an AU head) per-frame AU logits from ``[F || c || z3d || z2d]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..physics import ReducedDynamics, ReducedModel
from ._mesh import MeshConvEncoder

__all__ = ["ENCODERS", "HEAD_INPUTS", "MASS_MODELS", "MLP", "BiomechNetwork"]

ENCODERS = ("mlp", "meshconv")
HEAD_INPUTS = ("geometry", "force", "position", "image")
MASS_MODELS = ("fixed", "region")


class MLP(nn.Sequential):
    """Linear -> ELU (-> dropout) blocks, with a plain linear output layer."""

    def __init__(self, in_features, hidden, out_features, *, dropout=0.0):
        layers, width = [], in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ELU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)


class RunningStandardize(nn.Module):
    """Batch normalization without affine part or batch counter: ``(x - mean) / std`` per feature.

    Batch statistics in training, running ones (momentum 0.1) in evaluation,
    as ``BatchNorm1d(affine=False)``; the state is two float buffers.
    """

    def __init__(self, n_features, *, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = float(momentum), float(eps)
        self.register_buffer("running_mean", torch.zeros(n_features))
        self.register_buffer("running_var", torch.ones(n_features))

    def forward(self, x):
        """Standardize x of shape (..., n_features)."""
        flat = x.reshape(-1, x.shape[-1])
        out = F.batch_norm(
            flat, self.running_mean, self.running_var, training=self.training, momentum=self.momentum, eps=self.eps
        )
        return out.reshape(x.shape)


def _buffer(value, size, default):
    array = np.full(size, default, dtype=np.float32) if value is None else np.asarray(value, dtype=np.float32)
    return torch.as_tensor(array.reshape(size))


class BiomechNetwork(nn.Module):
    """Encoder, force regressor, ODE decoder and optional AU head.

    Parameters
    ----------
    reduced : ReducedModel
        The precomputed reduced mechanics (see ``reduce_face_model``).
    n_aus : int, default=0
        Number of AU outputs; 0 builds no head.
    inputs : sequence of {"geometry", "force", "position", "image"}, default=("force", "position")
        What the AU head sees: the encoder latent ``z3d``, the muscle forces
        ``F``, the reconstructed coefficients ``c``, the image features ``z2d``.
    n_image_features : int, default=0
    encoder : {"mlp", "meshconv"}, default="mlp"
        An MLP on the coefficients, or mesh convolution on the mesh rebuilt
        from them (needs ``face``).
    face : FaceModel, default=None
    context : int, default=1
        Frames per encoder input (``2 * window + 1``).
    hidden_size, latent_size, head_hidden_size : int
    force_model : {"activation", "vector"}, default="activation"
    dynamics : {"elastic", "quasistatic", "paper"}, default="elastic"
    mass : {"fixed", "region"}, default="fixed"
        The face's mass matrix, or positive per-region mass scales regressed
        per window (``M = sum_r s_r M_r``).
    dt : float, default=1/25
    coefficient_mean, coefficient_scale : array-like of shape (K,), default=None
        Input standardization (stored as buffers; identity when None).
    feature_mean, feature_scale : array-like of shape (D,), default=None
    dropout : float, default=0.0
    force_norm : bool, default=False
        Batch-normalize (no affine part) the forces on their way into the
        AU head, so that the head sees them on a standard scale.
    image_dropout : float, default=0.0
        Dropout on the image features entering the AU head.
    image_components : int, default=None
        Project the standardized image features onto this many axes
        (``feature_projection``) before the head; None: no projection.
    feature_projection : array-like of shape (D, image_components), default=None
        The axes (a buffer; the leading columns of the identity when None).
    """

    def __init__(
        self,
        reduced,
        *,
        n_aus=0,
        inputs=("force", "position"),
        n_image_features=0,
        encoder="mlp",
        face=None,
        context=1,
        hidden_size=128,
        latent_size=64,
        head_hidden_size=64,
        force_model="activation",
        dynamics="elastic",
        mass="fixed",
        dt=1 / 25,
        coefficient_mean=None,
        coefficient_scale=None,
        feature_mean=None,
        feature_scale=None,
        dropout=0.0,
        force_norm=False,
        image_dropout=0.0,
        image_components=None,
        feature_projection=None,
    ):
        super().__init__()
        if not isinstance(reduced, ReducedModel):
            raise TypeError(f"reduced must be a ReducedModel; got {type(reduced).__name__}.")
        unknown = set(inputs) - set(HEAD_INPUTS)
        if unknown:
            raise ValueError(f"inputs must be among {HEAD_INPUTS}; got {sorted(unknown)}.")
        if encoder not in ENCODERS or mass not in MASS_MODELS:
            raise ValueError(f"encoder must be one of {ENCODERS} and mass one of {MASS_MODELS}.")
        k, m = reduced.n_blendshapes, reduced.n_muscles
        self.context, self.n_aus, self.inputs = int(context), int(n_aus), tuple(inputs)
        self.force_model, self.mass_model = force_model, mass
        self.register_buffer("coefficient_mean", _buffer(coefficient_mean, k, 0.0))
        self.register_buffer("coefficient_scale", _buffer(coefficient_scale, k, 1.0))
        self.register_buffer("feature_mean", _buffer(feature_mean, n_image_features, 0.0))
        self.register_buffer("feature_scale", _buffer(feature_scale, n_image_features, 1.0))
        n_projected = n_image_features
        if image_components is not None and n_image_features:
            n_projected = min(int(image_components), n_image_features)
            shape = (n_image_features, n_projected)
            projection = (
                np.eye(*shape, dtype=np.float32) if feature_projection is None
                else np.asarray(feature_projection, dtype=np.float32).reshape(shape)
            )  # fmt: skip
            self.register_buffer("feature_projection", torch.as_tensor(projection))
        else:
            self.feature_projection = None

        if encoder == "meshconv":
            if face is None:
                raise ValueError("encoder='meshconv' needs a face model (the mesh to convolve on).")
            self.mesh_encoder = MeshConvEncoder(face, latent_dim=latent_size)
            self.encoder = nn.Sequential(nn.ELU(), nn.Linear(self.context * latent_size, latent_size))
        else:
            self.mesh_encoder = None
            self.encoder = MLP(self.context * k, (hidden_size, hidden_size), latent_size, dropout=dropout)
        n_force = m * (3 if force_model == "vector" else 1)
        self.force_head = MLP(latent_size, (hidden_size,), n_force)
        self.mass_head = nn.Linear(latent_size, len(reduced.region_names)) if mass == "region" else None
        self.decoder = ReducedDynamics(reduced, dynamics=dynamics, force_model=force_model, dt=dt)

        if self.n_aus:
            widths = {"geometry": latent_size, "force": n_force, "position": k, "image": n_projected}
            width = sum(widths[name] for name in self.inputs)
            if width == 0:
                raise ValueError("The AU head has no inputs: give 'inputs' and, for 'image', image features.")
            self.head = MLP(width, (head_hidden_size,), self.n_aus, dropout=dropout)
        else:
            self.head = None
        self.force_norm = RunningStandardize(n_force) if (force_norm and self.n_aus) else None
        self.image_dropout = nn.Dropout(image_dropout) if image_dropout else None

    def _normalized_forces(self, forces):
        return forces if self.force_norm is None else self.force_norm(forces)

    def encode(self, coefficients):
        """Latent ``z3d`` (B, T, latent) of context stacks (B, T, context, K)."""
        standardized = (coefficients - self.coefficient_mean) / self.coefficient_scale
        if self.mesh_encoder is None:
            return self.encoder(standardized.flatten(-2))
        latents = self.mesh_encoder(coefficients)  # the mesh itself, in cm
        return self.encoder(latents.flatten(-2))

    def forward(self, coefficients, initial_state, mask, features=None):
        """Forces, reconstructed coefficients and AU logits of a batch of windows.

        Parameters
        ----------
        coefficients : Tensor of shape (B, T, context, K)
            Each frame with its neighbours; the middle one is the frame itself.
        initial_state : Tensor of shape (B, 2K)
            Observed ``[c, c']`` at the first frame of each window.
        mask : Tensor of bool, shape (B, T)
            Real frames (False for padding).
        features : Tensor of shape (B, T, D), default=None
            Image features ``z2d``.

        Returns
        -------
        outputs : dict
            ``forces`` (B, T, M) or (B, T, M, 3), ``positions`` (B, T, K),
            ``latent`` (B, T, latent) and ``logits`` (B, T, A) when there is
            an AU head.
        """
        latent = self.encode(coefficients)
        raw = self.force_head(latent)
        if self.force_model == "activation":
            forces = F.softplus(raw)
        else:
            forces = raw.unflatten(-1, (-1, 3))
        mass = None
        if self.mass_head is not None:
            pooled = (latent * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
            scales = F.softplus(self.mass_head(pooled)) + 0.05
            mass = self.decoder.region_mass(scales)
        positions = self.decoder(forces, initial_state.to(latent.dtype), mass=mass)
        outputs = {"forces": forces, "positions": positions, "latent": latent, "scale": self.coefficient_scale}
        if self.head is not None:
            parts = {
                "geometry": latent,
                "force": self._normalized_forces(forces.flatten(2)),
                "position": (positions - self.coefficient_mean) / self.coefficient_scale,
            }
            if "image" in self.inputs:
                if features is None:
                    raise ValueError("The AU head uses image features but none were given.")
                parts["image"] = (features - self.feature_mean) / self.feature_scale
                if self.feature_projection is not None:
                    parts["image"] = parts["image"] @ self.feature_projection
                if self.image_dropout is not None:
                    parts["image"] = self.image_dropout(parts["image"])
            outputs["logits"] = self.head(torch.cat([parts[name] for name in self.inputs], dim=-1))
        return outputs
