import joblib
import numpy as np
import pandas as pd
import pytest
from estimator_settings import FAST
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from skbiomech.estimators import BiomechAUClassifier
from skbiomech.metrics import au_f1_scorer


@pytest.fixture(scope="module")
def fitted(small_face, dataset):
    return BiomechAUClassifier(small_face, **FAST).fit(dataset.frames, dataset.labels)


def test_multilabel_contract(fitted, dataset):
    n, n_aus = dataset.labels.shape
    proba = fitted.predict_proba(dataset.frames)
    assert proba.shape == (n, n_aus) and np.all((proba >= 0) & (proba <= 1))
    predicted = fitted.predict(dataset.frames)
    assert predicted.shape == (n, n_aus) and set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(fitted.classes_, np.arange(n_aus))
    assert fitted.aus_ == list(dataset.labels.columns)
    tags = fitted.__sklearn_tags__()
    assert tags.classifier_tags.multi_label and tags.target_tags.multi_output


@pytest.mark.parametrize(
    "inputs",
    [("geometry",), ("force",), ("position",), ("force", "position"), ("image",), ("force", "position", "image")],
)
def test_every_row_of_table_1_is_a_setting(small_face, dataset, inputs, rng):
    frames = dataset.frames
    if "image" in inputs:  # stand-in image features, as an ImageFeatureTransformer would add
        features = pd.DataFrame(rng.normal(size=(len(frames), 6)), columns=[f"z2d_{j}" for j in range(6)], index=frames.index)
        frames = pd.concat([frames, features], axis=1)
    clf = BiomechAUClassifier(small_face, inputs=inputs, **{**FAST, "max_epochs": 1}).fit(frames, dataset.labels)
    assert clf.predict(frames).shape == dataset.labels.shape


def test_image_input_needs_features(small_face, dataset):
    with pytest.raises(ValueError, match="ImageFeatureTransformer"):
        BiomechAUClassifier(small_face, inputs=("image",), **FAST).fit(dataset.frames, dataset.labels)


def test_partial_labels(small_face, dataset, rng):
    labels = dataset.labels.copy()
    hidden = rng.random(len(labels)) < 0.8
    labels.loc[hidden] = np.nan  # 80% of the frames unlabelled: the physics still sees them
    labels["AU01"] = np.nan  # an AU with no label at all
    clf = BiomechAUClassifier(small_face, **FAST).fit(dataset.frames, labels)
    assert np.isfinite(clf.history_[-1, "train_loss"])
    assert clf.predict(dataset.frames).shape == labels.shape


def test_thresholds(small_face, dataset):
    fixed = BiomechAUClassifier(small_face, threshold=0.3, **FAST).fit(dataset.frames, dataset.labels)
    np.testing.assert_array_equal(fixed.thresholds_, 0.3)
    tuned = BiomechAUClassifier(small_face, threshold="tune", **FAST).fit(dataset.frames, dataset.labels)
    assert tuned.thresholds_.shape == (dataset.labels.shape[1],)
    assert np.all((tuned.thresholds_ > 0) & (tuned.thresholds_ < 1))
    proba = tuned.predict_proba(dataset.frames)
    np.testing.assert_array_equal(tuned.predict(dataset.frames), proba >= tuned.thresholds_)


def test_binary_series_with_unknown_labels(small_face, dataset):
    y = dataset.labels["AU12"].copy()
    y.iloc[::3] = np.nan
    clf = BiomechAUClassifier(small_face, **FAST).fit(dataset.frames, y)
    assert clf.aus_ == ["AU12"] and clf.predict(dataset.frames).shape == (len(y),)
    assert clf.predict_proba(dataset.frames).shape == (len(y), 2)


@pytest.mark.parametrize("scoring", ["f1_macro", au_f1_scorer])
def test_grid_search_over_loss_weights_with_groupkfold(small_face, dataset, scoring):
    search = GridSearchCV(
        BiomechAUClassifier(small_face, **{**FAST, "max_epochs": 1}),
        {"lambda_3d": [0.1, 1.0], "lambda_smooth": [0.0, 1e-2]},
        cv=GroupKFold(n_splits=2),
        scoring=scoring,
    )
    search.fit(dataset.frames, dataset.labels, groups=dataset.groups)
    assert set(search.best_params_) == {"lambda_3d", "lambda_smooth"}
    assert search.predict(dataset.frames).shape == dataset.labels.shape


