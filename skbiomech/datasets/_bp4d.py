"""Load the BP4D-Spontaneous AU occurrence labels as a frame table.

BP4D is licensed by its owners (Binghamton University) and never shipped with
skbiomech: users point :func:`load_bp4d` at their copy. Only labels and image
paths are read; real BP4D has no blendshape coefficients.
"""

from __future__ import annotations

import numbers
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..face._facs import BP4D_AUS, au_name
from ._layout import image_column, label_folder, resolve_image_dir

__all__ = ["load_bp4d"]

_LABEL_DIR = Path("AUCoding") / "AU_OCC"
_FILE = re.compile(r"^(?P<subject>[^_]+)_(?P<task>[^_]+)\.csv$", re.IGNORECASE)
_UNKNOWN = 9  # BP4D's code for "not coded" frames

DESCR = """\
BP4D-Spontaneous (Zhang et al., Image and Vision Computing 32, 2014)
---------------------------------------------------------------------
41 subjects (F001-F023, M001-M018), 8 tasks (T1-T8), ~146k frames with
frame-level occurrence codes of 12 protocol AUs. The dataset is licensed by
Binghamton University and must be obtained from its owners
(https://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html).
Cite: X. Zhang, L. Yin, J. F. Cohn, S. Canavan, M. Reale, A. Horowitz, P. Liu,
J. M. Girard, "BP4D-Spontaneous: a high-resolution spontaneous 3D dynamic
facial expression database", Image and Vision Computing 32(10), 2014.
Standard folds: SubjectPartitionCV("bp4d").
"""


def load_bp4d(
    root,
    *,
    subjects=None,
    tasks=None,
    aus=None,
    image_dir=None,
    image_pattern="{subject}/{task}/{frame}.jpg",
):
    """Load BP4D-Spontaneous AU occurrence labels from ``root``.

    Reads ``root/AUCoding/AU_OCC/{subject}_{task}.csv``: a header row of AU
    numbers whose first cell names the frame-number column, then one row per
    coded frame with cells 0 (absent), 1 (present) or 9 (not coded).

    Parameters
    ----------
    root : str or path-like
        The BP4D folder, holding ``AUCoding/AU_OCC``.
    subjects : iterable of str, default=None
        Subjects to load, e.g. ``["F001", "M003"]``; all when None.
    tasks : iterable of str or int, default=None
        Tasks to load, e.g. ``["T1", "T8"]`` or ``[1, 8]``; all when None.
    aus : iterable of str or int, default=None
        AUs to keep (``12``, ``"AU12"``); the 12 protocol AUs
        (:data:`~skbiomech.face.BP4D_AUS`) when None. Each must be a column
        of every file read.
    image_dir : str or path-like, default=None
        Folder of face images. When None, ``root/img`` is used if it exists
        (the layout of ME-GraphAU and other AU code bases) and no ``image``
        column is added otherwise.
    image_pattern : str, default="{subject}/{task}/{frame}.jpg"
        Image path relative to ``image_dir``, formatted with the fields
        ``subject``, ``task`` (or its alias ``sequence``) and ``frame`` (the frame number of
        the label file, e.g. ``F001/T1/2440.jpg``). For zero-padded names use
        ``"{subject}/{task}/{frame:04d}.jpg"``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``frames``: the frame table, columns ``subject``, ``sequence`` (the
        task, ``"T1"``...``"T8"``: a sequence is identified by subject and
        sequence together), ``frame`` (the frame number as written in the
        label file, e.g. 2440 when coding starts there) and, with images, ``image``
        (path as str, NaN where the file is missing: such frames are kept and
        a warning says how many). Rows are sorted by subject, task and frame,
        with a fresh ``RangeIndex``.
        ``labels``: DataFrame of shape (n_frames, n_aus), columns ``AU01``...,
        values 1.0/0.0, NaN where coded 9.
        ``groups``: ndarray of shape (n_frames,), the subject of each frame.
        ``DESCR``: description, citation and licence note.

    Raises
    ------
    FileNotFoundError
        If ``root``, its label folder or ``image_dir`` is missing, or a
        requested subject or task has no label file.
    ValueError
        If a label file is malformed (its name, header, a cell other than
        0/1/9, a non-integer or repeated frame number), naming file and line,
        or if ``aus`` names an AU absent from a file.

    See Also
    --------
    SubjectPartitionCV : The standard subject-independent folds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "AUCoding" / "AU_OCC").mkdir(parents=True)
    >>> _ = (root / "AUCoding" / "AU_OCC" / "F001_T1.csv").write_text(
    ...     "0,1,2,12\\n10,0,9,1\\n11,1,0,1\\n")
    >>> data = load_bp4d(root, aus=[1, 2, 12])
    >>> data.frames
      subject sequence  frame
    0    F001       T1     10
    1    F001       T1     11
    >>> data.labels
       AU01  AU02  AU12
    0   0.0   NaN   1.0
    1   1.0   0.0   1.0
    """
    root = Path(root)
    label_dir = label_folder(
        root, _LABEL_DIR, "BP4D", "AUCoding/AU_OCC with one {subject}_{task}.csv per sequence"
    )
    aus = BP4D_AUS if aus is None else _unique_aus(aus)
    files = _select_files(label_dir, subjects, tasks)
    images = resolve_image_dir(root, image_dir, "img")

    keys, frame_arrays, label_arrays = [], [], []
    for (subject, task), path in files:
        frame_numbers, codes = _read_occ(path, aus)
        keys.append((subject, task, len(frame_numbers)))
        frame_arrays.append(frame_numbers)
        label_arrays.append(codes)
    counts = [n for *_, n in keys]
    subject_col = np.repeat([s for s, _, _ in keys], counts)
    task_col = np.repeat([t for _, t, _ in keys], counts)
    frames = pd.DataFrame(
        {
            "subject": subject_col,
            "sequence": task_col,
            "frame": np.concatenate(frame_arrays),
        }
    )
    codes = np.concatenate(label_arrays).astype(float)
    codes[codes == _UNKNOWN] = np.nan
    labels = pd.DataFrame(codes, columns=list(aus), index=frames.index)
    if images is not None:
        frames["image"] = image_column(
            images,
            image_pattern,
            {"subject": subject_col, "task": task_col, "sequence": task_col,
             "frame": frames["frame"].to_numpy()},
        )  # fmt: skip
    return Bunch(frames=frames, labels=labels, groups=subject_col.astype(object), DESCR=DESCR)


