"""From the frame table to the tensors the network sees, in one place.

A frame table (DESIGN §3) has metadata columns ``subject``, ``sequence`` and
``frame``, one column per blendshape, optional image features (``z2d_*``)
and columns that are no model input (:data:`IGNORED_COLUMNS`,
:data:`IGNORED_PREFIXES`: what the video front end adds). Plain arrays are
one sequence of consecutive frames.

The dynamics may only be rolled over frames that follow each other, so every
sequence is cut into **segments** of consecutive tracked frames: a gap in
``frame`` or a *failed frame* (``success == False``, or every coefficient
NaN) ends a segment. Gaps of at most ``max_gap`` frames are filled by linear
interpolation instead. The network sees the frames of the segments only (the
*working frames* of :class:`FrameData`), each segment as a sequence of its
own; ``FrameData.rows`` maps them back to the table, and frames outside every
segment get NaN outputs. Training and inference both cut each segment into
windows of ``horizon`` frames; a frame's encoder input stacks its neighbours
within its segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..face import au_name

__all__ = [
    "METADATA",
    "IGNORED_COLUMNS",
    "IGNORED_PREFIXES",
    "FrameData",
    "align_labels",
    "check_horizon",
    "context_index",
    "is_bookkeeping_column",
    "make_windows",
    "parse_frames",
    "parse_labels",
    "sequence_pieces",
]

METADATA = ("subject", "sequence", "frame")
#: Columns of a frame table that are read as no model input: the time stamp,
#: the tracker's success flag, the head pose and the face crop.
IGNORED_COLUMNS = ("time", "success", "pose_Rx", "pose_Ry", "pose_Rz", "pose_Tx", "pose_Ty", "pose_Tz", "image")
#: Prefixes of such columns: MediaPipe's blendshape scores and the landmarks.
IGNORED_PREFIXES = ("arkit_", "landmark_")


@dataclass
class FrameData:
    """The numeric content of a frame table, as segments of consecutive frames.

    The arrays run over the *working frames*: the tracked frames of the
    table plus the frames interpolated into short gaps, ordered by segment
    and frame. Segments are numbered in the order their sequences first
    appear in the table, so a table without gaps or failed frames, sorted by
    sequence, gives the working frames in table order.
    """

    coefficients: np.ndarray  # (n, K) float32
    features: np.ndarray | None  # (n, D) float32
    sequence_ids: np.ndarray  # (n,) int, the segment of each frame, 0..S-1
    subjects: np.ndarray | None  # (n,) the subject of each frame (for grouped validation), or None
    index: pd.Index | None  # the frame table's index
    coefficient_names: list  # the blendshape columns read
    rows: np.ndarray | None = None  # (n,) table row of each frame; -1 for a frame filled into a gap
    n_rows: int | None = None  # rows of the table
    interpolated: np.ndarray | None = None  # (n,) bool: coefficients interpolated across a gap

    def __post_init__(self):
        n = len(self.coefficients)
        if self.rows is None:
            self.rows = np.arange(n)
        if self.n_rows is None:
            self.n_rows = n
        if self.interpolated is None:
            self.interpolated = np.zeros(n, dtype=bool)

    def to_rows(self, values):
        """Per-working-frame ``values`` (n, ...) as per-table-row values (n_rows, ...), NaN without output."""
        out = np.full((self.n_rows, *values.shape[1:]), np.nan, dtype=np.result_type(values.dtype, np.float32))
        shown = self.rows >= 0
        out[self.rows[shown]] = values[shown]
        return out

    def labels_for(self, labels):
        """Labels (n_rows, A) of the table as labels of the working frames.

        Interpolated frames get NaN: their coefficients are a guess, and a
        failed frame's label must not train the AU head.
        """
        out = labels[np.maximum(self.rows, 0)]
        out[(self.rows < 0) | self.interpolated] = np.nan
        return out


def _rows_text(labels, mask):
    """``"2 row(s) (first [4, 7])"`` for error messages, naming rows by the table's index."""
    hits = np.flatnonzero(mask)
    return f"{len(hits)} row(s) (first {[_plain(labels[i]) for i in hits[:5]]})"


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def is_bookkeeping_column(column):
    """Whether a frame-table column is metadata or ignored: never a model input."""
    if column in METADATA or column in IGNORED_COLUMNS:
        return True
    return isinstance(column, str) and column.startswith(IGNORED_PREFIXES)