def test_cross_val_score_with_groups_and_nan_labels(small_face, dataset):
    labels = dataset.labels.copy()
    labels.iloc[::4, :3] = np.nan
    scores = cross_val_score(
        BiomechAUClassifier(small_face, **{**FAST, "max_epochs": 1}),
        dataset.frames, labels, groups=dataset.groups, cv=GroupKFold(n_splits=2), scoring=au_f1_scorer,
    )  # fmt: skip
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_joblib_round_trip(fitted, dataset, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(dataset.frames), fitted.predict_proba(dataset.frames))


def test_clone_and_set_params(fitted):
    copy = clone(fitted).set_params(lambda_au=0.5, module__dropout=0.2)
    assert copy.get_params()["lambda_au"] == 0.5 and copy.get_params()["module__dropout"] == 0.2
    assert not hasattr(copy, "net_")


@pytest.mark.parametrize(
    "labels, match",
    [
        (lambda y: y.replace(1.0, 2.0), "Labels must be 1"),
        (lambda y: y.rename(columns={"AU01": "smile"}), "AU names"),
        (lambda y: y.iloc[:-1], "rows but X has"),
        (lambda y: y["AU01"].to_numpy() * 3 + np.arange(len(y)) % 3, "Only binary"),
    ],
)
def test_bad_labels(small_face, dataset, labels, match):
    with pytest.raises(ValueError, match=match):
        BiomechAUClassifier(small_face, **FAST).fit(dataset.frames, labels(dataset.labels))


@pytest.mark.parametrize("inputs", [(), ("sound",)])
def test_bad_inputs(small_face, dataset, inputs):
    with pytest.raises(ValueError, match="inputs"):
        BiomechAUClassifier(small_face, inputs=inputs, **FAST).fit(dataset.frames, dataset.labels)


def test_weights_only_round_trip(fitted, small_face, dataset, tmp_path):
    path = tmp_path / "weights.pt"
    fitted.save_weights(path)
    loaded = BiomechAUClassifier.load_weights(path, face=small_face)
    np.testing.assert_allclose(loaded.predict_proba(dataset.frames), fitted.predict_proba(dataset.frames), rtol=1e-6)
    np.testing.assert_array_equal(loaded.thresholds_, fitted.thresholds_)
    assert loaded.aus_ == fitted.aus_ and loaded.get_params()["lambda_3d"] == fitted.lambda_3d
    # The file holds tensors and plain values only.
    import torch

    torch.load(path, weights_only=True)


def test_weights_of_a_face_free_binary_model(dataset, tmp_path):
    X = dataset.frames.iloc[:, 3:].to_numpy()
    y = np.where(dataset.labels["AU12"].to_numpy() > 0, "smile", "neutral")
    model = BiomechAUClassifier(face=None, **FAST).fit(X, y)
    model.save_weights(tmp_path / "w.pt")
    loaded = BiomechAUClassifier.load_weights(tmp_path / "w.pt")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert set(loaded.classes_) == {"smile", "neutral"}


