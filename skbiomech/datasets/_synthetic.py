"""The physically simulated AU benchmark: the library's embedded default data.

No real AU dataset has ground-truth muscle forces; this one does. Subjects
with their own tissue, strength, expressiveness and coding threshold perform
sequences in which AU events (onset, apex, offset; 0.3-3 s; overlapping and
co-occurring as in real data) drive the muscles that FACS ties to them. The
face is simulated physically, blendshape coefficients are observed with
reconstruction noise and rigid-alignment error, and AUs are coded present
where their intensity exceeds the subject's threshold.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

from ..face import BP4D_AUS, DISFA_AUS, au_name, default_face_model, project_to_blendshapes
from ..face._model import FaceModel
from ..physics import reduce_face_model, rollout, simulate_cartesian
from ._events import BASE_RATES, DISFA_BASE_RATES, au_intensities, plan_event_rates
from ._images import render_dataset_images

__all__ = ["make_synthetic_au_dataset", "subject_face_model"]

_AU_SETS = {"bp4d": BP4D_AUS, "disfa": DISFA_AUS}
_SIMULATORS = ("reduced", "cartesian")
_POSE_COLUMNS = ("pose_Rx", "pose_Ry", "pose_Rz", "pose_Tx", "pose_Ty", "pose_Tz")

_DESCR = """\
Synthetic AU benchmark (skbiomech)
----------------------------------
Physically simulated facial expressions with ground-truth muscle forces.

{n_subjects} subjects x {n_sequences} sequences, {n_frames} frames at {fps:g} fps on the
face model {face!r} ({n_blendshapes} blendshapes, {n_muscles} muscles), simulated
with the {simulator} model. AUs: {aus}.

Each subject has its own tissue mass, stiffness and damping, muscle
strengths, left/right asymmetry, expressiveness and AU coding threshold.
AU events (0.3-3 s, raised-cosine onset and offset) arrive as Poisson
streams whose rates give base rates like BP4D's, with composite expressions
for realistic co-occurrence (AU6+AU12, AU1+AU2, AU4+AU7, AU17+AU24,
AU23+AU24). Coefficients carry reconstruction noise (mean std {coefficient_noise:g}) and
the residual of a rigid alignment of small head motion; labels may carry
frame-level noise (rate {label_noise:g}).