def _columns(X, coefficient_names, feature_prefix):
    """Image-feature and coefficient columns of a frame table; raise on columns that are neither."""

    def other(c):
        # Metadata, ignored columns and image features are no coefficients.
        return is_bookkeeping_column(c) or (isinstance(c, str) and c.startswith(feature_prefix))

    feature_columns = [c for c in X.columns if isinstance(c, str) and c.startswith(feature_prefix)]
    if coefficient_names is None:
        coefficient_names = [c for c in X.columns if not other(c)]
    coefficient_names = list(coefficient_names)
    missing = [c for c in coefficient_names if c not in X.columns]
    chosen = set(coefficient_names)
    extra = [c for c in X.columns if not other(c) and c not in chosen]
    if missing or extra:
        raise ValueError(
            "The frame table's coefficient columns do not match the face model: "
            + (f"missing {missing[:8]}{'...' if len(missing) > 8 else ''}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {extra[:8]}" if extra else "")
            + ". Name one column per blendshape of the face model (face.blendshape_names); "
            "keep metadata in 'subject', 'sequence', 'frame' and image features as "
            f"'{feature_prefix}*' columns (columns {list(IGNORED_COLUMNS)} and "
            f"'{IGNORED_PREFIXES[0]}*', '{IGNORED_PREFIXES[1]}*' are ignored)."
        )
    if not coefficient_names:
        raise ValueError("The frame table has no coefficient columns: add one column per blendshape.")
    return feature_columns, coefficient_names


