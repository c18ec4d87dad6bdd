"""Images of the synthetic benchmark: per-subject identity, skin and light."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._io import atomic_write
from ._render import render_faces

__all__ = ["identity_offset", "render_dataset_images"]


def identity_offset(face, seed):
    """A subject's identity: a smooth displacement of the rest mesh (N, 3), in cm.

    Face width and height scale by up to 6%, and a few broad bumps of up to
    3 mm change the relief, so that subjects look different without
    changing the expression the blendshapes describe.
    """
    rng = np.random.default_rng(seed)
    centre = face.vertices.mean(axis=0)
    extent = np.ptp(face.vertices[:, :2], axis=0)
    offset = (face.vertices - centre) * np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), 0.0])
    for _ in range(6):
        bump_centre = centre[:2] + rng.uniform(-0.35, 0.35, 2) * extent
        width = rng.uniform(0.1, 0.25) * extent.mean()
        distance2 = np.sum((face.vertices[:, :2] - bump_centre) ** 2, axis=1)
        offset[:, 2] += rng.uniform(-0.3, 0.3) * np.exp(-distance2 / (2 * width**2))
    return offset


def _write_png(array, path):
    from PIL import Image

    with atomic_write(path) as handle:
        Image.fromarray(array).save(handle, format="PNG")


def render_dataset_images(face, frames, coefficients, poses, subjects, *, size=112, folder=None, chunk=512):
    """Render every frame of a synthetic frame table.

    Parameters
    ----------
    face : FaceModel
    frames : DataFrame
        The frame table (``subject``, ``sequence``, ``frame``).
    coefficients : ndarray of shape (n_frames, K)
        True (noise-free) blendshape coefficients.
    poses : ndarray of shape (n_frames, 6)
        Rigid head motion.
    subjects : DataFrame
        Per-subject ``skin_tone``, ``light_direction``, ``ambient``, ``identity_seed``.
    size : int, default=112
    folder : Path, default=None
        Write PNGs there (``{subject}_{sequence}_{frame:05d}.png``) and
        return paths; ``None`` returns the arrays.
    chunk : int, default=512
        Frames rendered at once.

    Returns
    -------
    images : list
        One path (str) or HxWx3 uint8 array per frame.
    """
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    images = [None] * len(frames)
    subject_column = frames["subject"].to_numpy()
    for name in pd.unique(subject_column):  # in order of first appearance
        params = subjects.loc[name]
        rows = np.flatnonzero(subject_column == name)
        rest = face.vertices + identity_offset(face, int(params["identity_seed"]))
        for start in range(0, len(rows), chunk):
            block = rows[start : start + chunk]
            vertices = rest + np.tensordot(coefficients[block], face.blendshapes, axes=(-1, 0))
            rendered = render_faces(
                face, vertices, size=size, skin_tone=tuple(params["skin_tone"]),
                light_direction=tuple(params["light_direction"]), ambient=float(params["ambient"]),
                pose=poses[block],
            )  # fmt: skip
            for row, image in zip(block, rendered):
                if folder is None:
                    images[row] = image
                else:
                    record = frames.iloc[row]
                    path = folder / f"{record['subject']}_{record['sequence']}_{int(record['frame']):05d}.png"
                    _write_png(image, path)
                    images[row] = str(path)
    return images

