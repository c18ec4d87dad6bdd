"""The procedural default face: generated offline and deterministically.

A height-field surface over a face-shaped ellipse (forehead, brow ridges,
eye sockets, nose, cheeks, lips, chin), 37 muscles with anatomically placed
effective areas, and a blendshape basis derived physically: blendshape ``m``
is the quasi-static response of the skin to muscle ``m`` at full activation,
``B_m = K^{-1} F_m``. So a muscle held at activation ``a`` settles at
coefficient ``a`` on its own blendshape.

Coordinates are centimetres: ``x`` toward the subject's left, ``y`` up, ``z``
out of the face toward the viewer. Masses are grams, time is seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

from ._facs import FACS_AU_MUSCLES
from ._model import FaceModel
from ._skin import SkinMaterial, skin_from_mesh

__all__ = ["default_face_model"]

_HALF_WIDTH = 7.0
_Y_RANGE = (-11.0, 9.0)


def _bump(x, y, cx, cy, sx, sy):
    return np.exp(-(((x - cx) / sx) ** 2) - ((y - cy) / sy) ** 2)


def _height(x, y):
    """Face surface height z(x, y) in cm: a dome with facial features."""
    ax = np.abs(x)
    dome = 5.0 * np.sqrt(np.clip(1.0 - (x / 7.8) ** 2 - ((y + 1.0) / 11.5) ** 2, 0.0, None))
    bridge = 0.9 * np.exp(-((x / 0.7) ** 2)) / (1 + np.exp(-(y + 0.5) / 0.3)) / (1 + np.exp((y - 3.0) / 0.3))
    nose_tip = 1.6 * _bump(x, y, 0.0, -0.4, 0.9, 0.7)
    eye_sockets = -0.9 * _bump(ax, y, 3.1, 2.4, 1.3, 0.9)
    brow_ridges = 0.35 * _bump(ax, y, 2.8, 4.0, 2.0, 0.5)
    cheeks = 0.6 * _bump(ax, y, 3.6, -1.2, 1.5, 1.3)
    upper_lip = 0.45 * np.exp(-((x / 2.2) ** 4) - ((y + 3.9) / 0.35) ** 2)
    lower_lip = 0.45 * np.exp(-((x / 2.0) ** 4) - ((y + 5.0) / 0.4) ** 2)
    mouth_line = -0.25 * np.exp(-((x / 2.4) ** 4) - ((y + 4.45) / 0.15) ** 2)
    chin = 0.5 * _bump(x, y, 0.0, -7.6, 1.8, 1.0)
    return (
        dome + bridge + nose_tip + eye_sockets + brow_ridges + cheeks
        + upper_lip + lower_lip + mouth_line + chin
    )  # fmt: skip


@dataclass(frozen=True)
class _Muscle:
    """A muscle on the subject's left (mirrored for ``bilateral``) or midline."""

    name: str
    kind: str  # "sheet" or "sphincter"
    center: tuple  # (x, y) of the effective area
    axes: tuple  # semi-axes (sx, sy); for sphincters the ring's ellipse scale
    anchor: tuple  # (x, y, depth below the surface at the area centre)
    peak: float = 0.6  # cm of peak displacement at full activation
    angle: float = 0.0  # rotation of the area ellipse, degrees
    ring: tuple = (0.0, 0.0)  # sphincters: (inner, outer) normalized radii
    bilateral: bool = True


