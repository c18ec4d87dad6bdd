"""Per-AU F1 on known labels and its scorer."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, get_scorer
from sklearn.model_selection import KFold, cross_val_score
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier

from skbiomech.metrics import au_f1_scorer, au_f1_scores, mean_au_f1

AUS = ["AU01", "AU02", "AU04", "AU12"]


def _labels(rng, n=200, rates=(0.1, 0.3, 0.5, 0.8)):
    true = (rng.random((n, len(rates))) < np.array(rates)).astype(float)
    flip = rng.random(true.shape) < 0.25
    pred = np.where(flip, 1 - true, true)
    return pd.DataFrame(true, columns=AUS), pd.DataFrame(pred, columns=AUS)


@pytest.mark.parametrize("au", range(len(AUS)))
def test_matches_sklearn_per_au(rng, au):
    y_true, y_pred = _labels(rng)
    scores = au_f1_scores(y_true, y_pred)
    assert list(scores.index) == AUS
    assert scores.iloc[au] == pytest.approx(f1_score(y_true.iloc[:, au], y_pred.iloc[:, au]))


def test_mean_matches_sklearn_macro(rng):
    y_true, y_pred = _labels(rng)
    expected = f1_score(y_true, y_pred, average="macro")
    assert mean_au_f1(y_true, y_pred) == pytest.approx(expected)
    assert mean_au_f1(y_true.to_numpy(), y_pred.to_numpy()) == pytest.approx(expected)


def test_nan_masking_equals_known_frames_only(rng):
    y_true, y_pred = _labels(rng)
    unknown = rng.random(y_true.shape) < 0.3
    masked = y_true.mask(unknown)
    scores = au_f1_scores(masked, y_pred)
    for j, au in enumerate(AUS):
        keep = ~unknown[:, j]
        assert scores[au] == pytest.approx(f1_score(y_true[au][keep], y_pred[au][keep]))


def test_arrays_are_named_by_position_and_1d_is_one_au(rng):
    y_true, y_pred = _labels(rng)
    scores = au_f1_scores(y_true.to_numpy(), y_pred.to_numpy())
    assert list(scores.index) == [0, 1, 2, 3]
    np.testing.assert_allclose(scores.to_numpy(), au_f1_scores(y_true, y_pred).to_numpy())
    single = au_f1_scores(y_true["AU12"].to_numpy(), y_pred["AU12"].to_numpy())
    assert single.shape == (1,) and single[0] == pytest.approx(f1_score(y_true["AU12"], y_pred["AU12"]))


def test_predictions_named_like_truth_in_another_order(rng):
    y_true, y_pred = _labels(rng)
    shuffled = y_pred[AUS[::-1]]
    pd.testing.assert_series_equal(au_f1_scores(y_true, shuffled), au_f1_scores(y_true, y_pred))


def test_no_positive_frames_scores_zero_division():
    y_true = np.array([[0, 1], [0, 0], [0, 1]])
    y_pred = np.array([[0, 1], [0, 0], [0, 1]])
    assert au_f1_scores(y_true, y_pred)[0] == 0.0
    assert au_f1_scores(y_true, y_pred, zero_division=1.0)[0] == 1.0
    assert mean_au_f1(y_true, y_pred) == 0.5
    assert mean_au_f1(y_true, y_pred, zero_division=np.nan) == 1.0


def test_au_without_known_labels_is_nan_and_left_out_of_mean():
    y_true = pd.DataFrame({"AU01": [np.nan] * 3, "AU12": [1.0, 0.0, 1.0]})
    y_pred = pd.DataFrame({"AU01": [1, 0, 1], "AU12": [1, 0, 0]})
    with pytest.warns(UndefinedMetricWarning, match="AU01"):
        scores = au_f1_scores(y_true, y_pred)
    assert np.isnan(scores["AU01"]) and scores["AU12"] == pytest.approx(2 / 3)
    with pytest.warns(UndefinedMetricWarning):
        assert mean_au_f1(y_true, y_pred) == pytest.approx(2 / 3)
    with pytest.warns(UndefinedMetricWarning, match="mean is NaN"), pytest.warns(UndefinedMetricWarning, match="AU01"):
        assert np.isnan(mean_au_f1(y_true[["AU01"]], y_pred[["AU01"]]))


@pytest.mark.parametrize(
    "y_true, y_pred, error, match",
    [
        (np.zeros((4, 2)), np.zeros((4, 3)), ValueError, "same shape"),
        (np.zeros((4, 2)), np.zeros((3, 2)), ValueError, "same shape"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), ValueError, "n_frames, n_aus"),
        (np.array([[9.0], [1.0]]), np.array([[1], [1]]), ValueError, "BP4D's 9"),
        (np.array([[1.0], [0.0]]), np.array([[0.7], [0.1]]), ValueError, "Threshold probabilities"),
        (np.array([[1.0], [0.0]]), np.array([[np.nan], [0.0]]), ValueError, "0/1 predictions"),
        (np.array([["a"], ["b"]]), np.array([[1], [0]]), TypeError, "numeric 0/1"),
        (
            pd.DataFrame({"AU01": [1, 0]}),
            pd.DataFrame({"AU02": [1, 0]}),
            ValueError,
            "different AUs",
        ),
    ],
)
def test_errors(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        au_f1_scores(y_true, y_pred)


def test_bad_zero_division():
    with pytest.raises(ValueError, match="zero_division"):
        au_f1_scores([1, 0], [1, 0], zero_division="warn")


def _multilabel_problem(rng, n=90):
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["c0", "c1", "c2", "c3"])
    y = pd.DataFrame({"AU01": X["c0"] > 0, "AU06": X["c1"] > 0.5, "AU12": X["c0"] + X["c2"] > 0}).astype(float)
    return X, y


@pytest.mark.parametrize(
    "estimator", [KNeighborsClassifier(n_neighbors=5), MultiOutputClassifier(LogisticRegression())]
)
def test_scorer_in_cross_val_score(rng, estimator):
    X, y = _multilabel_problem(rng)
    cv = KFold(3, shuffle=True, random_state=0)
    ours = cross_val_score(estimator, X, y, cv=cv, scoring=au_f1_scorer)
    assert ours.shape == (3,) and np.all((ours > 0.6) & (ours <= 1.0))
    # On fully known labels it is sklearn's macro F1.
    np.testing.assert_allclose(ours, cross_val_score(estimator, X, y, cv=cv, scoring="f1_macro"))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # sklearn's, on NaN
def test_scorer_accepts_nan_labels_where_f1_macro_fails(rng):
    X, y = _multilabel_problem(rng)
    model = KNeighborsClassifier(5).fit(X, y)
    unknown = y.mask(rng.random(y.shape) < 0.2)
    expected = mean_au_f1(unknown, model.predict(X))
    assert au_f1_scorer(model, X, unknown) == pytest.approx(expected)
    with pytest.raises(ValueError, match="NaN"):
        get_scorer("f1_macro")(model, X, unknown)
