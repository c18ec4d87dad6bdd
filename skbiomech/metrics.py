"""Per-AU F1 that ignores unknown labels, and scorers for model selection.

AU datasets leave some frames uncoded for some AUs (BP4D writes 9 for
"unknown"); the frame table stores those labels as NaN (DESIGN §3). The AU
literature scores each AU on its known frames only and reports the mean of
the per-AU F1 scores. scikit-learn's ``f1_score`` rejects NaN labels, so
these functions mask them per AU before counting.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import make_scorer

__all__ = ["au_f1_scores", "mean_au_f1", "au_f1_scorer"]


def _as_label_matrix(values, name):
    """(n_frames, n_aus) float array and the column names (or None)."""
    columns = None
    if isinstance(values, pd.DataFrame):
        columns = values.columns
    elif isinstance(values, pd.Series):
        columns = pd.Index([values.name]) if values.name is not None else None
    raw = values.to_numpy() if isinstance(values, (pd.DataFrame, pd.Series)) else values
    try:
        array = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must hold numeric 0/1 labels; got values of dtype "
            f"{np.asarray(raw).dtype} that are not numbers."
        ) from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n_frames, n_aus) or (n_frames,); got {array.shape}.")
    return array, columns


def _check_pair(y_true, y_pred):
    true, true_columns = _as_label_matrix(y_true, "y_true")
    pred, pred_columns = _as_label_matrix(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape (n_frames, n_aus); got {true.shape} and {pred.shape}."
        )
    if true_columns is not None and pred_columns is not None and not true_columns.equals(pred_columns):
        if set(true_columns) != set(pred_columns):
            raise ValueError(
                f"y_true and y_pred name different AUs: {list(true_columns)} and {list(pred_columns)}."
            )
        pred = pd.DataFrame(pred, columns=pred_columns)[true_columns].to_numpy()  # same AUs, other order
    known = ~np.isnan(true)
    if np.any((true[known] != 0) & (true[known] != 1)):
        odd = np.unique(true[known][(true[known] != 0) & (true[known] != 1)])[:5]
        raise ValueError(
            f"y_true must hold 0, 1 or NaN (unknown); got {odd.tolist()}. Recode unknown labels "
            "(BP4D's 9) as NaN and binarize intensities (DISFA: intensity >= 2 is present)."
        )
    if np.any((pred != 0) & (pred != 1)):  # NaN fails both tests, so it lands here too
        odd = np.unique(pred[(pred != 0) & (pred != 1)])[:5]
        raise ValueError(
            f"y_pred must hold 0/1 predictions; got {odd.tolist()}. Threshold probabilities "
            "first (e.g. proba >= 0.5), or score with a scorer that calls predict."
        )
    names = true_columns if true_columns is not None else pred_columns
    if names is None:
        names = pd.RangeIndex(true.shape[1])
    return true, pred, known, names


def au_f1_scores(y_true, y_pred, *, zero_division=0.0):
    """F1 score of each AU on the frames whose label is known.

    Parameters
    ----------
    y_true : DataFrame or array-like of shape (n_frames, n_aus) or (n_frames,)
        True labels: 1 present, 0 absent, NaN unknown. Unknown frames are
        left out of that AU's counts only.
    y_pred : DataFrame or array-like of the same shape
        Predicted labels, 0 or 1.
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        F1 of an AU with no positive frame among its known frames, neither
        true nor predicted. 0.0 is scikit-learn's ``zero_division=0`` and the
        AU literature's convention; NaN leaves the AU out of the mean.

    Returns
    -------
    scores : Series of shape (n_aus,)
        Fractions in [0, 1], indexed by the AU names: the columns of
        ``y_true`` when it is a DataFrame (else of ``y_pred``), else the
        column positions 0, 1, ... (as ``pd.DataFrame(array).columns``).
        An AU with no known label at all scores NaN, with an
        ``UndefinedMetricWarning``.

    Raises
    ------
    ValueError
        If the shapes differ, if ``y_true`` holds values other than 0, 1 and
        NaN, or ``y_pred`` values other than 0 and 1.
    TypeError
        If the labels are not numbers.

    See Also
    --------
    mean_au_f1 : The mean over AUs, the figure papers report.
    sklearn.metrics.f1_score : The same per AU on fully known labels.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skbiomech.metrics import au_f1_scores
    >>> y_true = pd.DataFrame({"AU01": [1, 0, 1, np.nan], "AU12": [0, 1, 1, 1]})
    >>> y_pred = pd.DataFrame({"AU01": [1, 0, 0, 1], "AU12": [0, 1, 1, 0]})
    >>> au_f1_scores(y_true, y_pred).round(3)
    AU01    0.667
    AU12    0.800
    dtype: float64
    """
    if not (zero_division in (0.0, 1.0) or (isinstance(zero_division, numbers.Real) and np.isnan(zero_division))):
        raise ValueError(f"zero_division must be 0.0, 1.0 or np.nan; got {zero_division!r}.")
    true, pred, known, names = _check_pair(y_true, y_pred)
    positive_true = (true == 1) & known
    positive_pred = (pred == 1) & known
    tp = np.sum(positive_true & positive_pred, axis=0)
    fp = np.sum(~positive_true & positive_pred, axis=0)
    fn = np.sum(positive_true & ~positive_pred, axis=0)
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(denominator > 0, 2 * tp / denominator, float(zero_division))
    unknown = ~known.any(axis=0)
    if unknown.any():
        warnings.warn(
            f"No known label for {[names[i] for i in np.flatnonzero(unknown)]}: their F1 is NaN "
            "and they are left out of the mean.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        scores[unknown] = np.nan
    return pd.Series(scores, index=names, dtype=np.float64)


def mean_au_f1(y_true, y_pred, *, zero_division=0.0):
    """Mean over AUs of the per-AU F1 on known labels.

    This is the figure AU papers report (Cui et al. 2023: 64.1 on BP4D),
    returned as a fraction in [0, 1] rather than in percent.

    Parameters
    ----------
    y_true : DataFrame or array-like of shape (n_frames, n_aus) or (n_frames,)
        True labels: 1, 0 or NaN (unknown).
    y_pred : DataFrame or array-like of the same shape
        Predicted 0/1 labels.
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        See :func:`au_f1_scores`.

    Returns
    -------
    score : float
        The mean of the AUs whose F1 is defined; NaN when none is (with an
        ``UndefinedMetricWarning``).

    See Also
    --------
    au_f1_scores : The per-AU scores.
    au_f1_scorer : This metric as a scorer for ``GridSearchCV``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.metrics import mean_au_f1
    >>> y_true = np.array([[1, 0], [0, 1], [1, 1], [np.nan, 1]])
    >>> y_pred = np.array([[1, 0], [0, 1], [0, 1], [1, 0]])
    >>> round(mean_au_f1(y_true, y_pred), 3)
    0.733
    """
    scores = au_f1_scores(y_true, y_pred, zero_division=zero_division).to_numpy()
    defined = scores[~np.isnan(scores)]
    if defined.size == 0:
        warnings.warn("No AU has a defined F1; the mean is NaN.", UndefinedMetricWarning, stacklevel=2)
        return float("nan")
    return float(defined.mean())


au_f1_scorer = make_scorer(mean_au_f1, greater_is_better=True, response_method="predict")
au_f1_scorer.__doc__ = """Scorer: :func:`mean_au_f1` of ``estimator.predict(X)`` against ``y``.

Use it as ``scoring=au_f1_scorer`` in ``GridSearchCV``, ``cross_val_score``
or ``cross_validate``. It accepts labels with NaN (unknown frames), which
scikit-learn's built-in ``scoring="f1_macro"`` rejects ("Input y_true
contains NaN"); on fully known multilabel 0/1 labels the two agree.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.model_selection import cross_val_score
>>> from sklearn.neighbors import KNeighborsClassifier
>>> from skbiomech.metrics import au_f1_scorer
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 3))
>>> y = pd.DataFrame({"AU01": X[:, 0] > 0, "AU12": X[:, 1] > 0}).astype(float)
>>> scores = cross_val_score(KNeighborsClassifier(3), X, y, cv=3, scoring=au_f1_scorer)
>>> bool(scores.min() > 0.7)
True
"""

# doctest does not collect instances' docstrings; this runs the scorer's example too.
__test__ = {"au_f1_scorer": au_f1_scorer.__doc__}
