"""Frame tables in, outputs out: labels matched by index, sequences split at gaps and failed frames."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimator_settings import FAST

from skbiomech.estimators import BiomechAUClassifier, BlendshapeODEForceEstimator
from skbiomech.estimators._frames import IGNORED_COLUMNS, IGNORED_PREFIXES, METADATA, align_labels, parse_frames

ESTIMATORS = [BlendshapeODEForceEstimator, BiomechAUClassifier]
# The same frames batched with different others differ by float32 rounding (~2e-6), no more.
SAME = dict(rtol=1e-5, atol=1e-5)


def _outputs(model, X):
    """What each estimator returns per frame: forces and positions, or AU probabilities."""
    return model.transform(X) if hasattr(model, "transform") else model.predict_proba(X)


@pytest.fixture(scope="module")
def fitted(small_face, dataset):
    return {cls: cls(small_face, **FAST).fit(dataset.frames, dataset.labels) for cls in ESTIMATORS}


@pytest.fixture(scope="module")
def fitted_with_success(small_face, dataset):
    """Models fitted on a table with the front end's ``success`` column (so transform accepts one)."""
    frames = dataset.frames.assign(success=True)
    return {cls: cls(small_face, **FAST).fit(frames, dataset.labels) for cls in ESTIMATORS}


@pytest.fixture(scope="module")
def one_sequence(dataset):
    """The first sequence of the dataset (40 frames, frame numbers 0..39)."""
    frames = dataset.frames
    first = (frames["subject"] == frames["subject"].iloc[0]) & (frames["sequence"] == frames["sequence"].iloc[0])
    return frames[first].reset_index(drop=True), dataset.labels[first.to_numpy()].reset_index(drop=True)


def _coefficients(frames):
    return [c for c in frames.columns if c not in METADATA]


# -- labels vs frames ----------------------------------------------------------


def _sequences_reversed(frames):
    """The frame table with its sequences in reverse order (frames still in order), index kept."""
    keys = frames["subject"] + "/" + frames["sequence"]
    order = pd.Series(pd.factorize(keys)[0], index=frames.index)
    return frames.loc[order.sort_values(ascending=False, kind="stable").index]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_labels_are_matched_to_frames_by_index(small_face, dataset, cls):
    """Reordering X without y (as after a sort) must not scramble the labels."""
    X = _sequences_reversed(dataset.frames)
    assert not X.index.equals(dataset.labels.index)
    params = {**FAST, "max_epochs": 2}
    by_index = cls(small_face, **params).fit(X, dataset.labels)
    aligned = cls(small_face, **params).fit(X, dataset.labels.loc[X.index])
    np.testing.assert_array_equal(_outputs(by_index, X), _outputs(aligned, X))


def test_align_labels_reorders_a_series_and_leaves_positions_alone(dataset):
    X = _sequences_reversed(dataset.frames)
    y = dataset.labels["AU12"]
    assert align_labels(X, y).index.equals(X.index)
    array = dataset.labels.to_numpy()
    assert align_labels(X, array) is array  # only one side carries an index: position
    assert align_labels(X.to_numpy(), dataset.labels) is dataset.labels


@pytest.mark.parametrize(
    "relabel, match",
    [
        (lambda X, y: (X, y.set_axis(y.index + 1000)), "index"),
        (lambda X, y: (X.set_axis(X.index // 2), y), "duplicate"),
    ],
    ids=["different labels", "duplicates"],
)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_labels_with_another_index_are_refused(small_face, dataset, cls, relabel, match):
    X, y = relabel(dataset.frames, dataset.labels)
    with pytest.raises(ValueError, match=match):
        cls(small_face, **FAST).fit(X, y)


# -- frame-table errors ----------------------------------------------------------


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda f: f.assign(frame=f["frame"].where(f.index != 5, 4)), "frame 4 .*more than once"),
        (lambda f: f.assign(subject=f["subject"].where(f.index != 7)), "'subject' .*missing"),
        (lambda f: f.assign(sequence=f["sequence"].where(f.index != 7)), "'sequence' .*missing"),
        (lambda f: f.assign(frame=f["frame"] + 0.5 * (f.index == 3)), "whole frame numbers"),
        (lambda f: f.assign(success=np.where(f.index == 2, np.nan, 1.0)), "'success' column must"),
        (lambda f: f.assign(**{f.columns[5]: f[f.columns[5]].where(f.index != 6)}), r"only some .*\[6\]"),
    ],
    ids=["duplicated frame", "nan subject", "nan sequence", "fractional frame", "bad success", "partial nan"],
)
def test_frame_table_errors(small_face, dataset, change, match):
    with pytest.raises(ValueError, match=match):
        BlendshapeODEForceEstimator(small_face, **FAST).fit(change(dataset.frames.copy()))


# -- the video front end's extra columns --------------------------------------------


