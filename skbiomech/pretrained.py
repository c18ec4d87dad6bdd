"""The shipped AU detector: a :class:`BiomechAUClassifier` trained on simulated ICT-FaceKit faces.

No AU labels of real people are needed, nor licensed: the training data
is the library's physical simulation (:func:`make_synthetic_au_dataset`)
on the ICT-FaceKit face that :class:`~skbiomech.video.FaceTracker` fits,
observed as the front end observes a real face. What the front end
produces on real video was measured on the shared clip
(``scripts/measure_front_end.py``, stored in
``skbiomech/_data/front_end_statistics.json``): per-blendshape tracking
jitter, the coefficients it reads on a neutral face (browOuterUp 0.56,
mouthFrown 0.55: static offsets of the landmark fit; eyeSquint 0.36 from
MediaPipe's eyelid scores) and the magnitudes (a full smile gives mouthSmile 0.7; the fit is bounded to
[0, 1]). :func:`simulate_front_end` adds those to the simulation.

``scripts/build_detector.py`` trains the detector with
:func:`train_au_detector`, scores it and the physics inverse on held-out
simulated subjects with :func:`evaluate_detectors`, and writes the
weights-only file ``skbiomech/_data/ict_au_detector.pt`` and its report
``ict_au_detector.json``; :func:`load_au_detector` reads it back in one line.
"""

from __future__ import annotations

import json
import numbers
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "PRETRAINED_AUS",
    "detector_report",
    "evaluate_detectors",
    "front_end_statistics",
    "load_au_detector",
    "simulate_front_end",
    "train_au_detector",
]

# OpenFace 2.0's AUs that the ICT muscles model with muscles of their own
# (AU45, a blink, has none; AU16/AU22/AU24/AU27 share AU25's, AU23's and AU26's).
PRETRAINED_AUS = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10",
    "AU12", "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26",
)  # fmt: skip
# Simulated but not labelled: muscles of their own that real expressions recruit (AU11's
# zygomaticus minor raises the upper lip in broad smiles), which OpenFace does not code.
_UNLABELLED_AUS = ("AU11", "AU18")
WEIGHTS_FILE = "ict_au_detector.pt"
REPORT_FILE = "ict_au_detector.json"
_STATISTICS_FILE = "front_end_statistics.json"
_BUILD_SCRIPT = "scripts/build_detector.py"


def _data_file(name):
    return resources.files("skbiomech") / "_data" / name


def front_end_statistics():
    """What the video front end reads on a real face, per blendshape (measured; see the module notes).

    Returns
    -------
    statistics : dict
        ``blendshapes`` (names), ``noise`` (tracking jitter, std),
        ``neutral_offset`` (coefficients on a neutral face), ``p99``
        (99th percentiles), ``pose_std``, the ``videos`` measured and the
        ``face_fingerprint`` of the tracker's face.

    Examples
    --------
    >>> from skbiomech.pretrained import front_end_statistics
    >>> stats = front_end_statistics()
    >>> len(stats["noise"]) == len(stats["blendshapes"])
    True
    """
    return json.loads(_data_file(_STATISTICS_FILE).read_text(encoding="utf-8"))


def _slow_gain(rng, n_frames, seconds=1.0, fps=25.0, spread=0.5):
    """A gain around 1 that wanders over about ``seconds``, clipped to [0, 1.5]."""
    from .datasets._synthetic import _smooth_noise

    return np.clip(1.0 + _smooth_noise(rng, n_frames, 1, fps, spread, seconds=seconds)[:, 0], 0.0, 1.5)


def _blinks(rng, n_frames, fps=25.0, rate=0.25):
    """Blink pulses (raised cosines of 0.15-0.35 s, peaks 0.5-1) at about ``rate`` per second."""
    out = np.zeros(n_frames)
    for start in np.flatnonzero(rng.random(n_frames) < rate / fps):
        width = max(2, int(rng.uniform(0.15, 0.35) * fps))
        pulse = rng.uniform(0.5, 1.0) * np.hanning(width + 2)[1:-1]
        stop = min(n_frames, start + width)
        out[start:stop] = np.maximum(out[start:stop], pulse[: stop - start])
    return out