Attributes: frames (the frame table), labels (0/1 per AU), groups (subject
per frame), forces (true muscle activations), intensities (AU intensities),
poses (rigid head motion, radians and cm), subjects (per-subject
parameters), face (the FaceModel), DESCR.
"""


def _resolve_aus(aus, face):
    if isinstance(aus, str):
        if aus.lower() not in _AU_SETS:
            raise ValueError(f"aus must be 'bp4d', 'disfa' or a list of AUs; got {aus!r}.")
        aus = _AU_SETS[aus.lower()]
    aus = [au_name(au) for au in aus]
    if not aus or len(set(aus)) != len(aus):
        raise ValueError(f"aus must be a non-empty list of distinct AUs; got {aus}.")
    missing = [au for au in aus if au not in face.au_muscles]
    if missing:
        raise ValueError(f"The face model {face.name!r} does not model {missing}; it models {list(face.aus)}.")
    return aus


def _draw_subject(rng, face):
    """Per-subject physiology and coding habits."""
    sides = np.array([1.0 + (0.08 if n.endswith("_L") else -0.08 if n.endswith("_R") else 0.0) for n in face.muscle_names])
    asymmetry = rng.normal(0.0, 1.0)
    return {
        "mass_scale": float(rng.lognormal(0.0, 0.15)),
        "stiffness_scale": float(rng.lognormal(0.0, 0.2)),
        "damping_scale": float(rng.lognormal(0.0, 0.2)),
        "muscle_strength": rng.lognormal(0.0, 0.12, face.n_muscles) * (1.0 + (sides - 1.0) * asymmetry),
        "expressiveness": float(rng.uniform(0.8, 1.2)),
        "threshold": float(rng.uniform(0.15, 0.30)),
        "skin_tone": rng.uniform([0.45, 0.30, 0.22], [0.95, 0.78, 0.66]),
        "light_direction": np.array([rng.uniform(-0.5, 0.5), rng.uniform(0.0, 0.6), 1.0]),
        "ambient": float(rng.uniform(0.25, 0.45)),
        "identity_seed": int(rng.integers(2**31)),
    }


def subject_face_model(face, mass_scale=1.0, stiffness_scale=1.0, damping_scale=1.0, muscle_strength=None):
    """``face`` with a subject's tissue and strength: what the Cartesian simulator runs.

    Masses scale by ``mass_scale``, every stiffness by ``stiffness_scale``,
    the Rayleigh coefficients by ``damping_scale`` and each muscle's column
    of the distribution matrix by its ``muscle_strength``; the lines of
    action (anchors, explicit directions) are kept. Its reduced model
    is the base reduced model scaled the same way.
    """
    strength = np.ones(face.n_muscles) if muscle_strength is None else np.asarray(muscle_strength)
    alpha, beta = face.damping
    return FaceModel(
        face.vertices, face.triangles, face.blendshapes, face.blendshape_names,
        face.masses * mass_scale, face.spring_edges, face.spring_stiffness * stiffness_scale,
        face.bending_rigidity * stiffness_scale, face.attachment_stiffness * stiffness_scale,
        face.muscle_names, face.distribution * strength[None, :], face.muscle_kinds,
        face.muscle_anchors, face.au_muscles, muscle_directions=face.explicit_directions,
        damping=(alpha * damping_scale, beta * damping_scale),
        vertex_regions=face.vertex_regions, region_names=face.region_names,
        name=face.name, notice=face.notice,
    )  # fmt: skip


def _muscle_activations(face, aus, intensity):
    """(T, M) activations: each muscle follows the strongest AU that uses it."""
    activation = np.zeros((len(intensity), face.n_muscles))
    for j, au in enumerate(aus):
        for m in face.au_muscle_indices(au):
            activation[:, m] = np.maximum(activation[:, m], intensity[:, j])
    return activation


def _smooth_noise(rng, n_frames, n_channels, fps, scale, seconds=1.0):
    """Low-pass Gaussian noise (T, C) with correlation time about ``seconds``."""
    kernel_width = max(1, int(seconds * fps))
    white = rng.normal(size=(n_frames + 2 * kernel_width, n_channels))
    kernel = np.hanning(2 * kernel_width + 1)
    kernel /= np.sqrt(np.sum(kernel**2))
    smooth = np.apply_along_axis(lambda x: np.convolve(x, kernel, mode="same"), 0, white)
    return scale * smooth[kernel_width : kernel_width + n_frames]


@contextmanager
def _torch_threads(n):
    """Run torch on ``n`` threads: its idle OpenMP workers otherwise spin and
    slow the NumPy work between the many small rollouts about five-fold."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _simulate_reduced(reduced, rayleigh, subject, activations, fps):
    """Coefficient trajectories of one subject's sequences, batched in torch.

    The subject's matrices are the base ones scaled exactly as
    :func:`subject_face_model` scales the face, without re-reducing it.
    """
    alpha, beta = rayleigh
    m, k, d = subject["mass_scale"], subject["stiffness_scale"], subject["damping_scale"]
    mass = torch.as_tensor(m * reduced.mass)
    stiffness = torch.as_tensor(k * reduced.stiffness)
    damping = torch.as_tensor(d * (alpha * m * reduced.mass + beta * k * reduced.stiffness))
    longest = max(len(a) for a in activations)
    padded = np.zeros((len(activations), longest, reduced.n_muscles))
    for i, a in enumerate(activations):
        padded[i, : len(a)] = a  # zero forces after the end never reach earlier frames
    forces = torch.as_tensor(padded * subject["muscle_strength"]) @ torch.as_tensor(reduced.force_activation).T
    # Clips may open mid-expression: start each at rest in equilibrium with its first forces.
    start = torch.linalg.solve(stiffness, forces[:, 0].T).T
    initial = torch.cat([start, torch.zeros_like(start)], dim=1)
    with torch.no_grad(), _torch_threads(1):
        c = rollout(forces, mass, stiffness, damping, 1.0 / fps, initial_state=initial).numpy()
    return [c[i, : len(a)] for i, a in enumerate(activations)]


def _per_shape(value, name, face):
    """A non-negative scale, one for all blendshapes or one per blendshape, as (K,) or a float."""
    values = np.asarray(value, dtype=float)
    if values.ndim == 0:
        values = np.full(face.n_blendshapes, float(values))
    if values.shape != (face.n_blendshapes,) or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"{name} must be a number >= 0 or one such number per blendshape ({face.n_blendshapes} for "
            f"{face.name!r}); got {value!r}."
        )
    return values


def _check_options(n_subjects, n_sequences, sequence_length, fps, label_noise, head_motion, simulator):
    def count(value, name):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")

    count(n_subjects, "n_subjects")
    count(n_sequences, "n_sequences")
    lengths = (sequence_length, sequence_length) if isinstance(sequence_length, numbers.Integral) else tuple(sequence_length)
    if len(lengths) != 2 or any(isinstance(x, bool) or not isinstance(x, numbers.Integral) for x in lengths) or not 2 <= lengths[0] <= lengths[1]:
        raise ValueError(f"sequence_length must be an int >= 2 or a (min, max) pair; got {sequence_length!r}.")
    if not 1 <= fps <= 240:
        raise ValueError(f"fps must be a frame rate between 1 and 240; got {fps!r}.")
    if not head_motion >= 0:
        raise ValueError(f"head_motion must be >= 0; got {head_motion!r}.")
    if not 0 <= label_noise < 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5); got {label_noise!r}.")
    if simulator not in _SIMULATORS:
        raise ValueError(f"simulator must be one of {_SIMULATORS}; got {simulator!r}.")
    return lengths