def _success(X):
    """The ``success`` flag of each row (all True without the column)."""
    if "success" not in X.columns:
        return np.ones(len(X), dtype=bool)
    values = pd.to_numeric(X["success"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The 'success' column must be True/False (or 1/0) for every frame; row "
            f"{_plain(X.index[first])!r} holds {_plain(X['success'].iloc[first])!r}."
        )
    return values == 1.0


def _sequences(X):
    """Sequence ids (by first appearance), subjects and integer frame numbers (or None) of a frame table."""
    present = [c for c in METADATA if c in X.columns]
    if not present:
        return np.zeros(len(X), dtype=np.int64), None, None
    missing = [c for c in ("subject", "sequence") if c not in X.columns]
    if missing:
        raise ValueError(
            f"The frame table has {present} but lacks {missing}: a temporal model needs 'subject' "
            "and 'sequence' to know which rows form one sequence (or drop all metadata columns "
            "to treat the rows as one sequence)."
        )
    for key in ("subject", "sequence"):
        absent = X[key].isna().to_numpy()
        if absent.any():
            raise ValueError(
                f"The '{key}' column has missing values (NaN or None) in {_rows_text(X.index, absent)}: "
                "every frame needs its subject and sequence; fill them in or drop those rows."
            )
    # Integer codes per column, then per pair: no per-row strings (hundreds of MB at 1M frames).
    subject_codes = pd.factorize(X["subject"])[0].astype(np.int64)
    sequence_codes = pd.factorize(X["sequence"])[0].astype(np.int64)
    ids = pd.factorize(subject_codes * (int(sequence_codes.max()) + 1) + sequence_codes)[0].astype(np.int64)
    if "frame" not in X.columns:
        return ids, X["subject"].to_numpy(), None
    values = pd.to_numeric(X["frame"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        raise ValueError("The 'frame' column must hold frame numbers; it has missing or non-numeric values.")
    fractional = values != np.round(values)
    if fractional.any():
        raise ValueError(
            f"The 'frame' column must hold whole frame numbers (gaps are read from them); "
            f"{_rows_text(X.index, fractional)} do not. Keep time stamps in a 'time' column."
        )
    frames = values.astype(np.int64)
    by_frame = np.lexsort((frames, ids))
    twin = (ids[by_frame][1:] == ids[by_frame][:-1]) & (frames[by_frame][1:] == frames[by_frame][:-1])
    repeated = np.zeros(len(ids), dtype=bool)
    repeated[by_frame[1:][twin]] = repeated[by_frame[:-1][twin]] = True
    del by_frame, twin
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        same = repeated & (ids == ids[first]) & (frames == frames[first])
        raise ValueError(
            f"Sequence ({_plain(X['subject'].iloc[first])!r}, {_plain(X['sequence'].iloc[first])!r}) has "
            f"frame {frames[first]} more than once ({_rows_text(X.index, same)}); in all "
            f"{_rows_text(X.index, repeated)} repeat a frame. One row per frame: drop the duplicates "
            "(frames.drop_duplicates(['subject', 'sequence', 'frame'])) or give each video its own 'sequence'."
        )
    order = np.lexsort((np.arange(len(ids)), ids))
    same = ids[order][1:] == ids[order][:-1]
    if np.any(np.diff(frames[order])[same] < 0):
        raise ValueError(
            "Rows of a sequence must be ordered by increasing 'frame'; sort the frame table "
            "with frames.sort_values(['subject', 'sequence', 'frame']) (and the labels with it)."
        )
    return ids, X["subject"].to_numpy(), frames


def _check_values(coefficients, failed, labels):
    """Tracked frames need every coefficient finite; failed ones may hold anything."""
    nan = np.isnan(coefficients).any(axis=1) & ~failed
    if nan.any():
        raise ValueError(
            f"The coefficients are NaN in only some columns of {_rows_text(labels, nan)}: a frame is "
            "either tracked (every coefficient finite) or failed (every coefficient NaN, or "
            "success=False). Impute the missing values or blank the whole row."
        )
    infinite = np.isinf(coefficients).any(axis=1) & ~failed
    if infinite.any():
        raise ValueError(f"The coefficients are infinite in {_rows_text(labels, infinite)}; drop or fix those frames.")


def _segments(sequences, positions, failed, max_gap):
    """Cut sequences into segments of consecutive tracked frames, filling gaps of <= ``max_gap`` frames.

    Parameters
    ----------
    sequences : ndarray of int, shape (n_rows,)
    positions : ndarray of int, shape (n_rows,)
        Frame numbers, increasing within each sequence in table order.
    failed : ndarray of bool, shape (n_rows,)
    max_gap : int

    Returns
    -------
    segment, rows, left, right, weight, interpolated : ndarrays of shape (n,)
        Per working frame, ordered by segment and frame: its segment; its
        table row (-1 for a frame absent from the table); the tracked rows it
        is interpolated between, and the weight of ``right`` (0 for a
        tracked frame, where ``left == right``).
    """
    n = len(sequences)
    order = np.lexsort((np.arange(n), sequences))
    tracked = ~failed[order]
    t_rows, t_seq, t_pos = order[tracked], sequences[order][tracked], positions[order][tracked]
    if not len(t_rows):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty, np.zeros(0), np.zeros(0, dtype=bool)
    same = t_seq[1:] == t_seq[:-1]
    missing = t_pos[1:] - t_pos[:-1] - 1  # frames between two tracked neighbours
    segment = np.cumsum(np.r_[True, ~same | (missing > max_gap)]) - 1
    pairs = np.flatnonzero(same & (missing > 0) & (missing <= max_gap))
    counts = missing[pairs]
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1  # 1..count in a gap
    gap_seq, gap_pos = np.repeat(t_seq[pairs], counts), np.repeat(t_pos[pairs], counts) + step
    gap_rows = np.full(len(step), -1, dtype=np.int64)
    if len(step) and failed.any():
        # A gap frame may be a failed row of the table: it then gets an output.
        f_rows = order[~tracked]
        known = pd.MultiIndex.from_arrays([sequences[f_rows], positions[f_rows]])
        found = known.get_indexer(pd.MultiIndex.from_arrays([gap_seq, gap_pos]))
        gap_rows = np.where(found >= 0, f_rows[np.maximum(found, 0)], -1)
    seg = np.r_[segment, np.repeat(segment[pairs], counts)]
    merge = np.lexsort((np.r_[t_pos, gap_pos], seg))
    return (
        seg[merge],
        np.r_[t_rows, gap_rows][merge],
        np.r_[t_rows, np.repeat(t_rows[pairs], counts)][merge],
        np.r_[t_rows, np.repeat(t_rows[pairs + 1], counts)][merge],
        np.r_[np.zeros(len(t_rows)), step / np.repeat(counts + 1, counts)][merge],
        np.r_[np.zeros(len(t_rows), dtype=bool), np.ones(len(step), dtype=bool)][merge],
    )


def _float32_columns(X, columns, what):
    """``X[columns]`` as one float32 array, column by column (no float64 copy of the table)."""
    out = np.empty((len(X), len(columns)), dtype=np.float32)
    for j, column in enumerate(columns):
        try:
            out[:, j] = X[column].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(
                f"The {what} columns must be numeric; column {column!r} holds {X[column].dtype} values."
            ) from None
    return out


def _interpolate(values, left, right, weight):
    if len(left) == len(values) and np.array_equal(left, np.arange(len(values))):
        return values  # every row tracked, in order: nothing to gather (no copy)
    out = values[left]
    moved = weight > 0
    out[moved] += weight[moved, None] * (values[right[moved]] - out[moved])
    return out


def parse_frames(X, coefficient_names=None, *, feature_prefix="z2d_", n_features=None, max_gap=0):
    """Split a frame table (or array) into coefficients, features and segments.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_frames, K)
    coefficient_names : sequence of str, default=None
        The blendshape columns expected; ``None`` takes every column that is
        neither metadata, ignored nor an image feature (arrays: all columns).
    feature_prefix : str, default="z2d_"
        Prefix of image-feature columns.
    n_features : int, default=None
        Number of image features expected (``None``: whatever is there).
    max_gap : int, default=0
        Longest run of missing or failed frames between two tracked frames
        of a sequence that is filled by linear interpolation; longer gaps
        split the sequence.

    Returns
    -------
    FrameData
        Over the working frames (see the class).
    """
    failed = None
    if isinstance(X, pd.DataFrame):
        feature_columns, coefficient_names = _columns(X, coefficient_names, feature_prefix)
        coefficients = _float32_columns(X, coefficient_names, "coefficient")
        features = _float32_columns(X, feature_columns, "image-feature") if feature_columns else None
        failed = ~_success(X)
        sequences, subjects, positions = _sequences(X)
        index = labels = X.index
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
        coefficients, features = array.astype(np.float32, copy=False), None
        sequences, subjects, positions, index = np.zeros(len(array), dtype=np.int64), None, None, None
        labels = np.arange(len(array))
        if coefficient_names is None:
            coefficient_names = [f"c{j}" for j in range(array.shape[1])]
    if len(coefficients) == 0:
        raise ValueError("X has 0 frames (samples); at least one is required.")
    failed = np.isnan(coefficients).all(axis=1) | (False if failed is None else failed)
    _check_values(coefficients, failed, labels)
    if features is not None:
        bad = ~np.isfinite(features).all(axis=1) & ~failed
        if bad.any():
            # Only failed frames may lack features (ImageFeatureTransformer gives NaN to rows
            # without an image): a tracked frame without them would train on a hole.
            raise ValueError(
                f"The image features are NaN or infinite in {_rows_text(labels, bad)} of tracked frames "
                "(finite coefficients, success not False); ImageFeatureTransformer gives NaN features to "
                "frames without an image. Give those frames their images, drop them, or mark them "
                "failed (success=False)."
            )
    if n_features is not None and n_features > 0 and (features is None or features.shape[1] != n_features):
        got = 0 if features is None else features.shape[1]
        raise ValueError(
            f"Expected {n_features} image-feature columns '{feature_prefix}*', got {got}: put an "
            "ImageFeatureTransformer before this estimator, as when it was fitted."
        )
    if positions is None:  # rows are consecutive frames: a failed row is a one-frame gap
        order = np.lexsort((np.arange(len(sequences)), sequences))
        positions = np.empty(len(sequences), dtype=np.int64)
        starts = np.r_[True, sequences[order][1:] != sequences[order][:-1]]
        positions[order] = np.arange(len(order)) - np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    segment, rows, left, right, weight, interpolated = _segments(sequences, positions, failed, int(max_gap))
    return FrameData(
        _interpolate(coefficients, left, right, weight),
        None if features is None else _interpolate(features, left, right, weight),
        segment,
        None if subjects is None else subjects[left],
        index,
        list(coefficient_names),
        rows=rows,
        n_rows=len(coefficients),
        interpolated=interpolated,
    )


def sequence_pieces(X, max_rows):
    """Row ranges ``[(start, stop), ...]`` of ``X`` that hold whole sequences, about ``max_rows`` each.

    Inference parses and runs a long frame table a piece at a time, so the
    memory it needs beyond the input and the output does not grow with the
    table. A piece is cut only where one sequence's run of rows ends and the
    next begins; a sequence longer than ``max_rows`` is a piece of its own.
    Tables that cannot be cut that way come back whole (``[(0, n)]``): an
    array or a table without metadata (one sequence), missing ids (left to
    :func:`parse_frames` to report), or a sequence whose rows are not
    contiguous.
    """
    if not isinstance(X, pd.DataFrame):
        return [(0, len(np.asarray(X)))]
    n = len(X)
    if n <= max_rows or not {"subject", "sequence"} <= set(X.columns):
        return [(0, n)]
    subjects, sequences = X["subject"], X["sequence"]
    if subjects.isna().any() or sequences.isna().any():
        return [(0, n)]
    # Run starts, scanned a piece's worth of rows at a time: memory stays flat in the table length.
    starts, seen = [], set()
    for low in range(0, n, max_rows):
        first = max(low - 1, 0)  # the previous block's last row, to compare with
        subject = subjects.iloc[first : low + max_rows].to_numpy()
        sequence = sequences.iloc[first : low + max_rows].to_numpy()
        new = np.flatnonzero((subject[1:] != subject[:-1]) | (sequence[1:] != sequence[:-1])) + 1
        for i in np.r_[0, new] if low == 0 else new:
            key = (subject[i], sequence[i])
            if key in seen:  # the sequence came before, in another run
                return [(0, n)]
            seen.add(key)
            starts.append(first + int(i))
    starts = np.r_[starts, n]
    pieces, low = [], 0
    while low < n:
        fit = starts[np.searchsorted(starts, low + max_rows, side="right") - 1]  # last run start within reach
        high = fit if fit > low else starts[np.searchsorted(starts, low, side="right")]
        pieces.append((low, int(high)))
        low = int(high)
    return pieces


def align_labels(X, y):
    """``y`` in the row order of ``X`` when both carry a pandas index.

    Labels are matched to frames by position unless both ``X`` (a
    DataFrame) and ``y`` (a Series or DataFrame) carry an index: then ``y``
    is reordered to ``X``'s index when both hold the same labels, and a
    mismatch is an error (guessing would train on scrambled labels).
    Lengths that differ are left to the row-count check.
    """
    if not isinstance(X, pd.DataFrame) or not isinstance(y, (pd.Series, pd.DataFrame)):
        return y
    if y.index.equals(X.index) or len(y) != len(X):
        return y
    advice = (
        "Give y the index of X (y.loc[X.index] when the labels are indexed like the frames), or "
        "reset both indexes (reset_index(drop=True)) if the rows already match by position."
    )
    for name, index in (("X", X.index), ("y", y.index)):
        if index.has_duplicates:
            raise ValueError(
                f"X and y carry different indexes and {name}'s has duplicate labels "
                f"(e.g. {_plain(index[index.duplicated()][0])!r}), so frames and labels cannot be matched. "
                + advice
            )
    absent, extra = X.index.difference(y.index), y.index.difference(X.index)
    if len(absent) or len(extra):
        raise ValueError(
            f"y's index does not match X's: {len(absent)} frame(s) of X have no label row (first "
            f"{[_plain(v) for v in absent[:5]]}) and {len(extra)} label row(s) match no frame (first "
            f"{[_plain(v) for v in extra[:5]]}). " + advice
        )
    return y.loc[X.index]


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


def check_horizon(sequence_ids, horizon):
    """Training needs at least one segment as long as the horizon (shorter ones are padded)."""
    longest = int(np.bincount(sequence_ids).max())
    if longest < horizon:
        raise ValueError(
            f"The longest sequence has {longest} samples (frames) but horizon={horizon}: training "
            "windows need at least one sequence (without gaps or failed frames) as long as the "
            "horizon. Lower horizon, or allow short gaps to be filled with max_gap."
        )


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
