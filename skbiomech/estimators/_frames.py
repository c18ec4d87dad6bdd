"""From the frame table to the tensors the network sees, in one place.

A frame table (DESIGN §3) has metadata columns ``subject``, ``sequence`` and
``frame``, one column per blendshape, optional image features (``z2d_*``)
and an optional ``image`` column. Plain arrays are one sequence of
consecutive frames. Training and inference both cut each sequence into
windows of ``horizon`` frames; a frame's encoder input stacks its
neighbours within its sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..face import au_name

__all__ = ["METADATA", "FrameData", "parse_frames", "parse_labels", "make_windows", "context_index"]

METADATA = ("subject", "sequence", "frame")
_IGNORED = ("image",)


@dataclass
class FrameData:
    """The numeric content of a frame table."""

    coefficients: np.ndarray  # (n, K) float32
    features: np.ndarray | None  # (n, D) float32
    sequence_ids: np.ndarray  # (n,) int, 0..S-1
    subjects: np.ndarray | None  # (n,) or None
    index: pd.Index | None  # the frame table's index, for outputs
    coefficient_names: list  # the blendshape columns read


def _finite(array, what):
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(
            f"{what} contain {int(bad.sum())} NaN or infinite value(s) (first rows {rows[:5].tolist()}); "
            "drop or impute those frames first."
        )
    return array


def _sequence_ids(frame_table):
    present = [c for c in METADATA if c in frame_table.columns]
    if not present:
        return np.zeros(len(frame_table), dtype=np.int64), None
    missing = [c for c in ("subject", "sequence") if c not in frame_table.columns]
    if missing:
        raise ValueError(
            f"The frame table has {present} but lacks {missing}: a temporal model needs 'subject' "
            "and 'sequence' to know which rows form one sequence (or drop all metadata columns "
            "to treat the rows as one sequence)."
        )
    keys = frame_table["subject"].astype(str) + "\x1f" + frame_table["sequence"].astype(str)
    ids = pd.factorize(keys)[0].astype(np.int64)
    if "frame" in frame_table.columns:
        frames = pd.to_numeric(frame_table["frame"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(frames).any():
            raise ValueError("The 'frame' column must hold frame numbers; it has missing or non-numeric values.")
        order = np.lexsort((np.arange(len(ids)), ids))
        same = ids[order][1:] == ids[order][:-1]
        if np.any(np.diff(frames[order])[same] <= 0):
            raise ValueError(
                "Rows of a sequence must be ordered by increasing 'frame'; sort the frame table "
                "with frames.sort_values(['subject', 'sequence', 'frame'])."
            )
    return ids, frame_table["subject"].to_numpy()


def parse_frames(X, coefficient_names=None, *, feature_prefix="z2d_", n_features=None):
    """Split a frame table (or array) into coefficients, features and sequences.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_frames, K)
    coefficient_names : sequence of str, default=None
        The blendshape columns expected; ``None`` takes every numeric column
        that is neither metadata nor an image feature (arrays: all columns).
    feature_prefix : str, default="z2d_"
        Prefix of image-feature columns.
    n_features : int, default=None
        Number of image features expected (``None``: whatever is there).

    Returns
    -------
    FrameData
    """
    if isinstance(X, pd.DataFrame):
        feature_columns = [c for c in X.columns if isinstance(c, str) and c.startswith(feature_prefix)]
        if coefficient_names is None:
            coefficient_names = [
                c for c in X.columns if c not in METADATA + _IGNORED and c not in feature_columns
            ]
        coefficient_names = list(coefficient_names)
        missing = [c for c in coefficient_names if c not in X.columns]
        extra = [
            c for c in X.columns
            if c not in METADATA + _IGNORED and c not in feature_columns and c not in coefficient_names
        ]  # fmt: skip
        if missing or extra:
            raise ValueError(
                "The frame table's coefficient columns do not match the face model: "
                + (f"missing {missing[:8]}{'...' if len(missing) > 8 else ''}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unexpected {extra[:8]}" if extra else "")
                + ". Name one column per blendshape of the face model (face.blendshape_names); "
                "keep metadata in 'subject', 'sequence', 'frame' and image features as "
                f"'{feature_prefix}*' columns."
            )
        try:
            coefficients = X[coefficient_names].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("The coefficient columns must be numeric.") from None
        features = X[feature_columns].to_numpy(dtype=np.float64) if feature_columns else None
        sequence_ids, subjects = _sequence_ids(X)
        index = X.index
    else:
        array = np.asarray(X)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"X must be a frame table (DataFrame) or a numeric array; got dtype {array.dtype}.")
        if array.ndim != 2:
            raise ValueError(f"X must be 2-D (n_frames, n_coefficients); got shape {array.shape}.")
        if coefficient_names is not None and array.shape[1] != len(coefficient_names):
            raise ValueError(
                f"X has {array.shape[1]} columns; the face model has {len(coefficient_names)} blendshapes."
            )
        coefficients, features = array.astype(np.float64), None
        sequence_ids, subjects, index = np.zeros(len(array), dtype=np.int64), None, None
        if coefficient_names is None:
            coefficient_names = [f"c{j}" for j in range(array.shape[1])]
    if len(coefficients) == 0:
        raise ValueError("X has 0 frames (samples); at least one is required.")
    _finite(coefficients, "The coefficients")
    if features is not None:
        _finite(features, "The image features")
    if n_features is not None and n_features > 0 and (features is None or features.shape[1] != n_features):
        got = 0 if features is None else features.shape[1]
        raise ValueError(
            f"Expected {n_features} image-feature columns '{feature_prefix}*', got {got}: put an "
            "ImageFeatureTransformer before this estimator, as when it was fitted."
        )
    return FrameData(
        coefficients.astype(np.float32),
        None if features is None else features.astype(np.float32),
        sequence_ids,
        subjects,
        index,
        list(coefficient_names),
    )


def parse_labels(y, n_frames):
    """AU labels as float32 (n, A) with NaN for unknown, plus the AU names."""
    if isinstance(y, pd.Series):
        y = y.to_frame()
    if isinstance(y, pd.DataFrame):
        try:
            names = [au_name(c) for c in y.columns]
        except ValueError as exc:
            raise ValueError(f"Label columns must be AU names such as 'AU12': {exc}") from None
        values = y.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(y, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"y must be (n_frames, n_aus); got shape {values.shape}.")
        names = [f"AU_{j}" for j in range(values.shape[1])]
    if len(values) != n_frames:
        raise ValueError(f"y has {len(values)} rows but X has {n_frames} frames.")
    known = values[~np.isnan(values)]
    if np.isinf(values).any() or not np.isin(known, (0.0, 1.0)).all():
        bad = np.unique(known[~np.isin(known, (0.0, 1.0))])[:5]
        raise ValueError(
            f"Labels must be 1 (present), 0 (absent) or NaN (unknown); found {bad.tolist()}. "
            "Map codes such as BP4D's 9 to NaN and intensities to presence first."
        )
    return values.astype(np.float32), names


def context_index(sequence_ids, window):
    """Row indices (n, 2 * window + 1) of each frame's neighbours in its sequence (edge-clamped)."""
    n = len(sequence_ids)
    rows = np.arange(n)
    order = np.lexsort((rows, sequence_ids))
    position = np.empty(n, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sequence_ids[order][1:] != sequence_ids[order][:-1]])
    lengths = np.diff(np.r_[starts, n])
    first = np.repeat(starts, lengths)
    position[order] = np.arange(n) - first
    length = np.empty(n, dtype=np.int64)
    length[order] = np.repeat(lengths, lengths)
    start = np.empty(n, dtype=np.int64)
    start[order] = first
    offsets = np.arange(-window, window + 1)
    neighbour = np.clip(position[:, None] + offsets, 0, length[:, None] - 1)
    return order[start[:, None] + neighbour]


