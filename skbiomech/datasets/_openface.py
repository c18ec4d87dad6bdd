"""Read and write OpenFace 2.0 style per-frame AU CSV files.

OpenFace's ``FeatureExtraction`` writes one CSV per video: a header and rows
whose fields are separated by ``", "`` (so a plain CSV reader sees column
names such as ``" AU01_c"``), with ``AUxx_r`` intensities (0-5) and
``AUxx_c`` presence (0/1) among pose, gaze and landmark columns.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_write
from ..face._facs import au_name

__all__ = ["read_openface_csv", "read_openface_csvs", "write_openface_csv"]

_DEFAULT_FPS = 30.0
# A whole number as OpenFace writes them (a last field cut short, such as "1." or "-", is not).
_NUMBER = re.compile(r"[-+]?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?|nan|NaN|inf|-inf")


def write_openface_csv(
    path, frames, predictions=None, probabilities=None, *, aus=None, fps=None
):
    """Write per-frame AU predictions as an OpenFace 2.0 style CSV.

    Columns: ``frame``, ``face_id`` (0), ``timestamp``, ``success`` (1), then
    ``AUxx_r`` for every AU, then ``AUxx_c`` for every AU, separated by
    ``", "`` like OpenFace's own files. The file is written atomically (a
    temporary file in the same folder, then :func:`os.replace`).

    Parameters
    ----------
    path : str or path-like
        Output CSV; its folder must exist.
    frames : DataFrame or array-like of int of shape (n_frames,)
        The frame table of one video (its ``frame`` column is used) or the
        frame numbers themselves, written as they are.
    predictions : DataFrame or array-like of shape (n_frames, n_aus), default=None
        0/1 presence, written as ``AUxx_c``; NaN is written as an empty field.
        When None, ``probabilities >= 0.5`` is written instead.
    probabilities : DataFrame or array-like of shape (n_frames, n_aus), default=None
        Presence probabilities in [0, 1], written as ``AUxx_r = 5 *
        probability`` so that the column has OpenFace's 0-5 range; it is a
        rescaled probability, not an intensity estimate. When None, no
        ``AUxx_r`` column is written.
    aus : iterable of str or int, default=None
        AU of each column of ``predictions``/``probabilities``; the
        DataFrame's column names when None.
    fps : float, default=None
        Frame rate: ``timestamp = frame / fps`` in seconds, so 0-based frame
        numbers start at time 0 (OpenFace itself counts frames from 1 and
        writes ``(frame - 1) / fps``). When None, **30 fps is assumed**; BP4D
        is filmed at 25 fps and DISFA at 20 fps: pass the right rate when
        timestamps matter.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If neither predictions nor probabilities is given, their shapes or
        AU names do not match the frames, ``frames`` holds several
        sequences, or ``fps`` is not positive.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "SN001.csv"
    >>> _ = write_openface_csv(out, [0, 1], probabilities=[[0.2], [0.9]], aus=["AU12"])
    >>> print(out.read_text(), end="")
    frame, face_id, timestamp, success, AU12_r, AU12_c
    0, 0, 0.000000, 1, 1.000000, 0
    1, 0, 0.033333, 1, 4.500000, 1
    """
    frame_numbers = _frame_numbers(frames)
    if predictions is None and probabilities is None:
        raise ValueError("give predictions, probabilities or both to write.")
    fps = _DEFAULT_FPS if fps is None else float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number; got {fps!r}.")
    proba, names = _au_table(probabilities, aus, len(frame_numbers), "probabilities")
    present, names_c = _au_table(predictions, aus, len(frame_numbers), "predictions")
    if proba is not None and present is not None and names != names_c:
        raise ValueError(
            f"predictions and probabilities name different AUs: {names_c} vs {names}."
        )
    if proba is not None and np.any((proba < 0) | (proba > 1)):
        raise ValueError("probabilities must lie in [0, 1].")
    if present is None:
        present, names_c = np.where(np.isnan(proba), np.nan, proba >= 0.5), names
    elif not np.all(np.isin(present, (0, 1)) | np.isnan(present)):
        raise ValueError("predictions must be 0/1 (or NaN for unknown).")
    out = pd.DataFrame({"frame": frame_numbers, "face_id": 0, "timestamp": frame_numbers / fps, "success": 1})
    if proba is not None:
        for j, name in enumerate(names):
            out[f"{name}_r"] = 5.0 * proba[:, j]
    for j, name in enumerate(names_c):
        # Int64 keeps 0/1 without a ".0" and NaN as an empty field.
        out[f"{name}_c"] = pd.array(np.where(np.isnan(present[:, j]), None, present[:, j]), "Int64")
    return write_table(path, out)


def write_table(path, table):
    """Write a numeric table atomically in OpenFace's CSV style (``", "``, 6 decimals, NaN empty)."""
    # Every field is numeric, so the only commas are separators.
    text = table.to_csv(index=False, float_format="%.6f", lineterminator="\n").replace(",", ", ")
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