def _unique_aus(aus):
    names = [au_name(a) for a in ([aus] if isinstance(aus, (str, numbers.Integral)) else aus)]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"aus must name distinct AUs, at least one; got {aus!r}.")
    return tuple(names)


def _natural(text):
    # T10 after T9: tasks sort by number, not character by character.
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _select_files(label_dir, subjects, tasks):
    found = {}
    for path in label_dir.iterdir():
        if path.suffix.lower() != ".csv" or path.name.startswith("."):
            continue
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(
                f"{str(path)!r}: label file name does not follow {{subject}}_{{task}}.csv."
            )
        found[(match["subject"], match["task"])] = path
    if not found:
        raise FileNotFoundError(f"no {{subject}}_{{task}}.csv label file in {str(label_dir)!r}.")
    if subjects is not None:
        subjects = [subjects] if isinstance(subjects, str) else [str(s) for s in subjects]
        _check_present("subject", subjects, {s for s, _ in found}, label_dir)
        found = {k: p for k, p in found.items() if k[0] in set(subjects)}
    if tasks is not None:
        tasks = [tasks] if isinstance(tasks, (str, int)) else list(tasks)
        tasks = [f"T{t}" if isinstance(t, (int, np.integer)) else str(t) for t in tasks]
        _check_present("task", tasks, {t for _, t in found}, label_dir)
        found = {k: p for k, p in found.items() if k[1] in set(tasks)}
    if not found:
        raise ValueError(f"subjects={subjects!r} and tasks={tasks!r} select no label file.")
    return sorted(found.items(), key=lambda item: (_natural(item[0][0]), _natural(item[0][1])))


def _check_present(kind, wanted, available, label_dir):
    missing = sorted(set(wanted) - available)
    if missing:
        raise FileNotFoundError(
            f"no label file for {kind}(s) {', '.join(missing)} in {str(label_dir)!r}."
        )


def _read_occ(path, aus):
    """Frame numbers (n,) and codes (n, len(aus)) of one AU_OCC file."""
    with open(path, encoding="utf-8-sig") as handle:
        header = handle.readline().strip()
    if not header:
        raise ValueError(f"{str(path)!r}, line 1: empty; expected a header row of AU numbers.")
    position = {}
    for col, cell in enumerate(header.split(",")[1:], start=1):
        if not cell.strip():
            continue  # a trailing comma: no AU there
        try:
            name = au_name(cell)
        except ValueError:
            raise ValueError(
                f"{str(path)!r}, line 1: header cell {cell!r} is not an AU number."
            ) from None
        if name in position:
            raise ValueError(f"{str(path)!r}, line 1: AU {name} appears twice in the header.")
        position[name] = col
    absent = [a for a in aus if a not in position]
    if absent:
        raise ValueError(
            f"{str(path)!r}: no column for {', '.join(absent)}; it codes "
            f"{', '.join(sorted(position))}."
        )
    try:
        # All columns, not usecols: pandas then rejects rows with extra fields.
        table = pd.read_csv(path, header=None, skiprows=1, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:  # a header and no coded frame
        return np.zeros(0, np.int64), np.zeros((0, len(aus)), np.int64)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"{str(path)!r}: cannot be parsed as CSV ({exc}).") from None
    n_header = header.count(",") + 1
    if table.shape[1] != n_header:
        raise ValueError(
            f"{str(path)!r}, line 2: {table.shape[1]} fields, but the header has {n_header}."
        )
    frame_numbers = _integers(table[0], path, "frame number", allowed=None)
    codes = np.column_stack(
        [_integers(table[position[a]], path, f"{a} code", allowed=(0, 1, _UNKNOWN)) for a in aus]
    )
    order = np.argsort(frame_numbers, kind="stable")
    sorted_frames = frame_numbers[order]
    repeated = np.flatnonzero(np.diff(sorted_frames) == 0)
    if repeated.size:
        row = order[repeated[0] + 1]
        raise ValueError(
            f"{str(path)!r}, line {row + 2}: frame {sorted_frames[repeated[0]]} is repeated."
        )
    return sorted_frames, codes[order]


def _integers(column, path, what, allowed):
    """Integer values of a label column; ValueError naming the first bad line."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    if allowed is not None:
        bad |= ~np.isin(numbers, allowed)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        expected = "an integer" if allowed is None else "one of " + "/".join(map(str, allowed))
        value = column.iloc[row]
        shown = "(empty)" if pd.isna(value) else repr(value.item() if isinstance(value, np.generic) else value)
        raise ValueError(f"{str(path)!r}, line {row + 2}: {what} {shown} is not {expected}.")
    return numbers.astype(np.int64)
