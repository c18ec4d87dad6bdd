"""Load the DISFA AU intensity labels as a frame table.

DISFA is licensed by its owners (University of Denver) and never shipped with
skbiomech: users point :func:`load_disfa` at their copy. Only labels and image
paths are read; real DISFA has no blendshape coefficients.
"""

from __future__ import annotations

import numbers
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..face._facs import DISFA_AUS, au_name
from ._layout import image_column, label_folder, resolve_image_dir

__all__ = ["DISFA_CODED_AUS", "load_disfa"]

_LABEL_DIR = "ActionUnit_Labels"
_SUBJECT = re.compile(r"^SN\d{3}$")

#: The 12 AUs whose intensity DISFA codes (files ``SNxxx_au{N}.txt``).
DISFA_CODED_AUS = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU09",
    "AU12", "AU15", "AU17", "AU20", "AU25", "AU26",
)  # fmt: skip

DESCR = """\
DISFA: Denver Intensity of Spontaneous Facial Action (Mavadati et al., 2013)
---------------------------------------------------------------------------
27 subjects (SN001-SN032), one video each (~4,845 frames), frame-level
intensities 0-5 of 12 AUs; the protocol uses 8 AUs, present at intensity >= 2.
The dataset is licensed by the University of Denver and must be obtained from
its owners (http://mohammadmahoor.com/disfa/).
Cite: S. M. Mavadati, M. H. Mahoor, K. Bartlett, P. Trinh, J. F. Cohn,
"DISFA: a spontaneous facial action intensity database", IEEE Transactions on
Affective Computing 4(2), 2013.
Standard folds: SubjectPartitionCV("disfa").
"""


def load_disfa(
    root,
    *,
    subjects=None,
    aus=None,
    threshold=2,
    image_dir=None,
    image_pattern="{subject}/{frame}.png",
):
    """Load DISFA AU intensities and thresholded occurrence labels.

    Reads ``root/ActionUnit_Labels/SNxxx/SNxxx_au{N}.txt`` for the 12 coded
    AUs, one line ``frame,intensity`` per frame (frames counted from 1,
    intensities 0 to 5). All 12 files of a subject must list the same frames.

    Parameters
    ----------
    root : str or path-like
        The DISFA folder, holding ``ActionUnit_Labels``.
    subjects : iterable of str, default=None
        Subjects to load, e.g. ``["SN001"]``; all when None.
    aus : iterable of str or int, default=None
        AUs of ``labels``, among :data:`DISFA_CODED_AUS`; the 8 protocol AUs
        (:data:`~skbiomech.face.DISFA_AUS`) when None.
    threshold : float, default=2
        An AU is present (label 1.0) when its intensity is >= ``threshold``;
        must lie in (0, 5].
    image_dir : str or path-like, default=None
        Folder of face images. When None, ``root/img`` is used if it exists
        (the layout of ME-GraphAU and other AU code bases) and no ``image``
        column is added otherwise.
    image_pattern : str, default="{subject}/{frame}.png"
        Image path relative to ``image_dir``, formatted with ``subject``,
        ``frame`` (0-based, as in the ``frame`` column: ``SN001/0.png`` is the
        frame labelled 1) and ``frame1`` (the 1-based label-file number).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``frames``: the frame table, columns ``subject``, ``sequence`` (the
        subject: one video each), ``frame`` (**0-based**: label-file frame
        minus 1, the index of the video frame and of extracted images) and,
        with images, ``image`` (path as str, NaN where the file is missing:
        such frames are kept and a warning says how many). Rows are sorted by
        subject and frame, with a fresh ``RangeIndex``.
        ``labels``: DataFrame (n_frames, n_aus), columns ``AU01``...,
        1.0 where intensity >= ``threshold``, else 0.0.
        ``intensities``: DataFrame (n_frames, 12), the raw 0-5 intensities of
        :data:`DISFA_CODED_AUS`, as float.
        ``groups``: ndarray of shape (n_frames,), the subject of each frame.
        ``DESCR``: description, citation and licence note.

    Raises
    ------
    FileNotFoundError
        If ``root``, its label folder, ``image_dir``, a requested subject or
        one of a subject's 12 label files is missing.
    ValueError
        If a label file is malformed (not two integer fields, intensity
        outside 0-5, a repeated frame), naming file and line; if a subject's
        files list different frames; or if ``aus`` or ``threshold`` is invalid.

    See Also
    --------
    SubjectPartitionCV : The standard subject-independent folds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> folder = root / "ActionUnit_Labels" / "SN001"
    >>> folder.mkdir(parents=True)
    >>> for n in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26):
    ...     _ = (folder / f"SN001_au{n}.txt").write_text(
    ...         "1,0\\n2,3\\n" if n == 12 else "1,0\\n2,1\\n")
    >>> data = load_disfa(root, aus=[6, 12])
    >>> data.frames
      subject sequence  frame
    0   SN001    SN001      0
    1   SN001    SN001      1
    >>> data.labels
       AU06  AU12
    0   0.0   0.0
    1   0.0   1.0
    """
    root = Path(root)
    label_dir = label_folder(root, _LABEL_DIR, "DISFA", f"{_LABEL_DIR}/SNxxx/SNxxx_au{{N}}.txt")
    aus = DISFA_AUS if aus is None else _check_aus(aus)
    if (
        not isinstance(threshold, numbers.Real)
        or isinstance(threshold, bool)
        or not 0 < threshold <= 5
    ):
        raise ValueError(f"threshold must be a number in (0, 5]; got {threshold!r}.")
    chosen = _select_subjects(label_dir, subjects)
    images = resolve_image_dir(root, image_dir, "img")

    frame_arrays, value_arrays = [], []
    for subject in chosen:
        frame_numbers, values = _read_subject(label_dir / subject, subject)
        frame_arrays.append(frame_numbers)
        value_arrays.append(values)
    counts = [len(f) for f in frame_arrays]
    subject_col = np.repeat(np.array(chosen, dtype=str), counts)
    frames = pd.DataFrame(
        {
            "subject": subject_col,
            "sequence": subject_col,
            "frame": np.concatenate(frame_arrays) - 1,  # label files count from 1
        }
    )
    intensities = pd.DataFrame(
        np.concatenate(value_arrays).astype(float),
        columns=list(DISFA_CODED_AUS),
        index=frames.index,
    )
    labels = (intensities[list(aus)] >= threshold).astype(float)
    if images is not None:
        zero_based = frames["frame"].to_numpy()
        frames["image"] = image_column(
            images,
            image_pattern,
            {"subject": subject_col, "frame": zero_based, "frame1": zero_based + 1},
        )
    return Bunch(
        frames=frames,
        labels=labels,
        intensities=intensities,
        groups=subject_col.astype(object),
        DESCR=DESCR,
    )


