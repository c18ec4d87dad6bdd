"""Muscle calibration: a face's muscle distributions fitted so each static response hits its target shapes.

Used by :func:`skbiomech.face.load_ict_facekit`; see its Notes for the
method and the measured figures.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

__all__ = ["CALIBRATION_GOAL", "calibrate_muscle", "side_free"]

# Calibration (see load_ict_facekit's Notes). Each muscle's distribution is
# refitted on its area grown by _REACH cm, as a non-negative mix of a base
# column and Gaussian bumps _BUMP cm wide, so that its static response
# points at its target shapes: pulling toward its anchor, or, where that stays
# below cosine CALIBRATION_GOAL on either side of the face, along its target field.
_REACH, _BUMP, _RIDGE = 1.5, 0.8, 1e-3
CALIBRATION_GOAL = 0.9


def _cosine(c, t):
    norm = np.linalg.norm(c) * np.linalg.norm(t)
    return float(c @ t / norm) if norm > 0 else -1.0


def _spaced(points, spacing):
    """Farthest-point subset of ``points`` (P, 3) no two closer than ``spacing``."""
    chosen, gap = [0], np.linalg.norm(points - points[0], axis=1)
    while gap.max() > spacing:
        chosen.append(int(gap.argmax()))
        gap = np.minimum(gap, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return points[chosen]


def _bumps(points, centres, width):
    """(P, C) Gaussian bumps: smooth, non-negative building blocks of a distribution."""
    return np.exp(-cdist(points, centres, "sqeuclidean") / width**2)


def _mix(response, bumps, base, target):
    """Non-negative mix ``z`` of [base, bumps] whose responses fit ``target``.

    Columns are normalized so the ridge weighs every bump alike; the base
    column (area weights or field magnitudes) goes unpenalized, the default
    the fit departs from.
    """
    columns = np.column_stack([response @ base, response @ bumps])
    scale = np.linalg.norm(columns, axis=0)
    scale[scale == 0] = 1.0
    ridge = np.sqrt(_RIDGE) * np.eye(columns.shape[1])
    ridge[0, 0] = 0.0
    z, _ = nnls(np.vstack([columns / scale, ridge]), np.concatenate([target, np.zeros(len(scale))]))
    return z / scale


def calibrate_muscle(compliance, blendshapes, vertices, weight, anchor, target, field):
    """One muscle's two calibrated lines of action: toward ``anchor``, and along ``field``.

    ``compliance`` is ``K_B^-1`` (K, K); the response of a distribution ``p``
    with unit directions ``d`` is ``K_B^-1 B (p * d)``, linear in ``p``, so
    for fixed directions the fit is one small NNLS. ``field`` (N, 3) is the
    muscle's target field ``K U t``, whose response is exactly ``target``.

    Returns
    -------
    fits : dict
        ``"anchor"`` and ``"field"`` -> (distribution (N,), directions
        (N, 3), cosine of the response with ``target``).
    """
    distance, _ = cKDTree(vertices[weight > 0]).query(vertices, distance_upper_bound=_REACH)
    support = np.flatnonzero(np.isfinite(distance))
    points, shapes = vertices[support], blendshapes[:, support]  # (S, 3), (K, S, 3)
    bumps = _bumps(points, _spaced(points, _BUMP), _BUMP)

    pull = anchor[None] - points
    pull /= np.linalg.norm(pull, axis=1, keepdims=True)
    force = field[support]
    magnitude = np.linalg.norm(force, axis=1)
    along = np.divide(force, magnitude[:, None], out=np.zeros_like(force), where=magnitude[:, None] > 0)

    fits = {}
    for line, directions, base in (("anchor", pull, weight[support]), ("field", along, magnitude)):
        r = compliance @ (shapes * directions[None]).sum(axis=2)  # (K, S): unit force of each vertex
        z = _mix(r, bumps, base, target)
        p = np.maximum(base * z[0] + bumps @ z[1:], 0.0)
        p[~np.any(directions != 0, axis=1)] = 0.0  # no force where the field vanishes
        distribution, full = np.zeros(len(vertices)), np.zeros((len(vertices), 3))
        distribution[support], full[support] = p, directions
        full[distribution == 0] = 0.0
        fits[line] = (distribution, full, _cosine(r @ p, target))
    return fits


def side_free(name):
    """The side-free stem of a bilateral muscle (its key for pairing), else the name."""
    return name[:-2] if name.endswith(("_L", "_R")) else name