_MUSCLES = (
    _Muscle("frontalis_medialis", "sheet", (1.2, 5.4), (1.0, 2.0), (1.2, 9.5, 0.3)),
    _Muscle("frontalis_lateralis", "sheet", (3.8, 5.4), (1.2, 1.9), (3.6, 9.2, 0.3)),
    _Muscle("corrugator_supercilii", "sheet", (1.7, 3.95), (1.1, 0.5), (0.5, 3.4, 0.8), 0.45, -25.0),
    _Muscle("depressor_supercilii", "sheet", (0.9, 3.6), (0.45, 0.6), (0.8, 2.4, 0.6), 0.35),
    _Muscle("procerus", "sheet", (0.0, 3.1), (0.6, 0.9), (0.0, 1.5, 0.5), 0.4, bilateral=False),
    _Muscle("levator_palpebrae_superioris", "sheet", (3.1, 2.9), (1.1, 0.45), (3.1, 3.4, 2.0), 0.35),
    _Muscle("orbicularis_oculi_orbitalis", "sphincter", (3.1, 2.4), (1.15, 1.0), (3.1, 2.4, 1.0), 0.5, ring=(1.45, 2.6)),
    _Muscle("orbicularis_oculi_palpebralis", "sphincter", (3.1, 2.4), (1.15, 1.0), (3.1, 2.4, 1.0), 0.35, ring=(0.45, 1.45)),
    _Muscle("levator_labii_superioris_alaeque_nasi", "sheet", (1.1, -0.3), (0.5, 1.1), (0.7, 2.8, 0.4), 0.45),
    _Muscle("levator_labii_superioris", "sheet", (1.3, -3.3), (0.7, 0.9), (2.0, 0.8, 0.6), 0.45),
    _Muscle("zygomaticus_minor", "sheet", (1.9, -3.3), (0.6, 0.8), (3.6, 0.5, 0.6), 0.4, 30.0),
    _Muscle("zygomaticus_major", "sheet", (2.9, -3.6), (1.3, 0.6), (5.2, 0.4, 1.0), 0.7, 60.0),
    _Muscle("levator_anguli_oris", "sheet", (2.3, -3.4), (0.5, 0.8), (2.2, -1.0, 0.8), 0.4),
    _Muscle("buccinator", "sheet", (3.0, -4.5), (0.9, 0.7), (5.5, -4.5, 2.5), 0.45),
    _Muscle("risorius", "sheet", (3.3, -4.6), (1.2, 0.5), (6.5, -5.0, 0.5), 0.45),
    _Muscle("depressor_anguli_oris", "sheet", (2.6, -5.6), (0.7, 1.1), (3.2, -8.0, 0.5), 0.55),
    _Muscle("depressor_labii_inferioris", "sheet", (1.2, -5.6), (0.8, 0.7), (1.6, -7.8, 0.5), 0.5),
    _Muscle("mentalis", "sheet", (0.0, -6.8), (1.0, 0.8), (0.0, -5.6, 1.5), 0.45, bilateral=False),
    _Muscle("orbicularis_oris_marginalis", "sphincter", (0.0, -4.45), (2.5, 1.0), (0.0, -4.45, 1.0), 0.4, ring=(0.2, 1.0), bilateral=False),
    _Muscle("orbicularis_oris_peripheralis", "sphincter", (0.0, -4.45), (2.5, 1.0), (0.0, -4.45, 1.5), 0.4, ring=(0.9, 1.8), bilateral=False),
    _Muscle("jaw_depressor", "sheet", (0.0, -6.6), (3.0, 1.8), (0.0, -13.0, 3.0), 1.2, bilateral=False),
)  # fmt: skip

# FACS, with orbicularis oris split so that AU23 and AU24 have their own
# blendshapes; incisivii labii (AU18) is not modelled.
_AU_MUSCLES = {au: muscles for au, muscles in FACS_AU_MUSCLES.items() if au != "AU18"} | {
    "AU22": ("orbicularis_oris_marginalis", "orbicularis_oris_peripheralis"),
    "AU23": ("orbicularis_oris_marginalis",),
    "AU24": ("orbicularis_oris_peripheralis",),
}

_REGIONS = ("forehead", "brows", "eyes", "nose", "cheeks", "lips", "chin")


def _grid_mesh(resolution):
    xs = np.linspace(-_HALF_WIDTH, _HALF_WIDTH, resolution)
    spacing = xs[1] - xs[0]
    n_rows = int(round((_Y_RANGE[1] - _Y_RANGE[0]) / spacing)) + 1
    ys = np.linspace(_Y_RANGE[0], _Y_RANGE[1], n_rows)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")  # (rows, cols)
    inside = (gx / _HALF_WIDTH) ** 2 + ((gy + 1.0) / 10.0) ** 2 <= 1.0 + 1e-9
    p00, p10 = inside[:-1, :-1], inside[:-1, 1:]
    p01, p11 = inside[1:, :-1], inside[1:, 1:]
    cells = np.argwhere(p00 & p10 & p01 & p11)  # (row, col) of lower-left corners
    index = np.arange(inside.size).reshape(inside.shape)
    r, c = cells[:, 0], cells[:, 1]
    a, b = index[r, c], index[r, c + 1]
    d, e = index[r + 1, c], index[r + 1, c + 1]
    # Mirror the diagonal across x = 0 so the mesh is left-right symmetric.
    left = gx[r, c] + 0.5 * spacing < 0
    tri1 = np.where(left[:, None], np.stack([a, b, e], 1), np.stack([a, b, d], 1))
    tri2 = np.where(left[:, None], np.stack([a, e, d], 1), np.stack([b, e, d], 1))
    triangles = np.concatenate([tri1, tri2])
    used = np.unique(triangles)
    remap = np.full(inside.size, -1)
    remap[used] = np.arange(len(used))
    x, y = gx.ravel()[used], gy.ravel()[used]
    vertices = np.stack([x, y, _height(x, y)], axis=1)
    return vertices, remap[triangles], spacing


def _muscle_weights(muscle, sign, vertices, spacing):
    """Effective-area weights of one muscle (raised cosine or ring), shape (N,)."""
    x, y = vertices[:, 0], vertices[:, 1]
    cx, cy = sign * muscle.center[0], muscle.center[1]
    angle = np.deg2rad(sign * muscle.angle)
    dx, dy = x - cx, y - cy
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    # Never narrower than the mesh spacing, so coarse meshes keep every muscle.
    sx, sy = (max(s, 1.5 * spacing) for s in muscle.axes)
    if muscle.kind == "sheet":
        r = np.hypot(u / sx, v / sy)
        return np.where(r < 1.0, np.cos(0.5 * np.pi * r) ** 2, 0.0)
    r = np.hypot(u / muscle.axes[0], v / muscle.axes[1])
    inner, outer = muscle.ring
    width = max(outer - inner, 2.0 * spacing / min(muscle.axes))
    t = (r - inner) / width
    return np.where((t > 0) & (t < 1), np.sin(np.pi * t) ** 2, 0.0)


