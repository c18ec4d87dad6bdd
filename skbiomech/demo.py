"""``skbiomech demo``: the paper's Table 1 on the embedded synthetic benchmark.

Three-fold subject-grouped cross-validation of the full model and its
baselines (geometry, force, position, physics, image, physics + image, and
a plain logistic regression on the blendshape coefficients) on the
physically simulated AU benchmark, a per-AU F1 table printed like the
paper's, and plots written to a folder. Progress goes to stderr from the
first second; nothing is written outside the output folder (the image
features are kept in memory).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._io import atomic_write
from .datasets import make_synthetic_au_dataset
from .estimators import BiomechAUClassifier, BlendshapeODEForceEstimator, ImageFeatureTransformer
from .estimators._classifier import _tune_thresholds
from .face import default_face_model
from .metrics import au_f1_scores

__all__ = ["BASELINE_NAME", "TABLE1_SETTINGS", "run_demo", "format_table"]

#: The rows of the paper's Table 1 as ``BiomechAUClassifier(inputs=...)`` settings.
TABLE1_SETTINGS = {
    "geometry": ("geometry",),
    "force": ("force",),
    "position": ("position",),
    "physics": ("force", "position"),
    "image": ("image",),
    "physics+image": ("force", "position", "image"),
}

#: The extra row: scikit-learn's LogisticRegression per AU on the standardized coefficients.
BASELINE_NAME = "logistic (coefficients)"


def _say(message, start, stream):
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=stream, flush=True)


@contextlib.contextmanager
def _heartbeat(what, start, stream, every=10.0):
    """Say ``what`` is still going every ``every`` seconds while the block runs."""
    done = threading.Event()

    def beat():
        while not done.wait(every):
            _say(f"  ... still {what}", start, stream)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _image_features(frames, backbone, image_size, random_state, start, stream):
    """Frozen backbone features; ImageNet weights when available, random ones offline.

    The features are computed once, before cross-validation, and kept in
    memory (``cache_dir=False``): the demo writes no feature cache.
    """
    options = dict(image_size=image_size, random_state=random_state, cache_dir=False)
    try:
        transformer = ImageFeatureTransformer(backbone, **options)
        with contextlib.redirect_stdout(stream):  # torch.hub announces downloads on stdout
            transformer.fit(frames)
        weights = "ImageNet"
    except OSError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _say(f"ImageNet weights unavailable: {reason}", start, stream)
        _say("using random weights instead", start, stream)
        transformer = ImageFeatureTransformer(backbone, weights=None, **options)
        transformer.fit(frames)
        weights = "random (offline)"
    _say(f"computing {backbone} features of {len(frames)} images (kept in memory, no cache written)", start, stream)
    with _heartbeat("computing image features", start, stream):
        return transformer.transform(frames), weights


def _logistic_baseline(train_frames, train_labels, test_frames, columns, random_state):
    """0/1 predictions of one LogisticRegression per AU on standardized coefficient columns.

    Thresholds are tuned per AU on the training frames, as
    ``BiomechAUClassifier(threshold="tune")`` does; unknown (NaN) labels are
    left out of each AU's fit.
    """
    X_train, X_test = train_frames[columns].to_numpy(), test_frames[columns].to_numpy()
    y_train = train_labels.to_numpy(dtype=float)
    train_proba = np.zeros_like(y_train)
    test_proba = np.zeros((len(X_test), y_train.shape[1]))
    for j in range(y_train.shape[1]):
        known = ~np.isnan(y_train[:, j])
        classes = np.unique(y_train[known, j])
        if len(classes) < 2:  # one class in training: predict it
            train_proba[:, j] = test_proba[:, j] = classes[0] if len(classes) else 0.0
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=random_state))
        model.fit(X_train[known], y_train[known, j])
        train_proba[:, j], test_proba[:, j] = model.predict_proba(X_train)[:, 1], model.predict_proba(X_test)[:, 1]
    return (test_proba >= _tune_thresholds(train_proba, y_train)).astype(int)


def format_table(table):
    """The F1 table in percent, one row per model, like the paper's Table 1."""
    percent = (100 * table).round(1)
    return percent.to_string(float_format=lambda v: f"{v:5.1f}")


