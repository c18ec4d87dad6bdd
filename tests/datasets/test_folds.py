"""Tests of the standard BP4D/DISFA partitions and SubjectPartitionCV."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from skbiomech.datasets._folds import BP4D_PARTITIONS, DISFA_PARTITIONS, SubjectPartitionCV

PARTITIONS = {"bp4d": BP4D_PARTITIONS, "disfa": DISFA_PARTITIONS}
# Fold -> tested part, under each numbering.
TEST_PART = {"test_part": {1: 1, 2: 2, 3: 3}, "reverse": {1: 3, 2: 2, 3: 1}}


@pytest.mark.parametrize(
    "name, sizes, everyone",
    [
        ("bp4d", (14, 14, 13), {f"F{i:03d}" for i in range(1, 24)} | {f"M{i:03d}" for i in range(1, 19)}),
        ("disfa", (9, 9, 9), None),
    ],
)
def test_partitions(name, sizes, everyone):
    parts = PARTITIONS[name]
    assert sorted(parts) == [1, 2, 3]
    assert tuple(len(parts[k]) for k in (1, 2, 3)) == sizes
    members = [s for k in (1, 2, 3) for s in parts[k]]
    assert len(members) == len(set(members))  # disjoint
    if everyone is not None:
        assert set(members) == everyone
    with pytest.raises(TypeError):
        parts[4] = ("X",)  # read-only


def test_partition_spot_checks():
    assert BP4D_PARTITIONS[1][:3] == ("F001", "F002", "F008") and "M015" in BP4D_PARTITIONS[3]
    assert DISFA_PARTITIONS[2][0] == "SN006" and DISFA_PARTITIONS[3][-1] == "SN029"
    assert "SN032" in DISFA_PARTITIONS[1]


def _table(dataset, per_subject=2):
    """One frame table holding every subject of the dataset."""
    subjects = [s for k in (1, 2, 3) for s in PARTITIONS[dataset][k]]
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "subject": np.repeat(subjects, per_subject),
            "frame": np.tile(np.arange(per_subject), len(subjects)),
            "x": rng.normal(size=per_subject * len(subjects)),
        }
    )


@pytest.mark.parametrize("dataset", ["bp4d", "disfa"])
@pytest.mark.parametrize("numbering", ["test_part", "reverse"])
@pytest.mark.parametrize("use_groups", [True, False])
def test_split(dataset, numbering, use_groups):
    X = _table(dataset)
    cv = SubjectPartitionCV(dataset, numbering=numbering)
    groups = X["subject"].to_numpy() if use_groups else None
    features = X[["x"]].to_numpy() if use_groups else X  # groups also work with arrays
    folds = list(cv.split(features, groups=groups))
    assert len(folds) == cv.get_n_splits() == 3
    for fold, (train, test) in enumerate(folds, start=1):
        tested = TEST_PART[numbering][fold]
        assert set(X["subject"].iloc[test]) == set(PARTITIONS[dataset][tested])
        assert set(X["subject"].iloc[train]) == {
            s for k in (1, 2, 3) if k != tested for s in PARTITIONS[dataset][k]
        }
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(X)))
        train_subjects, test_subjects = cv.subjects(fold)
        assert set(test_subjects) == set(PARTITIONS[dataset][tested])
        assert set(train_subjects) == set(X["subject"].iloc[train])


def test_numbering_documented_example():
    cv = SubjectPartitionCV("bp4d", numbering="reverse")
    assert cv.subjects(1)[1] == BP4D_PARTITIONS[3]
    assert SubjectPartitionCV("bp4d").subjects(1)[1] == BP4D_PARTITIONS[1]


def test_groups_take_precedence_over_column():
    X = pd.DataFrame({"subject": ["nobody"] * 3})
    groups = ["SN001", "SN006", "SN003"]
    folds = list(SubjectPartitionCV("disfa").split(X, groups=groups))
    assert [test.tolist() for _, test in folds] == [[0], [1], [2]]


@pytest.mark.parametrize("numbering", ["test_part", "reverse"])
def test_cross_val_score(numbering):
    X = _table("bp4d", per_subject=3)
    y = (np.arange(len(X)) % 2).astype(float)
    scores = cross_val_score(
        DummyClassifier(strategy="most_frequent"), X[["x"]], y,
        cv=SubjectPartitionCV("bp4d", numbering=numbering), groups=X["subject"],
    )  # fmt: skip
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_cross_val_score_subject_column_without_groups():
    X = _table("disfa")
    y = np.zeros(len(X))
    y[::3] = 1
    scores = cross_val_score(DummyClassifier(), X, y, cv=SubjectPartitionCV("disfa"))
    assert scores.shape == (3,)


def test_metadata_routing():
    X = _table("disfa")
    y = (np.arange(len(X)) % 2).astype(float)
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_val_score(
            DummyClassifier(), X[["x"]].to_numpy(), y,
            cv=SubjectPartitionCV("disfa"), params={"groups": X["subject"].to_numpy()},
        )  # fmt: skip
    assert scores.shape == (3,)


def test_grid_search():
    X = _table("disfa")
    y = (np.arange(len(X)) % 2).astype(float)
    search = GridSearchCV(
        DummyClassifier(), {"strategy": ["most_frequent", "prior"]}, cv=SubjectPartitionCV("disfa")
    )
    search.fit(X[["x"]], y, groups=X["subject"])
    assert search.n_splits_ == 3


def test_subset_of_subjects():
    X = pd.DataFrame({"subject": ["F001", "F002", "F003", "F004"]})
    folds = list(SubjectPartitionCV("bp4d").split(X))
    assert [test.tolist() for _, test in folds] == [[0, 1], [2], [3]]


def test_custom_partition():
    cv = SubjectPartitionCV({1: ["a"], 2: ["b", "c"], 3: ["d"]}, numbering="reverse")
    folds = list(cv.split(np.zeros((4, 1)), groups=["a", "b", "c", "d"]))
    assert [test.tolist() for _, test in folds] == [[3], [1, 2], [0]]


def test_repr():
    assert repr(SubjectPartitionCV("disfa", numbering="reverse")) == (
        "SubjectPartitionCV(dataset='disfa', numbering='reverse')"
    )


@pytest.mark.parametrize(
    "X, groups, match",
    [
        (np.zeros((3, 1)), None, "needs the subject"),
        (pd.DataFrame({"x": [1, 2, 3]}), None, "needs the subject"),
        (np.zeros((3, 1)), ["F001", "F003"], "2 entries but X has 3"),
        (np.zeros((3, 1)), ["F001", "F003", "X9"], "in no bp4d part: X9"),
        (np.zeros((4, 1)), ["F001", "SN001", "F003", "Q"], "2 subject.*: Q, SN001"),
        (np.zeros((2, 1)), ["F001", "F003"], r"fold 3 .*tests on part 3.*F004"),
        (np.zeros((2, 1)), np.array([["F001"], ["F003"]]), "1-dimensional"),
    ],
)
def test_split_errors(X, groups, match):
    with pytest.raises(ValueError, match=match):
        list(SubjectPartitionCV("bp4d").split(X, groups=groups))


def test_empty_fold_named_under_reverse_numbering():
    cv = SubjectPartitionCV("bp4d", numbering="reverse")
    with pytest.raises(ValueError, match=r"fold 1 \(numbering='reverse'\) tests on part 3"):
        list(cv.split(np.zeros((2, 1)), groups=["F001", "F003"]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dataset": "ck+"}, "dataset must be one of"),
        ({"numbering": "paper"}, "numbering must be one of"),
        ({"dataset": {1: ["a"], 2: ["b"]}}, "keys 1, 2, 3"),
        ({"dataset": {1: ["a"], 2: ["a"], 3: ["b"]}}, "more than one part"),
    ],
)
def test_bad_parameters(kwargs, match):
    cv = SubjectPartitionCV(**kwargs)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        list(cv.split(np.zeros((1, 1)), groups=["a"]))


def test_bad_fold():
    with pytest.raises(ValueError, match="fold must be 1, 2 or 3"):
        SubjectPartitionCV().subjects(0)


def test_groups_without_X():
    folds = list(SubjectPartitionCV("disfa").split(None, groups=["SN001", "SN006", "SN003"]))
    assert [test.tolist() for _, test in folds] == [[0], [1], [2]]