def simulate_front_end(
    face,
    n_subjects,
    *,
    n_sequences=4,
    sequence_length=(200, 400),
    fps=25.0,
    statistics=None,
    noise_margin=2.0,
    noise_floor=0.01,
    offset_spread=0.5,
    offset_floor=0.05,
    cheek_to_squint=0.5,
    random_state=None,
):
    """Simulated AU data on ``face``, observed as :class:`~skbiomech.video.FaceTracker` observes real faces.

    :func:`~skbiomech.datasets.make_synthetic_au_dataset` on ``face`` with
    the :data:`PRETRAINED_AUS`, then what the front end does to a real
    face: tracking jitter (the measured noise times ``noise_margin``, at
    least ``noise_floor``: the shared clip is one well-lit webcam face, and
    other cameras jitter more), the static coefficients the landmark fit
    reads on a neutral face (the measured offsets, varied per subject with
    a standard deviation of ``offset_spread`` times their size, at least
    ``offset_floor``, with a gain that wanders in [0, 1.5] over about a
    second), a raised cheek seen as a squint (``cheekSquint`` moved into
    ``eyeSquint`` times ``cheek_to_squint``: MediaPipe, which scores the
    eyelids, never scores the cheek), blinks (about one per 4 s, in
    ``eyeBlink``, unlabelled), gaze shapes zeroed (``skbiomech detect`` leaves
    gaze out), and coefficients clipped to [0, 1] as the fit bounds them.
    Labels, forces and intensities are the simulation's own.

    Parameters
    ----------
    face : FaceModel
        The tracker's face (``FaceTracker().fit().face_``): the statistics
        are per blendshape of it.
    n_subjects : int
    n_sequences : int, default=4
    sequence_length : int or (int, int), default=(200, 400)
    fps : float, default=25.0
        Frame rate of the simulation (the detector's ``fps``).
    statistics : dict, default=None
        :func:`front_end_statistics` when ``None``.
    noise_margin, noise_floor, offset_spread, offset_floor, cheek_to_squint : float
    random_state : int, numpy.random.Generator or None, default=None

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`~skbiomech.datasets.make_synthetic_au_dataset`, with
        ``fps`` added.
    """
    from .datasets import make_synthetic_au_dataset
    from .video._correspondence import gaze_mask

    stats = front_end_statistics() if statistics is None else statistics
    names = list(face.blendshape_names)
    if list(stats["blendshapes"]) != names:
        raise ValueError(
            f"The front-end statistics are per blendshape of another face ({len(stats['blendshapes'])} "
            f"blendshapes, {stats['blendshapes'][:3]}...) than {face.name!r} ({len(names)}): measure them "
            "on this face with scripts/measure_front_end.py."
        )
    for name, value in (("noise_margin", noise_margin), ("noise_floor", noise_floor),
                        ("offset_spread", offset_spread), ("offset_floor", offset_floor),
                        ("cheek_to_squint", cheek_to_squint)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0; got {value!r}.")
    bias = np.asarray(stats["neutral_offset"], dtype=float)
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**32))
    data = make_synthetic_au_dataset(
        n_subjects, n_sequences=n_sequences, sequence_length=sequence_length, fps=fps, face=face,
        aus=list(PRETRAINED_AUS) + [au for au in _UNLABELLED_AUS if au in face.au_muscles],
        coefficient_noise=np.maximum(noise_margin * np.asarray(stats["noise"], dtype=float), noise_floor),
        subject_offset=np.maximum(offset_spread * np.abs(bias), offset_floor), random_state=random_state,
    )  # fmt: skip
    # The fit's neutral-face offsets are no constant: on the shared clip they fade while the person
    # smiles (browOuterUp 0.6 -> 0.2, mouthFrown 0.5 -> 0.0). A slowly varying gain per frame in
    # [0, 1.5] keeps the detector from reading them, or their absence, as AUs.
    rng = np.random.default_rng(np.random.SeedSequence(random_state).spawn(1)[0])
    observed = np.array(data.frames[names], dtype=float)  # a writable copy
    gain = np.empty(len(data.frames))
    blinks = np.zeros(len(data.frames))
    for rows in data.frames.groupby(["subject", "sequence"], sort=False).indices.values():
        gain[rows] = _slow_gain(rng, len(rows), fps=fps)
        blinks[rows] = _blinks(rng, len(rows), fps=fps)
    index = {name: j for j, name in enumerate(names)}
    for side in ("_L", "_R"):
        cheek, squint, blink = (index.get(f"{shape}{side}") for shape in ("cheekSquint", "eyeSquint", "eyeBlink"))
        if cheek is not None and squint is not None:
            # MediaPipe never scores cheekSquint (0 on every shared face, the broad smile included) and
            # the fit loses it when smiling; a raised cheek narrows the eye, which MediaPipe scores as
            # eyeSquint (0.5 on the smiling photo).
            observed[:, squint] += cheek_to_squint * observed[:, cheek]
            observed[:, cheek] = rng.normal(0.0, noise_floor, len(observed))
        if blink is not None:
            observed[:, blink] += blinks  # no muscle of the face model blinks: a nuisance, unlabelled
    observed += gain[:, None] * bias
    observed[:, gaze_mask(names)] = 0.0
    data.labels = data.labels[list(PRETRAINED_AUS)]
    data.intensities = data.intensities[list(PRETRAINED_AUS)]
    data.frames[names] = np.clip(observed, 0.0, 1.0)
    data.fps = float(fps)
    return data