def _check_aus(aus):
    names = [au_name(a) for a in ([aus] if isinstance(aus, (str, numbers.Integral)) else aus)]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"aus must name distinct AUs, at least one; got {aus!r}.")
    uncoded = [a for a in names if a not in DISFA_CODED_AUS]
    if uncoded:
        raise ValueError(
            f"DISFA does not code {', '.join(uncoded)}; choose among "
            f"{', '.join(DISFA_CODED_AUS)}."
        )
    return tuple(names)


def _select_subjects(label_dir, subjects):
    found = sorted(
        p.name for p in label_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    odd = [name for name in found if not _SUBJECT.match(name)]
    if odd:
        raise ValueError(
            f"{str(label_dir / odd[0])!r}: folder name is not a DISFA subject (SNxxx)."
        )
    if not found:
        raise FileNotFoundError(f"no SNxxx subject folder in {str(label_dir)!r}.")
    if subjects is None:
        return found
    subjects = [subjects] if isinstance(subjects, str) else [str(s) for s in subjects]
    missing = sorted(set(subjects) - set(found))
    if missing:
        raise FileNotFoundError(
            f"no label folder for subject(s) {', '.join(missing)} in {str(label_dir)!r}."
        )
    if not subjects:
        raise ValueError("subjects is empty; give at least one subject, or None for all.")
    return [s for s in found if s in set(subjects)]


def _read_subject(folder, subject):
    """Frame numbers (n,) and intensities (n, 12) of one subject, sorted by frame."""
    reference = None
    columns = []
    for au in DISFA_CODED_AUS:
        path = folder / f"{subject}_au{int(au[2:])}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"missing DISFA label file {str(path)!r}.")
        frame_numbers, values = _read_au_file(path)
        if reference is None:
            reference = (path, frame_numbers)
        elif not np.array_equal(frame_numbers, reference[1]):
            raise ValueError(
                f"{str(path)!r} and {str(reference[0])!r} list different frames "
                f"({len(frame_numbers)} vs {len(reference[1])} lines, or other frame "
                "numbers); every AU file of a subject must cover the same frames."
            )
        columns.append(values)
    return reference[1], np.column_stack(columns)


def _read_au_file(path):
    try:
        table = pd.read_csv(path, header=None, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{str(path)!r}: empty; expected lines 'frame,intensity'.") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{str(path)!r}: not 'frame,intensity' lines ({exc}).") from None
    if table.shape[1] != 2:
        raise ValueError(
            f"{str(path)!r}, line 1: {table.shape[1]} fields; expected 'frame,intensity'."
        )
    frame_numbers = _integers(table[0], path, "frame", low=1, high=None)
    values = _integers(table[1], path, "intensity", low=0, high=5)
    order = np.argsort(frame_numbers, kind="stable")
    repeated = np.flatnonzero(np.diff(frame_numbers[order]) == 0)
    if repeated.size:
        row = int(order[repeated[0] + 1])
        raise ValueError(f"{str(path)!r}, line {row + 1}: frame {frame_numbers[row]} is repeated.")
    return frame_numbers[order], values[order]


def _integers(column, path, what, low, high):
    """Integers in [low, high]; ValueError naming the first bad line (1-based)."""
    numbers_ = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers_) | (numbers_ != np.round(numbers_)) | (numbers_ < low)
    if high is not None:
        bad |= numbers_ > high
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        span = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        value = column.iloc[row]
        shown = "(empty)" if pd.isna(value) else repr(value.item() if isinstance(value, np.generic) else value)
        raise ValueError(f"{str(path)!r}, line {row + 1}: {what} {shown} is not {span}.")
    return numbers_.astype(np.int64)