def run_demo(
    out_dir="skbiomech-demo",
    *,
    n_subjects=9,
    sequence_length=(200, 300),
    n_folds=3,
    max_epochs=100,
    backbone="resnet18",
    image_size=64,
    random_state=0,
    stream=None,
):
    """Run the demo and write its results into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path, default="skbiomech-demo"
    n_subjects : int, default=9
    sequence_length : int or (int, int), default=(200, 300)
        Frames per sequence (three sequences per subject).
    n_folds : int, default=3
        Subject-grouped folds.
    max_epochs : int, default=100
    backbone : str, default="resnet18"
        torchvision backbone of the image branch (ImageNet weights when they
        can be loaded, random weights otherwise).
    image_size : int, default=64
    random_state : int, default=0
    stream : file, default=sys.stderr
        Where progress goes.

    Returns
    -------
    results : dict
        ``table`` (DataFrame of F1 per model and AU, with ``mean``: one
        row per :data:`TABLE1_SETTINGS` entry and the :data:`BASELINE_NAME`
        row), ``seconds``, ``image_weights`` and ``files`` written.
    """
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lengths = sequence_length if np.isscalar(sequence_length) else "-".join(map(str, sequence_length))
    _say(
        f"simulating the synthetic benchmark: {n_subjects} subjects x 3 sequences of {lengths} frames, "
        f"with {image_size}-px face images (the longest step before training)",
        start, stream,
    )  # fmt: skip
    face = default_face_model()
    with _heartbeat("simulating", start, stream):
        data = make_synthetic_au_dataset(
            n_subjects=n_subjects, n_sequences=3, sequence_length=sequence_length, face=face,
            images="memory", image_size=image_size, random_state=random_state,
        )  # fmt: skip
    _say(f"synthetic benchmark: {len(data.frames)} frames, {n_subjects} subjects, {len(data.labels.columns)} AUs", start, stream)
    frames, weights = _image_features(data.frames, backbone, image_size, random_state, start, stream)
    _say(f"image features: {backbone}, {weights} weights", start, stream)

    names = [*TABLE1_SETTINGS, BASELINE_NAME]
    predictions = {name: np.zeros(data.labels.shape) for name in names}
    folds = list(GroupKFold(n_splits=n_folds).split(frames, groups=data.groups))
    _say(f"training {len(names)} models on each of {n_folds} subject-grouped folds, {max_epochs} epochs each", start, stream)
    for k, (train, test) in enumerate(folds, 1):
        for name, inputs in TABLE1_SETTINGS.items():
            model = BiomechAUClassifier(
                face, inputs=inputs, max_epochs=max_epochs, threshold="tune", random_state=random_state
            )
            model.fit(frames.iloc[train], data.labels.iloc[train])
            predictions[name][test] = model.predict(frames.iloc[test])
            _say(f"fold {k}/{n_folds}: {name:<23} trained", start, stream)
        predictions[BASELINE_NAME][test] = _logistic_baseline(
            frames.iloc[train], data.labels.iloc[train], frames.iloc[test], list(face.blendshape_names), random_state
        )
        _say(f"fold {k}/{n_folds}: {BASELINE_NAME:<23} trained", start, stream)
    table = pd.DataFrame(
        {name: au_f1_scores(data.labels, pd.DataFrame(p, columns=data.labels.columns)) for name, p in predictions.items()}
    ).T
    table["mean"] = table.mean(axis=1)

    files = [out / "table1.csv", out / "results.json"]
    with atomic_write(files[0], "w", newline="") as handle:
        table.to_csv(handle)
    summary = {"f1": table.round(4).to_dict(orient="index"), "image_weights": weights, "n_frames": len(frames)}
    _say(f"table written to {files[0]}; drawing the plots", start, stream)
    files += _plots(out, face, data, frames, folds[0], table, max_epochs, random_state, start, stream)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    with atomic_write(files[1], "w") as handle:
        json.dump(summary, handle, indent=2)
    return {"table": table, "seconds": summary["seconds"], "image_weights": weights, "files": [str(f) for f in files]}


def _save(figure, path):
    import matplotlib.pyplot as plt

    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def _plots(out, face, data, frames, fold, table, max_epochs, random_state, start, stream):
    from .plotting import plot_au_f1, plot_forces_and_labels

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        _say("matplotlib not installed: no plots (pip install 'skbiomech[plot]')", start, stream)
        return []
    files = []
    ax = plot_au_f1(table, title="Per-AU F1, 3-fold subject-independent CV (synthetic benchmark)")
    ax.figure.tight_layout()
    files.append(out / "f1_per_au.png")
    _save(ax.figure, files[-1])

    # Figure 4: estimated forces of AU12's muscles against its labels on a test sequence.
    train, test = fold
    physics = BlendshapeODEForceEstimator(face, max_epochs=max_epochs, random_state=random_state)
    physics.fit(data.frames.iloc[train].drop(columns="image"), data.labels.iloc[train])
    test_frames = data.frames.iloc[test]
    first = (test_frames["subject"] == test_frames["subject"].iloc[0]) & (test_frames["sequence"] == test_frames["sequence"].iloc[0])
    sequence = test_frames[first].drop(columns="image")
    forces = pd.DataFrame(physics.transform(sequence), columns=physics.get_feature_names_out())
    muscles = [f"force_{m}" for m in face.au_muscles["AU12"]]
    ax = plot_forces_and_labels(
        forces[muscles], data.labels.loc[sequence.index, "AU12"], title="AU12: estimated forces vs labels"
    )
    ax.figure.tight_layout()
    files.append(out / "forces_au12.png")
    _save(ax.figure, files[-1])
    _say(f"plots written to {out}", start, stream)
    return files
