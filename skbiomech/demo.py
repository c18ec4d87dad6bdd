"""``skbiomech demo``: the paper's Table 1 on the embedded synthetic benchmark.

Three-fold subject-grouped cross-validation of the full model and its
baselines (geometry, force, position, physics, image, physics + image) on
the physically simulated AU benchmark, a per-AU F1 table printed like the
paper's, and plots written to a folder.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from ._io import atomic_write
from .datasets import make_synthetic_au_dataset
from .estimators import BiomechAUClassifier, BlendshapeODEForceEstimator, ImageFeatureTransformer
from .face import default_face_model
from .metrics import au_f1_scores

__all__ = ["TABLE1_SETTINGS", "run_demo", "format_table"]

#: The rows of the paper's Table 1 as ``BiomechAUClassifier(inputs=...)`` settings.
TABLE1_SETTINGS = {
    "geometry": ("geometry",),
    "force": ("force",),
    "position": ("position",),
    "physics": ("force", "position"),
    "image": ("image",),
    "physics+image": ("force", "position", "image"),
}


def _say(message, start, stream):
    print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=stream, flush=True)


def _image_features(frames, backbone, image_size, random_state, start, stream):
    """Frozen backbone features; ImageNet weights when available, random ones offline."""
    try:
        transformer = ImageFeatureTransformer(backbone, image_size=image_size, random_state=random_state)
        with contextlib.redirect_stdout(stream):  # torch.hub announces downloads on stdout
            transformer.fit(frames)
        weights = "ImageNet"
    except OSError as exc:
        _say(f"ImageNet weights unavailable ({str(exc).splitlines()[0][:80]}...); using random weights", start, stream)
        transformer = ImageFeatureTransformer(backbone, weights=None, image_size=image_size, random_state=random_state)
        transformer.fit(frames)
        weights = "random (offline)"
    return transformer.transform(frames), weights


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
        ``table`` (DataFrame of F1 per model and AU, with ``mean``),
        ``seconds``, ``image_weights`` and ``files`` written.
    """
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    face = default_face_model()
    data = make_synthetic_au_dataset(
        n_subjects=n_subjects, n_sequences=3, sequence_length=sequence_length, face=face,
        images="memory", image_size=image_size, random_state=random_state,
    )  # fmt: skip
    _say(f"synthetic benchmark: {len(data.frames)} frames, {n_subjects} subjects, {len(data.labels.columns)} AUs", start, stream)
    frames, weights = _image_features(data.frames, backbone, image_size, random_state, start, stream)
    _say(f"image features: {backbone}, {weights} weights", start, stream)

    predictions = {name: np.zeros(data.labels.shape) for name in TABLE1_SETTINGS}
    folds = list(GroupKFold(n_splits=n_folds).split(frames, groups=data.groups))
    for k, (train, test) in enumerate(folds, 1):
        for name, inputs in TABLE1_SETTINGS.items():
            model = BiomechAUClassifier(
                face, inputs=inputs, max_epochs=max_epochs, threshold="tune", random_state=random_state
            )
            model.fit(frames.iloc[train], data.labels.iloc[train])
            predictions[name][test] = model.predict(frames.iloc[test])
            _say(f"fold {k}/{n_folds}: {name:<14} trained", start, stream)
    table = pd.DataFrame(
        {name: au_f1_scores(data.labels, pd.DataFrame(p, columns=data.labels.columns)) for name, p in predictions.items()}
    ).T
    table["mean"] = table.mean(axis=1)

    files = [out / "table1.csv", out / "results.json"]
    with atomic_write(files[0], "w", newline="") as handle:
        table.to_csv(handle)
    summary = {"f1": table.round(4).to_dict(orient="index"), "image_weights": weights, "n_frames": len(frames)}
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
