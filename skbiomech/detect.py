"""AUs, muscle activations and head pose from face videos, in OpenFace's CSV layout.

:func:`detect` (and ``skbiomech detect`` on the command line) runs the video
front end (:class:`~skbiomech.video.FaceTracker`) on each input, inverts the
face model's physics to get muscle activations from the coefficient
trajectories (:func:`~skbiomech.physics.invert_activations`, no training),
reads each AU's intensity off the muscles FACS ties to it, decides each AU's
occurrence (by default with the shipped detector,
:func:`~skbiomech.pretrained.load_au_detector`), and writes one CSV per
input in OpenFace 2.0's layout, readable by
:func:`~skbiomech.datasets.read_openface_csv` and by tools that read
OpenFace output.
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["detect", "openface_table", "physics_activations", "DETECTORS", "VIDEO_SUFFIXES"]

DETECTORS = ("learned", "physics")

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
_DEFAULT_FPS = 30.0


def _expand(inputs):
    """Input paths: a folder holding videos stands for its videos; any other folder is one sequence."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    expanded = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
            expanded.extend(videos if videos else [path])
        else:
            expanded.append(path)
    if not expanded:
        raise ValueError("detect got no input: give videos, images or folders.")
    return expanded


def _output_name(path, taken):
    stem = path.stem if path.suffix else path.name
    name, k = stem, 1
    while name in taken:  # two inputs named alike (a/clip.mp4, b/clip.mp4)
        k += 1
        name = f"{stem}_{k}"
    taken.add(name)
    return f"{name}.csv"


def _frame_rate(frames):
    steps = np.diff(frames["time"].to_numpy(dtype=float))
    steps = steps[np.isfinite(steps) & (steps > 0)]
    return float(1.0 / np.median(steps)) if len(steps) else _DEFAULT_FPS


def openface_table(frames, activations, intensities, presence, *, muscle_names, blendshape_names):
    """The OpenFace 2.0 layout of one input's results.

    Columns: ``frame``, ``face_id`` (0), ``timestamp`` (s), ``confidence``
    (1 when the face was tracked, 0 otherwise: MediaPipe reports no
    per-face confidence), ``success``, ``pose_Tx``, ``pose_Ty``, ``pose_Tz``
    (mm, as OpenFace), ``pose_Rx``, ``pose_Ry``, ``pose_Rz`` (radians, as
    OpenFace), ``AUxx_r`` (0-5), ``AUxx_c`` (0/1), then ``force_<muscle>``
    activations and the blendshape coefficients. Frames without a face have
    empty fields but for frame, timestamp and success.

    Parameters
    ----------
    frames : DataFrame
        One sequence's rows of :meth:`FaceTracker.transform`.
    activations : ndarray of shape (T, M)
    intensities, presence : DataFrame of shape (T, A)
        AU columns named ``AU01``, ...
    muscle_names, blendshape_names : list of str

    Returns
    -------
    table : DataFrame
    """
    success = frames["success"].to_numpy(dtype=bool)
    time = frames["time"].to_numpy(dtype=float)
    columns = {
        "frame": frames["frame"].to_numpy(dtype=np.int64),
        "face_id": np.zeros(len(frames), dtype=np.int64),
        "timestamp": np.where(np.isfinite(time), time, frames["frame"].to_numpy() / _DEFAULT_FPS),
        "confidence": success.astype(float),
        "success": success.astype(int),
    }
    columns.update({f"pose_T{a}": 10.0 * frames[f"pose_T{a}"].to_numpy(dtype=float) for a in "xyz"})  # cm -> mm
    columns.update({f"pose_R{a}": np.deg2rad(frames[f"pose_R{a}"].to_numpy(dtype=float)) for a in "xyz"})
    columns.update({f"{au}_r": intensities[au].to_numpy(dtype=float) for au in intensities.columns})
    for au in presence.columns:
        values = presence[au].to_numpy(dtype=float)
        columns[f"{au}_c"] = pd.array(np.where(np.isnan(values), None, values), "Int64")
    out = pd.DataFrame(columns)
    forces = pd.DataFrame(activations, columns=[f"force_{m}" for m in muscle_names])
    coefficients = frames[list(blendshape_names)].reset_index(drop=True)
    return pd.concat([out, forces, coefficients], axis=1)


