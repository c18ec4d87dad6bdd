"""Aligned face crops for the image branch, written to a cache folder.

Each crop is the frame warped by the 2D similarity that best maps the
face's mesh landmarks onto MediaPipe's canonical face seen from the front,
so eyes and mouth sit at the same pixels in every crop, as in the aligned
crops the AU literature trains on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ._fit import similarity_align

__all__ = ["CropWriter", "crop_transform", "source_key"]

_FACE_WIDTH = 0.62  # of the crop taken by the canonical face's width


def crop_transform(points, template):
    """2D similarity (2, 3) mapping image ``points`` (L, 2) onto ``template`` (L, 2)."""
    lift = lambda p: np.c_[p, np.zeros(len(p))][None]  # noqa: E731  (a 2D fit inside the 3D one)
    scale, rotation, translation = similarity_align(lift(points), lift(template), np.ones(len(points)))
    return np.c_[scale[0] * rotation[0, :2, :2], translation[0, :2]]


def source_key(source, size):
    """A string that changes when the media behind ``source`` changes."""
    if isinstance(source, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(source).data).hexdigest()
        return f"array:{source.shape}:{digest}:{size}"
    path = Path(source).resolve()
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{size}"


class CropWriter:
    """Writes one aligned crop per frame as PNG under ``folder``; existing crops are reused.

    Parameters
    ----------
    folder : path-like
        A cache folder of the user's choice (never the input's folder).
    size : int
        Crop side in pixels.
    canonical_vertices : ndarray of shape (468, 3)
        MediaPipe's canonical face (cm; x to the subject's left, y up).
    """

    def __init__(self, folder, size, canonical_vertices):
        self.folder = Path(folder).expanduser()
        self.size = int(size)
        xy = np.asarray(canonical_vertices, dtype=np.float64)[:, :2]
        span = xy[:, 0].max() - xy[:, 0].min()
        centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
        pixels = (xy - centre) * (_FACE_WIDTH * self.size / span)
        self.template = np.c_[pixels[:, 0], -pixels[:, 1]] + 0.5 * self.size  # image y points down

    def path(self, source_key, number):
        """Where frame ``number`` of the source identified by ``source_key`` goes."""
        digest = hashlib.sha256(source_key.encode()).hexdigest()[:16]
        return self.folder / digest / f"{int(number):07d}.png"

    def write(self, source_key, number, image, landmarks):
        """The crop's path, after writing it unless it exists.

        ``source_key`` identifies the source's content (see :func:`source_key`),
        so a changed video never reuses stale crops.
        """
        from PIL import Image

        target = self.path(source_key, number)
        if target.is_file():
            return str(target)
        height, width = image.shape[:2]
        points = np.asarray(landmarks, dtype=np.float64)[: len(self.template), :2] * (width, height)
        forward = np.vstack([crop_transform(points, self.template), [0.0, 0.0, 1.0]])
        inverse = np.linalg.inv(forward)[:2].ravel()  # PIL maps output pixels back to input
        crop = Image.fromarray(image).transform(
            (self.size, self.size), Image.Transform.AFFINE, tuple(inverse), resample=Image.Resampling.BILINEAR
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as handle:
            crop.save(handle, format="PNG")
        return str(target)
