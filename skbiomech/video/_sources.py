"""What ``FaceTracker.transform`` accepts, turned into units of work.

A *unit* is one subject's sequences, processed in order by one worker, so
that the subject's identity is fitted once. Inputs: a path (video, image
or folder of frame images), a list of paths, an image array, a DataFrame
with a ``path`` column (optional ``subject``, ``sequence``), or a frame table
with an ``image`` column (one row per frame, as ``load_bp4d`` and
``load_disfa`` give), whose rows come back in their own order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Sequence", "Unit", "work_units"]


@dataclass
class Sequence:
    """One sequence of frames: a media source, or image files listed by a frame table."""

    name: str
    source: object  # path, ndarray, or None when ``images`` lists the frames
    images: list | None = None  # per-frame image (path or array) for frame-table input
    frames: np.ndarray | None = None  # the frame table's frame numbers, for ``images``
    rows: np.ndarray | None = None  # positions of those rows in the frame table

    def describe(self):
        if self.images is not None:
            return f"sequence {self.name!r} ({len(self.images)} image files)"
        return str(self.source) if not isinstance(self.source, np.ndarray) else "the image array"


@dataclass
class Unit:
    subject: str
    sequences: list = field(default_factory=list)


def _name(path):
    path = Path(path)
    return path.stem if path.suffix else path.name


def _from_paths(paths, subjects=None, sequences=None):
    units = {}
    names = [_name(p) for p in paths]
    duplicated = {n for n in names if names.count(n) > 1}
    for k, path in enumerate(paths):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"Entry {k} of the input is a {type(path).__name__}; FaceTracker takes paths of videos, "
                "images or folders of frame images (or a DataFrame with a 'path' column)."
            )
        name = str(path) if names[k] in duplicated else names[k]
        subject = name if subjects is None else str(subjects[k])
        sequence = name if sequences is None else str(sequences[k])
        units.setdefault(subject, Unit(subject)).sequences.append(Sequence(sequence, path))
    return list(units.values())


def _from_frame_table(table):
    missing = [c for c in ("subject", "sequence", "frame") if c not in table.columns]
    if missing:
        raise ValueError(
            f"A frame table with an 'image' column needs {missing} too: rows are frames of sequences "
            "(as load_bp4d and load_disfa give)."
        )
    for column in ("subject", "sequence"):
        if table[column].isna().any():
            raise ValueError(f"The frame table's {column!r} column has missing values.")
    frames = pd.to_numeric(table["frame"], errors="coerce").to_numpy(dtype=float)
    if np.isnan(frames).any():
        raise ValueError("The frame table's 'frame' column must hold frame numbers.")
    units = {}
    keys = table["subject"].astype(str) + "\x1f" + table["sequence"].astype(str)
    for key, positions in pd.Series(np.arange(len(table))).groupby(keys.to_numpy(), sort=False):
        positions = positions.to_numpy()
        order = positions[np.argsort(frames[positions], kind="stable")]
        numbers = frames[order]
        if np.any(np.diff(numbers) == 0):
            raise ValueError(f"Sequence {key.replace(chr(31), '/')!r} of the frame table repeats frame numbers.")
        subject, sequence = key.split("\x1f", 1)
        images = list(table["image"].to_numpy()[order])
        seq = Sequence(sequence, None, images=images, frames=numbers.astype(np.int64), rows=order)
        units.setdefault(subject, Unit(subject)).sequences.append(seq)
    return list(units.values())


def work_units(X):
    """The units of work in ``X``, and whether the output follows ``X``'s rows.

    Returns
    -------
    units : list of Unit
    row_aligned : bool
        True for a frame table with an ``image`` column.
    """
    if isinstance(X, (str, os.PathLike)):
        return _from_paths([X]), False
    if isinstance(X, np.ndarray):
        if X.ndim not in (3, 4) or X.shape[-1] != 3:
            raise ValueError(
                f"An image array must be (H, W, 3) or (T, H, W, 3) RGB; got shape {X.shape}."
            )
        return [Unit("array", [Sequence("array", X)])], False
    if isinstance(X, pd.DataFrame):
        if "path" in X.columns:
            paths = X["path"].tolist()
            if any(not isinstance(p, (str, os.PathLike)) for p in paths):
                raise ValueError("The 'path' column must hold file or folder paths, with no missing values.")
            subjects = X["subject"].tolist() if "subject" in X.columns else None
            sequences = X["sequence"].tolist() if "sequence" in X.columns else None
            return _from_paths(paths, subjects, sequences), False
        if "image" in X.columns:
            return _from_frame_table(X), True
        raise ValueError(
            "A DataFrame given to FaceTracker needs a 'path' column (one video, image or folder per row) "
            "or an 'image' column (a frame table, one image per frame)."
        )
    if isinstance(X, (list, tuple, pd.Series)):
        if len(X) == 0:
            raise ValueError("FaceTracker got an empty list of inputs.")
        return _from_paths(list(X)), False
    raise TypeError(
        f"FaceTracker cannot read a {type(X).__name__}: give a path, a list of paths, an image array, "
        "or a DataFrame with a 'path' or 'image' column."
    )