def physics_activations(coefficients, reduced, names, dt, *, smoothness):
    """Muscle activations (T, M) of one sequence's coefficients (T, K) by the physics inverse.

    Gaze (``eyeLook*``) is neither a face muscle's doing nor to be
    explained by one: it is zeroed and weighted out of the fit. NaN rows
    (failed frames) stay NaN.

    Parameters
    ----------
    coefficients : array-like of shape (T, K)
    reduced : ReducedModel
        From :func:`~skbiomech.physics.reduce_face_model`.
    names : sequence of str of length K
        The blendshape names (to find the gaze shapes).
    dt : float
        Frame interval (s).
    smoothness : float
        As for :func:`~skbiomech.physics.invert_activations`.

    Returns
    -------
    activations : ndarray of shape (T, M)

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.detect import physics_activations
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import reduce_face_model
    >>> face = default_face_model(resolution=21)
    >>> c = np.zeros((10, face.n_blendshapes))
    >>> physics_activations(c, reduce_face_model(face), face.blendshape_names, 1 / 30, smoothness=0.03).shape
    (10, 37)
    """
    from .physics import invert_activations
    from .video._correspondence import gaze_mask

    gaze = gaze_mask(names)
    coefficients = np.array(coefficients, dtype=float)  # a writable copy
    coefficients[:, gaze] = np.where(np.isnan(coefficients[:, gaze]), np.nan, 0.0)
    return invert_activations(coefficients, reduced, dt, smoothness=smoothness, shape_weights=(~gaze).astype(float))


def _detect_one(path, target, tracker, reduced, config):
    """Track, invert and write one input; returns its table."""
    from .datasets._openface import write_table
    from .physics import au_intensities, au_presence
    from .video._correspondence import gaze_mask

    frames = tracker.transform(path).reset_index(drop=True)
    face = tracker.face_
    coefficients = np.array(frames[tracker.blendshape_names_], dtype=float)  # a writable copy
    coefficients[~frames["success"].to_numpy(dtype=bool)] = np.nan
    dt = 1.0 / (config["fps"] or _frame_rate(frames))
    activations = physics_activations(
        coefficients, reduced, tracker.blendshape_names_, dt, smoothness=config["smoothness"]
    )
    intensities = au_intensities(
        pd.DataFrame(activations, columns=face.muscle_names), face, aus=config["aus"]
    )
    classifier = config["classifier"]
    if classifier is None:
        presence = au_presence(intensities, threshold=config["threshold"])
    else:
        # The shipped detector was trained with gaze at zero, as the inverse leaves it out.
        observed = frames.copy()
        gaze_columns = list(np.asarray(tracker.blendshape_names_)[gaze_mask(tracker.blendshape_names_)])
        observed[gaze_columns] = observed[gaze_columns].where(observed[gaze_columns].isna(), 0.0)
        predicted = np.asarray(classifier.predict(observed), dtype=float)
        columns = [classifier.aus_.index(au) for au in intensities.columns]
        presence = pd.DataFrame(predicted[:, columns], columns=intensities.columns)
    table = openface_table(
        frames, activations, intensities, presence,
        muscle_names=face.muscle_names, blendshape_names=tracker.blendshape_names_,
    )  # fmt: skip
    if target is not None:
        write_table(target, table)
        if config["plot"]:
            from .plotting import plot_detection

            plot_detection(table, face, path=target.with_suffix(".png"), title=Path(path).name)
    return table