def _regions(vertices):
    x, y = vertices[:, 0], vertices[:, 1]
    ax = np.abs(x)
    region = np.full(len(vertices), _REGIONS.index("cheeks"))
    region[y > 4.6] = _REGIONS.index("forehead")
    region[(y > 3.2) & (y <= 4.6)] = _REGIONS.index("brows")
    region[np.hypot((ax - 3.1) / 1.15, y - 2.4) < 1.5] = _REGIONS.index("eyes")
    region[(ax < 1.2) & (y > -1.2) & (y <= 3.2)] = _REGIONS.index("nose")
    region[np.hypot(x / 2.5, y + 4.45) < 1.5] = _REGIONS.index("lips")
    region[(y < -6.0) & (np.hypot(x / 2.5, y + 4.45) >= 1.5)] = _REGIONS.index("chin")
    return region


def default_face_model(resolution=51):
    """Build the procedural default face model.

    Deterministic and offline. The mesh is a regular grid over a face-shaped
    ellipse (14 x 20 cm) lifted onto a face-like height field; the skin has
    density 1 g/cm², edge springs, bending and attachment springs four times
    stiffer along the normal than across it; 37 muscles (bilateral ones as
    ``_L``/``_R``, x > 0 being the subject's left) cover every AU of the BP4D
    and DISFA protocols. Blendshape ``m`` is the quasi-static displacement of
    the skin under muscle ``m`` at full activation, so blendshapes and
    muscles share names and order.

    Parameters
    ----------
    resolution : int, default=51
        Number of vertices across the face; the default gives about 2,900
        vertices, 71 about 5,600.

    Returns
    -------
    face : FaceModel

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=21)
    >>> face.n_muscles, face.n_blendshapes
    (37, 37)
    >>> [m for m in face.muscle_names if m.startswith("zygomaticus_major")]
    ['zygomaticus_major_L', 'zygomaticus_major_R']
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution must be an int; got {type(resolution).__name__}.")
    if resolution < 15:
        raise ValueError(
            f"resolution must be at least 15 vertices across the face; got {resolution}."
        )
    vertices, triangles, spacing = _grid_mesh(int(resolution))
    skin, stiffness = skin_from_mesh(vertices, triangles, SkinMaterial())

    names, kinds, anchors, weights, peaks = [], [], [], [], []
    sided = {}  # side-free muscle name -> its names in the model
    for muscle in _MUSCLES:
        for side, sign in ((("_L", 1.0), ("_R", -1.0)) if muscle.bilateral else (("", 1.0),)):
            names.append(muscle.name + side)
            sided.setdefault(muscle.name, []).append(muscle.name + side)
            kinds.append(muscle.kind)
            ax, ay, depth = muscle.anchor
            # Depth is below the skin at the area's centre (a sphincter's: its anchor).
            below = (ax, ay) if muscle.kind == "sphincter" else muscle.center
            base = _height(np.array(sign * below[0]), np.array(below[1]))
            anchors.append((sign * ax, ay, float(base) - depth))
            w = _muscle_weights(muscle, sign, vertices, spacing)
            weights.append(w / w.sum())
            peaks.append(muscle.peak)
    unit_distribution = np.stack(weights, axis=1)
    anchors = np.asarray(anchors)
    toward = anchors[None, :, :] - vertices[:, None, :]
    directions = toward / np.linalg.norm(toward, axis=2, keepdims=True)
    unit_forces = unit_distribution[:, :, None] * directions  # (N, M, 3)
    rhs = np.transpose(unit_forces, (0, 2, 1)).reshape(3 * len(vertices), len(names))
    responses = spla.splu(stiffness.tocsc()).solve(rhs)  # (3N, M)
    responses = responses.reshape(len(vertices), 3, len(names)).transpose(2, 0, 1)
    peak_unit = np.linalg.norm(responses, axis=2).max(axis=1)
    strength = np.asarray(peaks) / peak_unit
    blendshapes = responses * strength[:, None, None]

    au_muscles = {
        au: tuple(name for muscle in muscles for name in sided[muscle])
        for au, muscles in _AU_MUSCLES.items()
    }

    return FaceModel(
        vertices=vertices,
        triangles=triangles,
        blendshapes=blendshapes,
        blendshape_names=names,
        muscle_names=names,
        distribution=unit_distribution * strength[None, :],
        muscle_kinds=kinds,
        muscle_anchors=anchors,
        au_muscles=au_muscles,
        vertex_regions=_regions(vertices),
        region_names=_REGIONS,
        name=f"default(resolution={resolution})",
        **skin,
    )