def train_au_detector(face, data, *, max_epochs=60, random_state=0, verbose=0, **params):
    """Fit the shipped detector's recipe on ``data`` (from :func:`simulate_front_end`).

    Parameters
    ----------
    face : FaceModel
    data : sklearn.utils.Bunch
    max_epochs : int, default=60
    random_state : int, default=0
    verbose : int, default=0
    **params
        Other :class:`BiomechAUClassifier` parameters (they override the recipe's).

    Returns
    -------
    classifier : BiomechAUClassifier
        Fitted; the physics setting (``inputs=("force", "position")``),
        subject-grouped validation with early stopping.
    """
    from .estimators import BiomechAUClassifier

    recipe = dict(
        fps=getattr(data, "fps", 25.0), inputs=("force", "position"), validation_fraction=0.15, early_stopping=8,
        lr_schedule="cosine", max_epochs=max_epochs, random_state=random_state, verbose=verbose, device="cpu",
    )  # fmt: skip
    recipe.update(params)
    return BiomechAUClassifier(face, **recipe).fit(data.frames, data.labels)


def _physics_activations(data, face, *, smoothness=0.03, fps=25.0):
    """The physics inverse on each sequence of ``data``, as :func:`skbiomech.detect.detect` runs it."""
    from .detect import physics_activations
    from .physics import reduce_face_model

    reduced = reduce_face_model(face)
    names = list(face.blendshape_names)
    coefficients = data.frames[names].to_numpy()
    activations = np.empty((len(data.frames), face.n_muscles))
    for rows in data.frames.groupby(["subject", "sequence"], sort=False).indices.values():
        activations[rows] = physics_activations(coefficients[rows], reduced, names, 1.0 / fps, smoothness=smoothness)
    return activations


def _force_recovery(true, estimated, min_std=0.02):
    """Pearson r per muscle over the muscles whose true activation varies."""
    r = {}
    for j, name in enumerate(true.columns):
        x, y = true.iloc[:, j].to_numpy(), estimated[:, j]
        if x.std() >= min_std and y.std() > 0:
            r[name] = float(np.corrcoef(x, y)[0, 1])
    return r