def read_openface_csv(path, *, subject=None, sequence=None, face_id=None):
    """Read an OpenFace 2.0 ``FeatureExtraction`` CSV as a frame table and labels.

    Parameters
    ----------
    path : str or path-like
        The CSV file (``", "`` or ``","`` separated).
    subject, sequence : str, default=None
        Values of the ``subject`` and ``sequence`` columns; the file stem
        (``"SN001"`` for ``SN001.csv``) when None.
    face_id : int, default=None
        The face to keep when the file tracks several (``FaceLandmarkVidMulti``);
        required then, ignored for single-face files.

    Returns
    -------
    frames : DataFrame of shape (n_frames, n_columns)
        ``subject``, ``sequence``, ``frame`` (as in the file: OpenFace counts
        video frames from 1), then the ``pose_*`` columns and the ``AUxx_r``
        intensities, kept as they are. Rows sorted by frame, ``RangeIndex``.
    labels : DataFrame of shape (n_frames, n_aus)
        One column ``AUxx`` per ``AUxx_c`` column: 1.0/0.0, NaN where
        ``success == 0`` (OpenFace found no face) or the field is empty.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not UTF-8 text, is empty or lacks a ``frame`` column,
        a row before the last has fewer fields than the header, a frame
        number or an ``AUxx_c`` value is invalid (naming the line), or frames
        repeat.

    Warns
    -----
    UserWarning
        When the last row is cut short, as an interrupted write leaves it
        (fewer fields than the header, or, on a last line without its
        newline, a last field that is no whole number): the row is dropped
        and the warning names the file and the line. A last line without
        its newline whose fields and last number look whole is kept.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "F001_T1.csv"
    >>> _ = path.write_text("frame, face_id, timestamp, confidence, success, "
    ...     "pose_Rx, AU12_r, AU12_c\\n1, 0, 0.000, 0.98, 1, 0.1, 2.5, 1\\n"
    ...     "2, 0, 0.033, 0.00, 0, 0.0, 0.0, 0\\n")
    >>> frames, labels = read_openface_csv(path)
    >>> frames
       subject sequence  frame  pose_Rx  AU12_r
    0  F001_T1  F001_T1      1      0.1     2.5
    1  F001_T1  F001_T1      2      0.0     0.0
    >>> labels
       AU12
    0   1.0
    1   NaN
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no OpenFace CSV at {str(path)!r}.")
    text = _whole_rows(_read_text(path), path)
    try:
        table = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{str(path)!r} is empty; expected an OpenFace CSV header.") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{str(path)!r}: cannot be parsed as CSV ({exc}).") from None
    table.columns = [str(c).strip() for c in table.columns]
    if "frame" not in table.columns:
        raise ValueError(f"{str(path)!r}: no 'frame' column; is it an OpenFace CSV?")
    table = _one_face(table, path, face_id)
    frame_numbers = _checked(table["frame"], path, "frame number")
    order = np.argsort(frame_numbers, kind="stable")
    repeated = np.flatnonzero(np.diff(frame_numbers[order]) == 0)
    if repeated.size:
        row = int(order[repeated[0] + 1])
        raise ValueError(
            f"{str(path)!r}, line {table.index[row] + 2}: frame {frame_numbers[row]} is repeated."
        )
    # The index keeps file rows until the end, so errors name the right line.
    table = table.iloc[order]
    frame_numbers = frame_numbers[order]

    n, stem = len(table), path.stem
    frames = pd.DataFrame(
        {
            "subject": np.full(n, stem if subject is None else subject, dtype=object),
            "sequence": np.full(n, stem if sequence is None else sequence, dtype=object),
            "frame": frame_numbers,
        }
    )
    kept = [c for c in table.columns if c.startswith("pose_") or _is_au(c, "_r")]
    values = table[kept].apply(pd.to_numeric, errors="coerce").reset_index(drop=True)
    frames = pd.concat([frames, values.astype(float)], axis=1)
    presence = [c for c in table.columns if _is_au(c, "_c")]
    labels = pd.DataFrame(
        {au_name(c[:-2]): _checked(table[c], path, f"{c} value", allowed=(0, 1)) for c in presence},
        index=frames.index,
        dtype=float,
    )
    if "success" in table.columns:
        failed = _checked(table["success"], path, "success flag", allowed=(0, 1)) == 0
        labels.loc[failed, :] = np.nan
    return frames, labels


def read_openface_csvs(paths, *, face_id=None):
    """Read several OpenFace CSVs into one frame table and one label table.

    Each file's stem names its subject and sequence (as in
    :func:`read_openface_csv`); rename them afterwards when one subject has
    several videos.

    Parameters
    ----------
    paths : iterable of str or path-like
        The CSV files, read in this order.
    face_id : int, default=None
        Passed to :func:`read_openface_csv`.

    Returns
    -------
    frames, labels : DataFrame
        Concatenated with a fresh ``RangeIndex``; AUs absent from a file are NaN.

    Raises
    ------
    ValueError
        If ``paths`` is empty, or as :func:`read_openface_csv`.
    """
    pairs = [read_openface_csv(p, face_id=face_id) for p in paths]
    if not pairs:
        raise ValueError("paths is empty; give at least one OpenFace CSV.")
    frames = pd.concat([f for f, _ in pairs], ignore_index=True)
    labels = pd.concat([lab for _, lab in pairs], ignore_index=True)
    return frames, labels.astype(float)


def _read_text(path):
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not UTF-8 text (byte {exc.start} cannot be decoded). OpenFace writes "
            "plain ASCII CSVs: check that this is the right file, or re-save it as UTF-8."
        ) from None


def _whole_rows(text, path):
    """``text`` without a last row cut short (with a warning); ValueError for a short row before it.

    OpenFace's fields are numbers, never quoted, so a row's fields are its
    commas plus one.
    """
    lines = text.splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if len(numbered) < 2:
        return text
    expected = numbered[0][1].count(",") + 1
    short = [(number, line.count(",") + 1) for number, line in numbered[1:] if line.count(",") + 1 < expected]
    last_number, last = numbered[-1]
    middle = [(number, got) for number, got in short if number != last_number]
    if middle:
        number, got = middle[0]
        raise ValueError(
            f"{str(path)!r}, line {number}: {got} fields where the header has {expected}; the file is "
            f"damaged ({len(middle)} short row(s) before its end). Re-export it from OpenFace."
        )
    if short:
        reason = f"{short[0][1]} fields where the header has {expected}"
    elif not text.endswith(("\n", "\r")) and not _NUMBER.fullmatch(last.rsplit(",", 1)[-1].strip()):
        reason = f"its last field {last.rsplit(',', 1)[-1].strip()!r} is not a whole number and the line has no newline"
    else:
        return text
    warnings.warn(
        f"{str(path)!r}, line {last_number}: the last row is cut short ({reason}), as an interrupted "
        "write leaves it; it is dropped.",
        UserWarning,
        stacklevel=3,
    )
    return "\n".join(lines[: last_number - 1]) + "\n"


def _is_au(column, suffix):
    return column.startswith("AU") and column.endswith(suffix) and column[2:-2].isdigit()


def _one_face(table, path, face_id):
    if "face_id" not in table.columns:
        return table
    ids = sorted(pd.unique(table["face_id"]).tolist())
    if face_id is None:
        if len(ids) > 1:
            raise ValueError(
                f"{str(path)!r} tracks several faces (face_id {ids}); choose one with face_id=."
            )
        return table
    if face_id not in ids:
        raise ValueError(f"{str(path)!r} has no face_id {face_id!r}; it has {ids}.")
    return table[table["face_id"] == face_id]


def _checked(column, path, what, *, allowed=None):
    """Numeric values of ``column``; ValueError naming the first bad line."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(values) & column.isna().to_numpy()
    bad = ~np.isfinite(values) | (values != np.round(values))
    if allowed is not None:
        # An empty 0/1 field is unknown (written so for NaN predictions).
        bad = (bad | ~np.isin(values, allowed)) & ~missing
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        expected = "an integer" if allowed is None else "one of " + "/".join(map(str, allowed))
        value = column.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(
            f"{str(path)!r}, line {column.index[row] + 2}: {what} {value!r} is not {expected}."
        )
    return values if allowed is not None else values.astype(np.int64)