def make_synthetic_au_dataset(
    n_subjects=12,
    *,
    n_sequences=4,
    sequence_length=(200, 400),
    fps=25.0,
    aus="bp4d",
    face=None,
    simulator="reduced",
    coefficient_noise=0.02,
    subject_offset=0.0,
    head_motion=1.0,
    label_noise=0.0,
    base_rates=None,
    images=None,
    image_size=112,
    random_state=None,
):
    """Generate the physically simulated AU benchmark.

    Parameters
    ----------
    n_subjects : int, default=12
    n_sequences : int, default=4
        Sequences ("tasks") per subject, named ``T1``, ``T2``, ...
    sequence_length : int or (int, int), default=(200, 400)
        Frames per sequence, or the range each sequence's length is drawn from.
        ``n_subjects=41, n_sequences=8, sequence_length=(400, 490)`` is about
        BP4D's size (146k frames).
    fps : float, default=25.0
    aus : {"bp4d", "disfa"} or list of str, default="bp4d"
        The 12 BP4D AUs, the 8 DISFA AUs, or any AUs the face models.
    face : FaceModel, default=None
        The default face model (resolution 51) when ``None``; any model works,
        ICT-FaceKit's included.
    simulator : {"reduced", "cartesian"}, default="reduced"
        The reduced elastic model (fast) or the full nonlinear spring-mass
        simulation (slow: about 0.1 s per frame on the default face).
    coefficient_noise : float or array-like of shape (n_blendshapes,), default=0.02
        Standard deviation of the 3D-reconstruction noise added to the
        observed coefficients (one for all blendshapes, or one each).
    subject_offset : float or array-like of shape (n_blendshapes,), default=0.0
        Standard deviation of a static per-subject offset of the observed
        coefficients: what a landmark fit reads as expression on a person's
        neutral face (their identity, as the tracker sees it). Each
        subject's offset is drawn once, from a stream of its own, so the
        rest of the data is the same as without it.
    head_motion : float, default=1.0
        Scale of the small rigid head motion (1.0: about 2 degrees and 2 mm);
        5% of it leaks into the coefficients as rigid-alignment error.
    label_noise : float, default=0.0
        Probability of flipping each frame's label.
    base_rates : dict of str to float, default=None
        Target fraction of frames in which each AU is present. ``None``
        takes DISFA's approximate rates for ``aus="disfa"`` and BP4D's
        otherwise (0.1 for AUs neither lists).
    images : None, "memory" or path-like, default=None
        No images; HxWx3 uint8 arrays in the ``image`` column; or PNG files
        written into this cache folder (its ``image`` column holds the paths).
    image_size : int, default=112
    random_state : int, numpy.random.Generator or None, default=None

    Returns
    -------
    data : sklearn.utils.Bunch
        ``frames`` (frame table: ``subject``, ``sequence``, ``frame``, one
        column per blendshape, and ``image`` when asked), ``labels`` (AU
        columns, 1.0/0.0), ``groups`` (subject per frame), ``forces`` (true
        muscle activations, one column per muscle), ``intensities`` (AU
        intensities before thresholding), ``poses`` (rigid head motion),
        ``subjects`` (per-subject parameters), ``face`` and ``DESCR``. All
        tables share one index.

    Examples
    --------
    >>> from skbiomech.datasets import make_synthetic_au_dataset
    >>> data = make_synthetic_au_dataset(n_subjects=3, n_sequences=2, sequence_length=50, random_state=0)
    >>> data.frames.shape[0], list(data.labels.columns[:3])
    (300, ['AU01', 'AU02', 'AU04'])
    >>> data.frames[["subject", "sequence", "frame"]].head(2)
      subject sequence  frame
    0     S01       T1      0
    1     S01       T1      1
    """
    lengths = _check_options(n_subjects, n_sequences, sequence_length, fps, label_noise, head_motion, simulator)
    if face is None:
        face = default_face_model()
    elif not isinstance(face, FaceModel):
        raise TypeError(f"face must be a FaceModel; got {type(face).__name__}.")
    noise = _per_shape(coefficient_noise, "coefficient_noise", face)
    offset_scale = _per_shape(subject_offset, "subject_offset", face)
    aus_option, aus = aus, _resolve_aus(aus, face)
    if images is not None and images != "memory" and not isinstance(images, (str, Path)):
        raise ValueError(f"images must be None, 'memory' or a folder path; got {images!r}.")
    seeds = np.random.SeedSequence(
        random_state.integers(2**32) if isinstance(random_state, np.random.Generator) else random_state
    )
    if base_rates is None:
        base_rates = DISFA_BASE_RATES if isinstance(aus_option, str) and aus_option.lower() == "disfa" else BASE_RATES
    single_rates, composite_rates = plan_event_rates(aus, base_rates)
    reduced = reduce_face_model(face)
    # Rigid motion as blendshape coefficients, for the alignment residual.
    centre = face.vertices.mean(axis=0)
    generators = np.stack(
        [np.cross(np.eye(3)[i], face.vertices - centre) for i in range(3)] + [np.broadcast_to(np.eye(3)[i], face.vertices.shape) for i in range(3)]
    )
    rigid_leak = 0.05 * project_to_blendshapes(face.vertices + generators, face)  # (6, K)

    tables, subject_rows = [], []
    for s, seed in enumerate(seeds.spawn(n_subjects)):
        rng = np.random.default_rng(seed)
        subject = _draw_subject(rng, face)
        offset = offset_scale * np.random.default_rng(seed.spawn(1)[0]).normal(size=face.n_blendshapes)
        name = f"S{s + 1:0{max(2, len(str(n_subjects)))}d}"
        n_frames = rng.integers(lengths[0], lengths[1] + 1, n_sequences)
        intensity = [
            au_intensities(rng, aus, n, fps, single_rates, composite_rates, subject["expressiveness"])
            for n in n_frames
        ]
        activations = [
            np.clip(_muscle_activations(face, aus, x) + _smooth_noise(rng, len(x), face.n_muscles, fps, 0.02), 0.0, None)
            for x in intensity
        ]
        if simulator == "reduced":
            trajectories = _simulate_reduced(reduced, face.damping, subject, activations, fps)
        else:
            subject_face = subject_face_model(
                face, subject["mass_scale"], subject["stiffness_scale"], subject["damping_scale"], subject["muscle_strength"]
            )
            trajectories = [
                project_to_blendshapes(simulate_cartesian(subject_face, a, 1 / fps, start="equilibrium"), face)
                for a in activations
            ]
        for q, (x, a, c) in enumerate(zip(intensity, activations, trajectories)):
            pose = _smooth_noise(rng, len(x), 6, fps, head_motion * np.array([0.035] * 3 + [0.2] * 3), seconds=2.0)
            observed = c + rng.normal(0.0, noise, c.shape) + pose @ rigid_leak + offset
            labels = (x >= subject["threshold"]).astype(float)
            if label_noise:
                flip = rng.random(labels.shape) < label_noise
                labels[flip] = 1.0 - labels[flip]
            tables.append((name, f"T{q + 1}", observed, labels, a, x, pose, c))
        subject_rows.append({"subject": name, **subject})

    meta = pd.DataFrame(
        {
            "subject": np.concatenate([[t[0]] * len(t[2]) for t in tables]),
            "sequence": np.concatenate([[t[1]] * len(t[2]) for t in tables]),
            "frame": np.concatenate([np.arange(len(t[2])) for t in tables]),
        }
    )
    frames = pd.concat(
        [meta, pd.DataFrame(np.concatenate([t[2] for t in tables]), columns=list(face.blendshape_names))], axis=1
    )
    subjects = pd.DataFrame(subject_rows).set_index("subject")
    if images is not None:
        frames["image"] = render_dataset_images(
            face, frames, np.concatenate([t[7] for t in tables]), np.concatenate([t[6] for t in tables]),
            subjects, size=image_size, folder=None if images == "memory" else Path(images),
        )  # fmt: skip
    return Bunch(
        frames=frames,
        labels=pd.DataFrame(np.concatenate([t[3] for t in tables]), columns=aus),
        groups=frames["subject"].to_numpy(),
        forces=pd.DataFrame(np.concatenate([t[4] for t in tables]), columns=list(face.muscle_names)),
        intensities=pd.DataFrame(np.concatenate([t[5] for t in tables]), columns=aus),
        poses=pd.DataFrame(np.concatenate([t[6] for t in tables]), columns=list(_POSE_COLUMNS)),
        subjects=subjects,
        face=face,
        DESCR=_DESCR.format(
            n_subjects=n_subjects, n_sequences=n_sequences, n_frames=len(frames), fps=fps, face=face.name,
            n_blendshapes=face.n_blendshapes, n_muscles=face.n_muscles, simulator=simulator,
            aus=", ".join(aus), coefficient_noise=float(noise.mean()), label_noise=label_noise,
        ),  # fmt: skip
    )
