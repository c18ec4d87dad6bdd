"""The paper's Appendix B done right: the reduced model against the full simulation.

A face is driven by smooth AU-like muscle activations; the nonlinear
Cartesian simulation is projected onto the blendshapes and compared with
each reduced model driven by the same forces. Muscle activations are also
recovered from the simulated trajectory by inverting each model, and
correlated with the true ones (the paper could not measure this).
"""

from __future__ import annotations

import numpy as np
import torch

from ..face._projection import project_to_blendshapes
from ._cartesian import simulate_cartesian
from ._reduction import reduce_face_model
from ._rollout import rollout

__all__ = ["verification_activations", "verify_reduction"]

_SCENARIO = (
    # (muscle, onset s, duration s, peak activation): a smile, a brow raise, a jaw drop.
    ("zygomaticus_major_L", 0.10, 1.0, 0.7),
    ("zygomaticus_major_R", 0.15, 1.0, 0.6),
    ("orbicularis_oculi_orbitalis_L", 0.20, 0.8, 0.6),
    ("orbicularis_oculi_orbitalis_R", 0.25, 0.8, 0.6),
    ("frontalis_medialis_L", 0.50, 0.6, 0.8),
    ("frontalis_medialis_R", 0.50, 0.6, 0.8),
    ("jaw_depressor", 0.80, 0.9, 0.4),
    ("depressor_anguli_oris_L", 1.20, 0.5, 0.7),
)


def verification_activations(face, n_frames=60, dt=1 / 30, *, scale=1.0, random_state=None):
    """Smooth AU-like activation time courses (T, M): raised-cosine pulses.

    Uses a fixed smile / brow-raise / jaw-drop scenario when the face has
    those muscles, otherwise random pulses on random muscles.
    """
    t = np.arange(n_frames) * dt
    activations = np.zeros((n_frames, face.n_muscles))
    rng = np.random.default_rng(random_state)
    events = [e for e in _SCENARIO if e[0] in face.muscle_names]
    if not events or random_state is not None:
        chosen = rng.choice(face.n_muscles, size=min(6, face.n_muscles), replace=False)
        events = [
            (face.muscle_names[m], rng.uniform(0, 0.5 * n_frames * dt), rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.8))
            for m in chosen
        ]
    for name, onset, duration, peak in events:
        phase = np.clip((t - onset) / duration, 0.0, 1.0)
        activations[:, face.muscle_names.index(name)] += peak * np.sin(np.pi * phase) ** 2
    return scale * activations


def _relative_error(estimate, truth):
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def _recovered_activation_correlation(coefficients, reduced, dt, dynamics, true_activations):
    """Invert a model on a trajectory and correlate recovered with true activations."""
    c = coefficients
    if dynamics == "paper":
        # Eq. 6 with unit steps: c_{t+2} - 2 c_{t+1} + c_t = M^-1 Q_t.
        forces = (c[2:] - 2 * c[1:-1] + c[:-2]) @ reduced.paper_mass.T
        truth = true_activations[:-2]
    else:
        acceleration = (c[2:] - 2 * c[1:-1] + c[:-2]) / dt**2
        velocity = (c[2:] - c[:-2]) / (2 * dt)
        forces = acceleration @ reduced.mass.T + velocity @ reduced.damping.T + c[1:-1] @ reduced.stiffness.T
        truth = true_activations[1:-1]
    recovered = np.linalg.lstsq(reduced.force_activation, forces.T, rcond=None)[0].T
    active = np.flatnonzero(truth.std(axis=0) > 1e-9)
    return float(np.mean([np.corrcoef(recovered[:, m], truth[:, m])[0, 1] for m in active]))


def verify_reduction(face, *, n_frames=60, dt=1 / 30, scale=1.0, substeps=10, random_state=None):
    """Compare the reduced models with the full nonlinear simulation.

    Parameters
    ----------
    face : FaceModel
    n_frames : int, default=60
    dt : float, default=1/30
    scale : float, default=1.0
        Multiplies the activations (1.0 gives peak displacements of about
        5 mm on the default face).
    substeps : int, default=10
        Newmark steps per frame of the reference simulation.
    random_state : int, default=None
        ``None`` uses the fixed scenario; an int draws random pulses.

    Returns
    -------
    figures : dict
        ``peak_displacement_cm``; ``trajectory_error`` (relative Frobenius
        error of the coefficient trajectory against the projected nonlinear
        simulation) and ``trajectory_error_vs_linear`` (against the
        linearized simulation) for ``elastic_foh``, ``elastic_zoh``,
        ``quasistatic`` and ``paper``; ``activation_correlation`` of the
        activations recovered by inverting each model.
    """
    reduced = reduce_face_model(face)
    activations = verification_activations(
        face, n_frames, dt, scale=scale, random_state=random_state
    )
    truth = {}
    for label, nonlinear in (("nonlinear", True), ("linear", False)):
        vertices = simulate_cartesian(face, activations, dt, substeps=substeps, nonlinear=nonlinear)
        truth[label] = project_to_blendshapes(vertices, face)
        if nonlinear:
            peak = float(np.linalg.norm(vertices - face.vertices, axis=2).max())
    forces = torch.as_tensor(activations @ reduced.force_activation.T)
    mass, stiffness, damping = (
        torch.as_tensor(m) for m in (reduced.mass, reduced.stiffness, reduced.damping)
    )
    models = {
        "elastic_foh": dict(hold="first"),
        "elastic_zoh": dict(hold="zero"),
        "quasistatic": dict(dynamics="quasistatic"),
        "paper": dict(dynamics="paper"),
    }
    errors, errors_linear = {}, {}
    for name, options in models.items():
        model_mass = torch.as_tensor(reduced.paper_mass) if name == "paper" else mass
        c = rollout(forces, model_mass, stiffness, damping, dt, **options).numpy()
        errors[name] = _relative_error(c, truth["nonlinear"])
        errors_linear[name] = _relative_error(c, truth["linear"])
    correlation = {
        name: _recovered_activation_correlation(truth["nonlinear"], reduced, dt, name, activations)
        for name in ("elastic", "paper")
    }
    return {
        "face": face.name,
        "n_vertices": face.n_vertices,
        "n_blendshapes": face.n_blendshapes,
        "n_frames": n_frames,
        "dt": dt,
        "peak_displacement_cm": peak,
        "natural_frequency_hz": [
            float(f) for f in np.round(reduced.natural_frequencies()[[0, -1]] / (2 * np.pi), 3)
        ],
        "trajectory_error": errors,
        "trajectory_error_vs_linear": errors_linear,
        "activation_correlation": correlation,
    }