def _frame_numbers(frames):
    if isinstance(frames, pd.DataFrame):
        for key in ("subject", "sequence"):
            if key in frames.columns and frames[key].nunique() > 1:
                raise ValueError(
                    f"frames holds several values of {key!r}; an OpenFace CSV is one "
                    "video: write one file per (subject, sequence) group."
                )
        if "frame" not in frames.columns:
            raise ValueError("frames has no 'frame' column.")
        frames = frames["frame"]
    numbers = np.asarray(frames)
    if numbers.ndim != 1 or numbers.dtype.kind not in "iu":
        raise ValueError(
            f"frames must be a frame table or 1-D integer frame numbers; got dtype "
            f"{numbers.dtype} and shape {numbers.shape}."
        )
    return numbers


def _au_table(values, aus, n_frames, name):
    """(n_frames, n_aus) float array and AU names, or (None, None)."""
    if values is None:
        return None, None
    if aus is None:
        if not isinstance(values, pd.DataFrame):
            raise ValueError(f"{name} is not a DataFrame: give the AU names with aus=.")
        aus = list(values.columns)
    names = [au_name(a) for a in aus]
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.shape != (n_frames, len(names)):
        raise ValueError(
            f"{name} must have shape (n_frames={n_frames}, n_aus={len(names)}); "
            f"got {array.shape}."
        )
    return array, names