def evaluate_detectors(face, data, classifier=None, *, threshold=1.0, smoothness=0.03):
    """Per-AU F1 and force recovery of the physics inverse (and of ``classifier``) on ``data``.

    Parameters
    ----------
    face : FaceModel
    data : sklearn.utils.Bunch
        Held-out subjects from :func:`simulate_front_end` (other seed).
    classifier : BiomechAUClassifier, default=None
    threshold : float, default=1.0
        The physics detector's ``AUxx_c`` threshold on the 0-5 scale, as in
        :func:`skbiomech.detect.detect`.
    smoothness : float, default=0.03
    Returns
    -------
    report : dict
        Per detector (``"physics"``, ``"learned"``): ``f1`` (per AU),
        ``mean_f1``, ``force_r`` (per muscle whose true activation varies)
        and ``mean_force_r``.
    """
    from .metrics import au_f1_scores
    from .physics import au_intensities, au_presence

    aus = list(data.labels.columns)
    activations = _physics_activations(data, face, smoothness=smoothness, fps=getattr(data, "fps", 25.0))
    intensities = au_intensities(pd.DataFrame(activations, columns=face.muscle_names), face, aus=aus)
    predicted = {"physics": (au_presence(intensities, threshold=threshold).to_numpy(), activations)}
    if classifier is not None:
        forces = classifier.predict_forces(data.frames).to_numpy()
        predicted["learned"] = (classifier.predict(data.frames), forces)
    report = {}
    for name, (presence, forces) in predicted.items():
        f1 = au_f1_scores(data.labels, pd.DataFrame(presence, columns=aus))
        r = _force_recovery(data.forces, forces)
        report[name] = {
            "f1": {au: round(float(v), 4) for au, v in f1.items()},
            "mean_f1": round(float(f1.mean()), 4),
            "force_r": {m: round(v, 4) for m, v in r.items()},
            "mean_force_r": round(float(np.mean(list(r.values()))), 4) if r else float("nan"),
        }
    return report


def load_au_detector(face=None, *, device="cpu"):
    """The shipped AU detector, an ordinary fitted :class:`BiomechAUClassifier`.

    Trained by ``scripts/build_detector.py`` on simulated ICT-FaceKit
    subjects observed as the video front end observes real faces (see the
    module notes); its training data and held-out scores are in
    ``ict_au_detector.json`` beside the weights (:func:`detector_report`).

    Parameters
    ----------
    face : FaceModel, default=None
        The ICT-FaceKit face the detector was trained on (``None``: the one
        :class:`~skbiomech.video.FaceTracker` uses,
        :func:`~skbiomech.video.load_ict_face`, fetched and cached). Another
        face is refused: the weights store its fingerprint and its reduced
        physics (a face equal up to floating-point noise loads).
    device : str, default="cpu"

    Returns
    -------
    classifier : BiomechAUClassifier
        Fitted: ``predict``, ``predict_proba`` and ``predict_forces`` take
        :class:`~skbiomech.video.FaceTracker` frame tables. It was trained
        with the gaze shapes (``eyeLook*``) at zero: zero them first, as
        :func:`skbiomech.detect.detect` does.

    Examples
    --------
    >>> from skbiomech.pretrained import load_au_detector  # doctest: +SKIP
    >>> from skbiomech.video import FaceTracker  # doctest: +SKIP
    >>> frames = FaceTracker().fit_transform("interview.mp4")  # doctest: +SKIP
    >>> gaze = [name for name in frames.columns if name.startswith("eyeLook")]  # doctest: +SKIP
    >>> frames[gaze] = frames[gaze].where(frames[gaze].isna(), 0.0)  # doctest: +SKIP
    >>> detector = load_au_detector()  # doctest: +SKIP
    >>> detector.predict_proba(frames)[:, detector.aus_.index("AU12")]  # doctest: +SKIP
    """
    from .estimators import BiomechAUClassifier

    path = _data_file(WEIGHTS_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"The shipped AU detector {path} is missing from this installation of skbiomech; "
            f"build it with `python {_BUILD_SCRIPT}` from a source checkout, or reinstall skbiomech."
        )
    if face is None:
        from .video import load_ict_face

        face, _ = load_ict_face(n_identities=0)
    with resources.as_file(path) as local:
        return BiomechAUClassifier.load_weights(local, face=face, device=device)


def detector_report():
    """Training data and held-out scores of the shipped detector (``ict_au_detector.json``).

    Returns
    -------
    report : dict
    """
    path = _data_file(REPORT_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build the detector with `python {_BUILD_SCRIPT}`.")
    return json.loads(path.read_text(encoding="utf-8"))
