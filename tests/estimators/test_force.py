import numpy as np
import pandas as pd
import pytest
import torch
from estimator_settings import FAST
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skbiomech.estimators import BlendshapeODEForceEstimator


@pytest.fixture(scope="module")
def fitted(small_face, dataset):
    return BlendshapeODEForceEstimator(small_face, **FAST).fit(dataset.frames)


def test_transform_columns(fitted, small_face, dataset):
    out = fitted.transform(dataset.frames)
    names = fitted.get_feature_names_out()
    assert out.shape == (len(dataset.frames), small_face.n_muscles + small_face.n_blendshapes)
    assert len(names) == out.shape[1]
    assert names[0] == "force_" + small_face.muscle_names[0]
    assert names[-1] == "position_" + small_face.blendshape_names[-1]
    assert np.all(out[:, : small_face.n_muscles] >= 0)  # activations pull, never push
    frame = clone(fitted).set_output(transform="pandas").fit(dataset.frames).transform(dataset.frames)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
    assert frame.index.equals(dataset.frames.index)


def test_reproducible_on_cpu(small_face, dataset):
    global_state = torch.random.get_rng_state()
    a = BlendshapeODEForceEstimator(small_face, **FAST).fit(dataset.frames).transform(dataset.frames)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # the user's RNG is left alone
    b = BlendshapeODEForceEstimator(small_face, **FAST).fit(dataset.frames).transform(dataset.frames)
    np.testing.assert_array_equal(a, b)
    c = BlendshapeODEForceEstimator(small_face, **{**FAST, "random_state": 1}).fit(dataset.frames)
    assert not np.array_equal(a, c.transform(dataset.frames))


def test_training_recovers_forces(small_face):
    """With enough training the forces track the ground-truth activations."""
    from skbiomech.datasets import make_synthetic_au_dataset

    data = make_synthetic_au_dataset(n_subjects=4, n_sequences=2, sequence_length=100, face=small_face, random_state=0)
    estimator = BlendshapeODEForceEstimator(
        small_face, max_epochs=150, lr=3e-3, batch_size=16, device="cpu", random_state=0
    ).fit(data.frames)
    forces = estimator.transform(data.frames)[:, : small_face.n_muscles]
    active = data.forces.std() > 0.05
    r = [np.corrcoef(forces[:, m], data.forces.iloc[:, m])[0, 1] for m in np.flatnonzero(active)]
    assert np.mean(r) > 0.6
    history = estimator.history_[:, "train_loss"]
    assert history[-1] < 0.2 * history[0]


@pytest.mark.parametrize(
    "options",
    [
        dict(encoder="meshconv"),
        dict(force_model="vector"),
        dict(dynamics="quasistatic"),
        dict(dynamics="paper"),
        dict(mass="region"),
        dict(window=2),
        dict(lr_schedule="cosine"),
        dict(module__dropout=0.1, optimizer__weight_decay=1e-4),
    ],
)
def test_options(small_face, dataset, options):
    estimator = BlendshapeODEForceEstimator(small_face, **{**FAST, "max_epochs": 1}, **options)
    out = estimator.fit(dataset.frames).transform(dataset.frames)
    assert out.shape[0] == len(dataset.frames) and np.all(np.isfinite(out))
    assert estimator.get_params()[next(iter(options))] == next(iter(options.values()))


def test_labels_train_an_internal_au_head(small_face, dataset):
    estimator = BlendshapeODEForceEstimator(small_face, **FAST).fit(dataset.frames, dataset.labels)
    assert estimator.net_.module_.head is not None and estimator.aus_ == list(dataset.labels.columns)
    without = BlendshapeODEForceEstimator(small_face, **{**FAST, "lambda_au": 0.0}).fit(dataset.frames, dataset.labels)
    assert without.net_.module_.head is None


def test_validation_split_early_stopping_and_checkpoints(small_face, dataset, tmp_path):
    estimator = BlendshapeODEForceEstimator(
        small_face, **{**FAST, "max_epochs": 4}, validation_fraction=0.25, early_stopping=2, checkpoint_dir=tmp_path
    ).fit(dataset.frames)
    assert "valid_loss" in estimator.history_[-1]
    again = clone(estimator).fit(dataset.frames)
    assert estimator.checkpoint_dir_ != again.checkpoint_dir_  # one folder per fit
    assert len(list(tmp_path.iterdir())) == 2


def test_pipeline_with_a_plain_classifier(small_face, dataset):
    pipe = Pipeline([("forces", BlendshapeODEForceEstimator(small_face, **FAST)), ("clf", LogisticRegression(max_iter=200))])
    pipe.fit(dataset.frames, dataset.labels["AU12"])
    assert pipe.predict(dataset.frames).shape == (len(dataset.frames),)


def _drop(frames, column):
    return frames.drop(columns=[column])


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda f: f.drop(columns=[f.columns[5]]), "missing"),
        (lambda f: f.assign(extra=1.0), "unexpected"),
        (lambda f: f.drop(columns=["sequence"]), "lacks \\['sequence'\\]"),
        (lambda f: f.iloc[::-1], "ordered by increasing 'frame'"),
        (lambda f: f.assign(**{f.columns[4]: np.nan}), "NaN"),
    ],
)
def test_bad_frame_tables(small_face, dataset, change, match):
    with pytest.raises(ValueError, match=match):
        BlendshapeODEForceEstimator(small_face, **FAST).fit(change(dataset.frames.copy()))


def test_sequences_shorter_than_the_horizon(small_face, dataset):
    with pytest.raises(ValueError, match="horizon=64"):
        BlendshapeODEForceEstimator(small_face, **{**FAST, "horizon": 64}).fit(dataset.frames)


def test_short_sequences_are_fine_at_inference(fitted, dataset):
    short = dataset.frames.iloc[:3]
    assert fitted.transform(short).shape[0] == 3


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(force_model="vector", face=None), ValueError, "needs a face model"),
        (dict(encoder="meshconv", face=None), ValueError, "needs a face model"),
        (dict(early_stopping=2), ValueError, "validation_fraction"),
        (dict(horizon=1), ValueError, "horizon"),
        (dict(dynamics="newton"), ValueError, "dynamics"),
        (dict(unknown_option=3), TypeError, "unexpected parameters"),
    ],
)
def test_bad_parameters(small_face, dataset, params, error, match):
    args = {**FAST, "face": small_face, **params}
    X = dataset.frames if args["face"] is not None else dataset.frames.iloc[:, 3:].to_numpy()
    with pytest.raises(error, match=match):
        BlendshapeODEForceEstimator(**args).fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_is_a_clear_error(small_face, dataset):
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        BlendshapeODEForceEstimator(small_face, **{**FAST, "device": "cuda"}).fit(dataset.frames)


def test_transform_before_fit(small_face, dataset):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BlendshapeODEForceEstimator(small_face).transform(dataset.frames)