def _resolve_detector(detector, face):
    """The occurrence classifier for ``detector`` (None for the physics threshold)."""
    if isinstance(detector, str):
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS} or a fitted BiomechAUClassifier; got {detector!r}.")
        if detector == "physics":
            return None
        from .pretrained import load_au_detector

        try:
            return load_au_detector(face)
        except ValueError as exc:  # another face (or a damaged installation): say what to do instead
            raise ValueError(
                f"The shipped detector, trained on FaceTracker's ICT-FaceKit face, cannot run on the tracker's "
                f"face {face.name!r}: {exc} Use detector='physics' with this face, or pass a classifier "
                "trained on it."
            ) from None
    if not (hasattr(detector, "predict") and hasattr(detector, "aus_")):
        raise TypeError(
            f"detector must be 'learned', 'physics' or a fitted BiomechAUClassifier; got {type(detector).__name__}."
        )
    face_ = getattr(detector, "face_", None)
    if face_ is not None and face_.fingerprint != face.fingerprint:
        raise ValueError(
            f"The detector was trained on the face {face_.name!r}, not on the tracker's face {face.name!r} "
            "(their fingerprints differ): train it on FaceTracker().fit().face_."
        )
    return detector


def _learned_aus(aus, classifier):
    from .face import au_name

    covered = list(classifier.aus_)
    if aus is None:
        return covered
    aus = [au_name(au) for au in aus]
    missing = [au for au in aus if au not in covered]
    if missing:
        raise ValueError(
            f"The detector does not cover {missing}; it covers {covered}. Use detector='physics' for every "
            "AU the face's muscles cover."
        )
    return aus


