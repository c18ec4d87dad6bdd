"""Datasets: the synthetic AU benchmark, BP4D and DISFA, folds and OpenFace files.

* :func:`make_synthetic_au_dataset`: the physically simulated benchmark with
  ground-truth muscle forces (the library's embedded default data).
* :func:`load_bp4d`, :func:`load_disfa`: the real datasets, read from the
  folders their owners distribute (never written to).
* :class:`SubjectPartitionCV`: their standard three subject partitions as a
  scikit-learn splitter.
* :func:`read_openface_csv`, :func:`write_openface_csv`: OpenFace 2.0 CSVs.

All return the frame table (one row per frame: ``subject``, ``sequence``,
``frame``, feature columns, optional ``image``) and an AU label table
(``AU01``, ... with 1/0, NaN where unknown).
"""

from ._bp4d import load_bp4d
from ._disfa import DISFA_CODED_AUS, load_disfa
from ._folds import BP4D_PARTITIONS, DISFA_PARTITIONS, SubjectPartitionCV
from ._openface import read_openface_csv, read_openface_csvs, write_openface_csv
from ._synthetic import make_synthetic_au_dataset

__all__ = [
    "BP4D_PARTITIONS",
    "DISFA_CODED_AUS",
    "DISFA_PARTITIONS",
    "SubjectPartitionCV",
    "load_bp4d",
    "load_disfa",
    "make_synthetic_au_dataset",
    "read_openface_csv",
    "read_openface_csvs",
    "write_openface_csv",
]
