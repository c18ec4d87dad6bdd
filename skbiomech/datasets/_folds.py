"""The standard subject-independent 3-fold partitions of BP4D and DISFA.

The AU literature splits each dataset's subjects into three fixed parts
(DESIGN §6); each fold trains on two parts and tests on the third. Code bases
disagree on which split is "fold 1", so the numbering is a parameter of
:class:`SubjectPartitionCV` rather than a hidden convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

__all__ = ["BP4D_PARTITIONS", "DISFA_PARTITIONS", "SubjectPartitionCV"]


def _parts(*parts):
    return MappingProxyType({k: tuple(p.split()) for k, p in enumerate(parts, 1)})


#: BP4D-Spontaneous part number (1, 2, 3) -> subjects (41 subjects in all).
BP4D_PARTITIONS = _parts(
    "F001 F002 F008 F009 F010 F016 F018 F023 M001 M004 M007 M008 M012 M014",
    "F003 F005 F011 F013 F020 F022 M002 M005 M010 M011 M013 M016 M017 M018",
    "F004 F006 F007 F012 F014 F015 F017 F019 F021 M003 M006 M009 M015",
)

#: DISFA part number (1, 2, 3) -> subjects (27 subjects in all).
DISFA_PARTITIONS = _parts(
    "SN001 SN002 SN009 SN010 SN016 SN026 SN027 SN030 SN032",
    "SN006 SN011 SN012 SN013 SN018 SN021 SN024 SN028 SN031",
    "SN003 SN004 SN005 SN007 SN008 SN017 SN023 SN025 SN029",
)

_DATASETS = {"bp4d": BP4D_PARTITIONS, "disfa": DISFA_PARTITIONS}
_NUMBERINGS = ("test_part", "reverse")


class SubjectPartitionCV(BaseCrossValidator):
    """Subject-independent 3-fold CV over the standard BP4D or DISFA parts.

    Fold ``k`` trains on the frames of the two other parts and tests on the
    frames of one part, so no subject is ever in both. Use it as ``cv=`` in
    :func:`~sklearn.model_selection.cross_val_score` or
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    dataset : {"bp4d", "disfa"} or mapping, default="bp4d"
        Which partition to use (:data:`BP4D_PARTITIONS`,
        :data:`DISFA_PARTITIONS`), or a custom mapping ``part -> subjects``
        with parts 1, 2, 3.
    numbering : {"test_part", "reverse"}, default="test_part"
        How folds are numbered; the folds themselves are the same.

        * ``"test_part"`` (ours): fold 1 tests on part 1 (trains on 2+3),
          fold 2 tests on part 2 (trains on 1+3), fold 3 tests on part 3
          (trains on 1+2).
        * ``"reverse"``: fold ``k`` tests on part ``4 - k``: fold 1 tests on
          part 3 (trains on 1+2), fold 2 on part 2, fold 3 on part 1. Some
          code bases (e.g. ME-GraphAU's list files) number folds this way;
          use it to compare per-fold figures with theirs.

        :meth:`split` yields the folds in order fold 1, 2, 3.

    See Also
    --------
    sklearn.model_selection.GroupKFold : Folds that are balanced but not the
        published ones.

    Notes
    -----
    Subjects are taken from ``groups`` when given, otherwise from the
    ``subject`` column of a DataFrame ``X`` (the frame table). Data holding
    only some of the subjects are fine as long as every fold keeps a
    non-empty test part.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"subject": ["F001", "F003", "F004", "F004"]})
    >>> cv = SubjectPartitionCV("bp4d")
    >>> [test.tolist() for _, test in cv.split(X)]
    [[0], [1], [2, 3]]
    >>> cv = SubjectPartitionCV("bp4d", numbering="reverse")
    >>> [test.tolist() for _, test in cv.split(X)]
    [[2, 3], [1], [0]]
    >>> cv.subjects(1)[1][:3]
    ('F004', 'F006', 'F007')
    """

    # Ask for ``groups`` by default under sklearn's metadata routing, as
    # sklearn's own group splitters do (GroupsConsumerMixin).
    __metadata_request__split = {"groups": True}

    def __init__(self, dataset="bp4d", *, numbering="test_part"):
        self.dataset = dataset
        self.numbering = numbering

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds: always 3.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return 3

    def subjects(self, fold):
        """Train and test subjects of fold ``fold`` (1, 2 or 3).

        Parameters
        ----------
        fold : int
            Fold number under this splitter's ``numbering``.

        Returns
        -------
        train_subjects, test_subjects : tuple of str

        Raises
        ------
        ValueError
            If ``fold`` is not 1, 2 or 3, or the parameters are invalid.
        """
        partitions = self._partitions()
        if fold not in (1, 2, 3):
            raise ValueError(f"fold must be 1, 2 or 3; got {fold!r}.")
        test = self._test_part(fold)
        train = tuple(s for part in (1, 2, 3) if part != test for s in partitions[part])
        return train, tuple(partitions[test])

    def split(self, X, y=None, groups=None):
        """Generate train and test indices, fold 1 to fold 3.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_features)
            The frame table; its ``subject`` column is used when ``groups``
            is None.
        y : object
            Ignored.
        groups : array-like of shape (n_frames,), default=None
            Subject of each frame.

        Yields
        ------
        train : ndarray of int
            Indices of the frames of the two training parts.
        test : ndarray of int
            Indices of the frames of the test part.

        Raises
        ------
        ValueError
            If no subjects are available, their number differs from the
            number of frames, a subject is in no part, or a fold's test part
            holds no frame (checked before the first fold is yielded).
        """
        subjects = self._subjects_of(X, groups)
        partitions = self._partitions()
        part_of = {str(s): part for part, members in partitions.items() for s in members}
        names = subjects.astype(str)
        unknown = sorted(set(names) - set(part_of))
        if unknown:
            raise ValueError(
                f"{len(unknown)} subject(s) are in no {self._label()} part: "
                f"{', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}. "
                "Check the subject names, or pass a custom mapping as dataset."
            )
        parts = np.array([part_of[s] for s in names], dtype=int)
        folds = []
        for fold in (1, 2, 3):
            test_part = self._test_part(fold)
            mask = parts == test_part
            if not mask.any():
                raise ValueError(
                    f"fold {fold} (numbering={self.numbering!r}) tests on part "
                    f"{test_part} of {self._label()}, but no frame belongs to "
                    f"its subjects ({', '.join(partitions[test_part])})."
                )
            folds.append((np.flatnonzero(~mask), np.flatnonzero(mask)))
        yield from folds

    def _test_part(self, fold):
        return fold if self.numbering == "test_part" else 4 - fold

    def _label(self):
        return self.dataset if isinstance(self.dataset, str) else "the custom partition"

    def _partitions(self):
        if self.numbering not in _NUMBERINGS:
            raise ValueError(
                f"numbering must be one of {_NUMBERINGS}; got {self.numbering!r}."
            )
        if isinstance(self.dataset, str):
            key = self.dataset.lower()
            if key not in _DATASETS:
                raise ValueError(
                    f"dataset must be one of {sorted(_DATASETS)} or a mapping "
                    f"part -> subjects; got {self.dataset!r}."
                )
            return _DATASETS[key]
        if not isinstance(self.dataset, Mapping) or sorted(self.dataset) != [1, 2, 3]:
            raise ValueError(
                "a custom dataset must be a mapping with keys 1, 2, 3 (the parts) "
                f"and subject lists as values; got {self.dataset!r}."
            )
        members = [str(s) for part in (1, 2, 3) for s in self.dataset[part]]
        if len(members) != len(set(members)):
            raise ValueError("a subject appears in more than one part of dataset.")
        return {part: tuple(str(s) for s in self.dataset[part]) for part in (1, 2, 3)}

    @staticmethod
    def _subjects_of(X, groups):
        if groups is not None:
            subjects = np.asarray(groups)
            if subjects.ndim != 1:
                raise ValueError(f"groups must be 1-dimensional; got shape {subjects.shape}.")
        elif isinstance(X, pd.DataFrame) and "subject" in X.columns:
            subjects = X["subject"].to_numpy()
        else:
            raise ValueError(
                "SubjectPartitionCV needs the subject of each frame: pass "
                "groups=subjects, or X as a frame table with a 'subject' column."
            )
        n_frames = len(subjects) if X is None else len(X) if hasattr(X, "__len__") else np.shape(X)[0]
        if len(subjects) != n_frames:
            raise ValueError(
                f"groups has {len(subjects)} entries but X has {n_frames} frames."
            )
        return subjects