def detect(
    inputs,
    out_dir=None,
    *,
    tracker=None,
    detector="learned",
    aus=None,
    threshold=1.0,
    smoothness=0.03,
    fps=None,
    plot=False,
    overwrite=False,
    on_error="warn",
    n_jobs=None,
    verbose=0,
):
    """AU intensities and occurrences, muscle activations and head pose from face videos.

    Parameters
    ----------
    inputs : path or list of paths
        Videos, images, folders of frame images (one sequence each) or
        folders of videos (each video an input).
    out_dir : path-like, default=None
        Where one CSV per input is written (OpenFace 2.0 layout, see
        :func:`openface_table`), named after the input; ``None`` writes
        nothing. Files are written atomically, so an existing CSV is
        complete: it is read back instead of recomputed unless
        ``overwrite``.
    tracker : FaceTracker, default=None
        The video front end (``None``: ``FaceTracker()``, the ICT-FaceKit
        landmark fit); fitted here if it is not.
    detector : {"learned", "physics"} or BiomechAUClassifier, default="learned"
        What decides each AU's occurrence (``AUxx_c``); intensities
        (``AUxx_r``) and the ``force_*`` columns always come from the physics
        inverse. ``"learned"``: the shipped detector
        (:func:`~skbiomech.pretrained.load_au_detector`, 16 of OpenFace's AUs),
        trained on simulated faces observed as the tracker observes real
        ones, so it discounts what the landmark fit reads on a neutral face
        (on held-out simulated subjects mean F1 0.93 against 0.69 for the
        physics threshold; see :func:`~skbiomech.pretrained.detector_report`).
        ``"physics"``: ``AUxx_r >= threshold``, for every AU the muscles
        cover, and for face models other than ICT-FaceKit's. A fitted
        classifier of your own serves too (trained on the tracker's face).
    aus : sequence of str, default=None
        AUs to report (``None``: every AU the detector covers: the shipped
        detector's 16, or every AU the face model's muscles cover).
    threshold : float, default=1.0
        With ``detector="physics"``: ``AUxx_c = AUxx_r >= threshold`` on
        the 0-5 scale (FACS's "A", a trace, is about 1).
    smoothness : float, default=0.03
        Temporal regularization of the activations, in seconds: roughly
        the time scale below which activation changes are smoothed away
        (:func:`~skbiomech.physics.invert_activations`). Gaze (the
        ``eyeLook*`` shapes) is left out of the inverse: the eyeballs turn
        by muscles the face model does not have.
    fps : float, default=None
        Frame rate for the physics (``None``: the video's own timestamps,
        else 30).
    plot : bool, default=False
        Also write, per input, ``<name>.png``: AU intensities and muscle
        activations over time, and the activations on the face mesh at the
        frame of strongest activation.
    overwrite : bool, default=False
    on_error : {"warn", "raise"}, default="warn"
        ``"warn"``: an input that cannot be read gives a warning and the
        others go on; the finished CSVs are kept.
    n_jobs : int, default=None
        Inputs processed in parallel (joblib; a Dask cluster serves too,
        through ``joblib.parallel_config(backend="dask")``).
    verbose : int, default=0
        A progress bar over inputs.

    Returns
    -------
    results : DataFrame
        The rows of every input, with an ``input`` column (the path) first;
        ``results.attrs["errors"]`` maps each failed input to its error.

    Examples
    --------
    >>> from skbiomech.detect import detect  # doctest: +SKIP
    >>> results = detect(["interview.mp4"], "au-out", plot=True)  # doctest: +SKIP
    >>> physics_only = detect(["interview.mp4"], detector="physics")  # doctest: +SKIP
    >>> results[["timestamp", "AU12_r", "AU12_c", "force_zygomaticus_major_L"]].head()  # doctest: +SKIP
    """
    from joblib import Parallel, delayed

    from .physics import reduce_face_model
    from .video import FaceTracker, VideoReadError

    if on_error not in ("warn", "raise"):
        raise ValueError(f"on_error must be 'warn' or 'raise'; got {on_error!r}.")
    if not isinstance(threshold, numbers.Real) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number on the 0-5 scale; got {threshold!r}.")
    paths = _expand(inputs)
    tracker = FaceTracker() if tracker is None else tracker
    if not hasattr(tracker, "face_"):
        tracker.fit()
    reduced = reduce_face_model(tracker.face_)
    classifier = _resolve_detector(detector, tracker.face_)
    if classifier is not None:
        aus = _learned_aus(aus, classifier)
    config = dict(
        aus=aus, threshold=float(threshold), smoothness=float(smoothness), fps=fps, plot=bool(plot), classifier=classifier
    )
    folder = None if out_dir is None else Path(out_dir).expanduser()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        inside = [p for p in paths if p.is_dir() and (folder.resolve() == p.resolve() or p.resolve() in folder.resolve().parents)]
        if inside:
            raise ValueError(f"out_dir {folder} lies inside the input folder {inside[0]}: write the results elsewhere.")
    taken, jobs, tables, errors = set(), [], {}, {}
    for path in paths:
        target = None if folder is None else folder / _output_name(path, taken)
        if target is not None and target.is_file() and not overwrite:
            tables[path] = pd.read_csv(target, skipinitialspace=True)
            continue
        jobs.append((path, target))

    def run(path, target):
        try:
            return path, _detect_one(path, target, tracker, reduced, config), None
        except (OSError, VideoReadError) as exc:  # unreadable input; anything else is a bug to see
            if on_error == "raise":
                raise
            return path, None, f"{type(exc).__name__}: {exc}"

    bar = None
    if verbose and jobs:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), unit="input", desc="skbiomech detect")
    for path, table, error in Parallel(n_jobs=n_jobs or 1, return_as="generator")(delayed(run)(*job) for job in jobs):
        if error is None:
            tables[path] = table
        else:
            errors[str(path)] = error
            warnings.warn(f"skbiomech detect skipped {path}: {error}", UserWarning, stacklevel=2)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    ordered = [pd.concat([pd.DataFrame({"input": [str(p)] * len(tables[p])}), tables[p]], axis=1) for p in paths if p in tables]
    results = pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame()
    results.attrs["errors"] = errors
    return results