def test_front_end_columns_are_accepted_and_ignored(fitted, small_face, dataset):
    frames = dataset.frames
    n = len(frames)
    rng = np.random.default_rng(0)
    extra = pd.DataFrame(
        {
            "time": frames["frame"] / 25.0,
            "success": True,
            **{name: rng.normal(size=n) for name in IGNORED_COLUMNS if name.startswith("pose_")},
            "image": [f"crop_{i}.png" for i in range(n)],
            "arkit_mouthSmileLeft": rng.random(n),
            "landmark_x_0": rng.random(n),
            "landmark_rmse": rng.random(n),
        },
        index=frames.index,
    )
    assert set(IGNORED_PREFIXES) == {"arkit_", "landmark_"}
    wide = pd.concat([frames, extra], axis=1)
    for cls in ESTIMATORS:
        model = cls(small_face, **FAST).fit(wide, dataset.labels)
        np.testing.assert_array_equal(_outputs(model, wide), _outputs(fitted[cls], frames))


# -- failed frames and gaps ------------------------------------------------------------


def _fail(frames, rows, how):
    """Mark ``rows`` as failed: success=False, all-NaN coefficients, or rows dropped from the table."""
    frames = frames.copy()
    if how == "dropped":
        return frames.drop(index=rows)
    if how == "success":
        frames["success"] = ~frames.index.isin(rows)
    else:
        frames.loc[rows, _coefficients(frames)] = np.nan
    return frames


@pytest.mark.parametrize("how", ["success", "nan", "dropped"])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_failed_frames_split_the_sequence(fitted, fitted_with_success, one_sequence, cls, how):
    """Outputs around a failed frame are those of the two halves given alone; the failed frame is NaN."""
    frames, _ = one_sequence
    model = (fitted_with_success if how == "success" else fitted)[cls]
    failed = _fail(frames.assign(success=True) if how == "success" else frames, [20], how)
    out = _outputs(model, failed)
    expected = np.concatenate([_outputs(model, half) for half in (failed.loc[:19], failed.loc[21:])])
    kept = (failed.index != 20) if how != "dropped" else slice(None)
    np.testing.assert_allclose(out[kept], expected, **SAME)
    assert len(out) == len(failed) and np.isnan(out).any() == (how != "dropped")
    if how != "dropped":
        assert np.isnan(out[20]).all()


def test_failed_frames_give_nan_predictions(fitted, one_sequence):
    frames, _ = one_sequence
    model = fitted[BiomechAUClassifier]
    clean = model.predict(frames)
    assert clean.dtype.kind == "i"
    predicted = model.predict(_fail(frames, [3, 30], "nan"))
    assert predicted.dtype.kind == "f" and np.isnan(predicted[[3, 30]]).all()
    np.testing.assert_array_equal(np.isnan(predicted).any(axis=1), np.isin(np.arange(len(frames)), [3, 30]))
    assert set(np.unique(predicted[~np.isnan(predicted)])) <= {0.0, 1.0}


def test_every_frame_failed(fitted, one_sequence, small_face):
    frames, labels = one_sequence
    nothing = _fail(frames, list(frames.index), "nan")
    for cls in ESTIMATORS:
        out = _outputs(fitted[cls], nothing)
        assert out.shape == _outputs(fitted[cls], frames).shape and np.isnan(out).all()
        with pytest.raises(ValueError, match="no frame to train on"):
            cls(small_face, **FAST).fit(nothing, labels)


@pytest.mark.parametrize("how", ["nan", "dropped"])
def test_max_gap_interpolates_short_gaps(fitted, small_face, one_sequence, how):
    frames, _ = one_sequence
    model = BlendshapeODEForceEstimator(small_face, **{**FAST, "max_gap": 2}).fit(frames)
    gap = [20, 21]
    filled = frames.copy()
    columns = _coefficients(frames)
    filled.loc[gap, columns] = np.nan
    filled[columns] = filled[columns].interpolate()  # linear in the frame number
    expected = model.transform(filled)
    out = model.transform(_fail(frames, gap, how))
    if how == "dropped":
        expected = np.delete(expected, gap, axis=0)
    np.testing.assert_allclose(out, expected, **SAME)
    # A gap longer than max_gap splits the sequence.
    longer = model.transform(_fail(frames, [20, 21, 22], how))
    failed = np.isnan(longer).any(axis=1)
    assert failed.sum() == (3 if how == "nan" else 0)
    halves = np.concatenate([model.transform(frames.loc[:19]), model.transform(frames.loc[23:])])
    np.testing.assert_allclose(longer[~failed], halves, **SAME)