def make_windows(sequence_ids, horizon, *, allow_short):
    """Cut every sequence into windows of ``horizon`` frames.

    Returns
    -------
    index : ndarray of shape (W, horizon)
        Rows of each window; short windows repeat their last row.
    valid : ndarray of bool, shape (W, horizon)
        Real (not padded) frames.
    owner : ndarray of bool, shape (W, horizon)
        The one window whose output stands for each frame (the last window
        of a sequence overlaps the previous one).
    """
    order = np.lexsort((np.arange(len(sequence_ids)), sequence_ids))
    boundaries = np.flatnonzero(np.r_[True, sequence_ids[order][1:] != sequence_ids[order][:-1], True])
    index, valid, owner = [], [], []
    for start, stop in zip(boundaries[:-1], boundaries[1:]):
        rows = order[start:stop]
        n = len(rows)
        if n < horizon:
            if not allow_short:
                raise ValueError(
                    f"A sequence has {n} samples (frames) but horizon={horizon}: training windows need "
                    "sequences at least as long as the horizon. Lower horizon or drop short sequences."
                )
            index.append(np.r_[rows, np.repeat(rows[-1], horizon - n)])
            valid.append(np.arange(horizon) < n)
            owner.append(valid[-1])
            continue
        starts = list(range(0, n - horizon + 1, horizon))
        if starts[-1] + horizon < n:
            starts.append(n - horizon)
        covered = 0
        for s in starts:
            index.append(rows[s : s + horizon])
            valid.append(np.ones(horizon, dtype=bool))
            owner.append(np.arange(s, s + horizon) >= covered)
            covered = s + horizon
    return np.stack(index), np.stack(valid), np.stack(owner)