def test_load_weights_errors(fitted, tmp_path, small_face):
    from skbiomech.estimators import BlendshapeODEForceEstimator
    from skbiomech.face import default_face_model

    fitted.save_weights(tmp_path / "w.pt")
    with pytest.raises(ValueError, match="not a BlendshapeODEForceEstimator"):
        BlendshapeODEForceEstimator.load_weights(tmp_path / "w.pt", face=small_face)
    with pytest.raises(ValueError, match="pass that face model"):
        BiomechAUClassifier.load_weights(tmp_path / "w.pt", face=default_face_model(resolution=15).__class__(
            **{k: getattr(small_face, k) for k in ("vertices", "triangles", "masses", "spring_edges", "spring_stiffness", "bending_rigidity", "attachment_stiffness", "muscle_names", "distribution", "muscle_kinds", "muscle_anchors", "au_muscles")},
            blendshapes=small_face.blendshapes[:-1], blendshape_names=small_face.blendshape_names[:-1],
        ))  # fmt: skip
    import torch

    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a skbiomech weights file"):
        BiomechAUClassifier.load_weights(tmp_path / "other.pt")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_training_loads_on_a_cpu_only_machine(small_face, dataset, tmp_path):
    import subprocess
    import sys

    model = BiomechAUClassifier(small_face, **{**FAST, "device": "cuda"}).fit(dataset.frames, dataset.labels)
    assert next(model.net_.module_.parameters()).is_cuda
    joblib.dump(model, tmp_path / "gpu.joblib")
    dataset.frames.to_pickle(tmp_path / "frames.pkl")
    np.save(tmp_path / "expected.npy", model.predict_proba(dataset.frames))
    script = (
        "import joblib, numpy as np, pandas as pd, torch;"
        "assert not torch.cuda.is_available();"
        f"m = joblib.load(r'{tmp_path / 'gpu.joblib'}');"
        f"p = m.predict_proba(pd.read_pickle(r'{tmp_path / 'frames.pkl'}'));"
        f"np.testing.assert_allclose(p, np.load(r'{tmp_path / 'expected.npy'}'), atol=1e-4)"
    )
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_full_model_pipeline_with_image_features(small_face, tmp_path):
    """The paper's full model: image features and physics in one Pipeline."""
    from sklearn.pipeline import make_pipeline

    from skbiomech.datasets import make_synthetic_au_dataset
    from skbiomech.estimators import ImageFeatureTransformer

    data = make_synthetic_au_dataset(
        n_subjects=2, n_sequences=1, sequence_length=16, face=small_face, images="memory", image_size=32, random_state=0
    )
    pipe = make_pipeline(
        ImageFeatureTransformer("resnet18", weights=None, image_size=32, cache_dir=tmp_path, random_state=0),
        BiomechAUClassifier(small_face, inputs=("force", "position", "image"), **FAST),
    )
    pipe.fit(data.frames, data.labels)
    assert pipe.predict(data.frames).shape == data.labels.shape
    assert pipe[-1].n_image_features_ == 512


def test_noise_image_features_cost_little(small_face):
    """256 columns of pure noise beside the physics inputs barely move held-out F1 (issue 10).

    The image branch is standardized, projected onto its top principal axes
    (``image_components``) and dropped out (``image_dropout``), so the head
    cannot memorize the training frames through it.
    """
    from skbiomech.datasets import make_synthetic_au_dataset
    from skbiomech.metrics import mean_au_f1

    data = make_synthetic_au_dataset(n_subjects=6, n_sequences=2, sequence_length=60, face=small_face, random_state=0)
    noise = np.random.default_rng(0).normal(size=(len(data.frames), 256))
    noisy = pd.concat(
        [data.frames, pd.DataFrame(noise, columns=[f"z2d_{j}" for j in range(256)], index=data.frames.index)], axis=1
    )
    test = np.isin(data.groups, np.unique(data.groups)[:2])
    settings = dict(max_epochs=40, horizon=8, hidden_size=32, latent_size=16, batch_size=16, threshold="tune",
                    device="cpu", random_state=0)  # fmt: skip
    scores = {}
    for inputs, X in ((("force", "position"), data.frames), (("force", "position", "image"), noisy)):
        clf = BiomechAUClassifier(small_face, inputs=inputs, **settings).fit(X[~test], data.labels[~test])
        scores[inputs] = mean_au_f1(data.labels[test], clf.predict(X[test]))
    assert scores[("force", "position", "image")] >= scores[("force", "position")] - 0.03, scores


def test_predict_forces_names_muscles_and_keeps_the_index(fitted, dataset, small_face):
    frames = dataset.frames.set_axis(dataset.frames.index + 1000)
    forces = fitted.predict_forces(frames)
    assert list(forces.columns) == [f"force_{m}" for m in small_face.muscle_names]
    assert forces.index.equals(frames.index) and np.isfinite(forces.to_numpy()).all()
    failed = frames.assign(success=True)
    failed.loc[failed.index[5], "success"] = False
    assert forces.equals(fitted.predict_forces(frames))
    assert fitted.predict_forces(failed).iloc[5].isna().all()


def test_tracker_bookkeeping_columns_do_not_matter_but_coefficients_do(fitted, dataset):
    """A model trained on simulated frames reads a FaceTracker table (time, pose, landmark_rmse)."""
    tracked = dataset.frames.copy()
    tracked.insert(3, "time", tracked["frame"] / 25.0)
    tracked.insert(4, "pose_Rx", 1.0)
    tracked["landmark_rmse"] = 0.1
    np.testing.assert_array_equal(fitted.predict_proba(tracked), fitted.predict_proba(dataset.frames))
    renamed = dataset.frames.rename(columns={dataset.frames.columns[3]: "not_a_shape"})
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(renamed)
    shuffled = dataset.frames[list(dataset.frames.columns[:3]) + list(dataset.frames.columns[3:][::-1])]
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(shuffled)