@pytest.mark.parametrize("how", ["success", "nan", "tracked"])
def test_nan_image_features_are_fine_on_failed_frames_only(small_face, one_sequence, how):
    """A failed frame has no face crop, hence NaN image features; a tracked frame must have them."""
    frames, labels = one_sequence
    holed = frames.copy() if how == "tracked" else _fail(frames, [20], how)
    features = np.random.default_rng(0).normal(size=(len(frames), 3))
    features[20] = np.nan  # what ImageFeatureTransformer gives a row without an image
    holed[["z2d_0", "z2d_1", "z2d_2"]] = features
    model = BiomechAUClassifier(small_face, inputs=("force", "position", "image"), **{**FAST, "max_epochs": 1})
    if how == "tracked":
        with pytest.raises(ValueError, match=r"image features are NaN .*\[20\].*without an image"):
            model.fit(holed, labels)
        return
    proba = model.fit(holed, labels).predict_proba(holed)
    assert np.isnan(proba[20]).all() and np.isfinite(np.delete(proba, 20, axis=0)).all()


def test_training_skips_failed_frames(small_face, dataset):
    """A failed frame splits its sequence for training too, and its label is never used."""
    frames, labels = dataset.frames, dataset.labels
    failed = _fail(frames, [10, 11], "nan")
    failed_labels = labels.copy()
    failed_labels.loc[[10, 11]] = 1.0 - labels.loc[[10, 11]]  # labels of failed frames must not matter
    split = frames.drop(index=[10, 11]).copy()
    split.loc[12:39, "sequence"] = "T1-second-part"  # the rest of that sequence, as a sequence of its own
    for cls in ESTIMATORS:
        a = cls(small_face, **FAST).fit(failed, failed_labels)
        b = cls(small_face, **FAST).fit(split, labels.drop(index=[10, 11]))
        np.testing.assert_array_equal(_outputs(a, split), _outputs(b, split))


def test_short_segments_train_as_padded_windows(small_face, dataset):
    """A segment shorter than horizon (frames 0-2 here) trains instead of raising."""
    frames = _fail(dataset.frames, [3], "nan")
    model = BlendshapeODEForceEstimator(small_face, **FAST).fit(frames)
    assert np.isfinite(model.history_[-1, "train_loss"])


def test_plain_array_rows_of_nan_are_failed_frames(small_face, dataset):
    X = dataset.frames[_coefficients(dataset.frames)].to_numpy()[:40]
    model = BlendshapeODEForceEstimator(small_face, **FAST).fit(X)
    X_failed = X.copy()
    X_failed[20] = np.nan
    out = model.transform(X_failed)
    assert np.isnan(out[20]).all() and np.isfinite(np.delete(out, 20, axis=0)).all()
    np.testing.assert_allclose(out[21:], model.transform(X[21:]), **SAME)


@pytest.mark.parametrize("value", [-1, 1.5, "two"])
def test_bad_max_gap(small_face, dataset, value):
    with pytest.raises(ValueError, match="max_gap"):
        BlendshapeODEForceEstimator(small_face, **FAST, max_gap=value).fit(dataset.frames)


def test_parse_frames_segments():
    """Segments are numbered in table order; inserted gap frames point at no row."""
    table = pd.DataFrame(
        {"subject": "S", "sequence": ["a"] * 5 + ["b"] * 3, "frame": [0, 1, 3, 4, 8, 0, 1, 2], "c0": np.arange(8.0)}
    )
    table.loc[6, "c0"] = np.nan
    data = parse_frames(table, ["c0"], max_gap=1)
    # a: 0 1 [2] 3 4 | 8 ; b: 0 | 2 (the failed frame 1 is interpolated)
    np.testing.assert_array_equal(data.sequence_ids, [0, 0, 0, 0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(data.rows, [0, 1, -1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(data.coefficients[:, 0], [0, 1, 1.5, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(data.interpolated, [0, 0, 1, 0, 0, 0, 0, 1, 0])
    assert parse_frames(table, ["c0"]).sequence_ids.tolist() == [0, 0, 1, 1, 2, 3, 4]


# -- composing with other transformers -------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "frame_table.rst"


def _documented_composition():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("Preprocessing in a Pipeline", 1)[1]
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section).group(1)
    return "\n".join(line[3:] for line in block.splitlines())


def test_documented_column_transformer_keeps_the_sequences():
    namespace = {}
    exec(compile(_documented_composition(), str(DOC), "exec"), namespace)
    pipe, frames = namespace["model"], namespace["data"].frames
    inner = pipe[:-1].transform(frames)
    assert isinstance(inner, pd.DataFrame) and inner.index.equals(frames.index)
    assert inner[list(METADATA)].equals(frames[list(METADATA)])
    # Sequences stay apart: a sequence's outputs do not depend on the others.
    first = frames.index[(frames["subject"] == "S01") & (frames["sequence"] == frames["sequence"].iloc[0])]
    np.testing.assert_allclose(
        pipe.predict_proba(frames)[: len(first)], pipe.predict_proba(frames.loc[first]), **SAME
    )
