"""Load the ICT-FaceKit light face model as a :class:`FaceModel`.

ICT-FaceKit (https://github.com/ICT-VGL/ICT-FaceKit) is MIT licensed by the
USC Institute for Creative Technologies. The library never ships its files:
users point :func:`load_ict_facekit` at their copy, and the returned model
carries the MIT notice in :attr:`FaceModel.notice`.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np

from ._calibration import CALIBRATION_GOAL, calibrate_muscle, side_free
from ._model import FaceModel
from ._skin import SkinMaterial, skin_from_mesh, vertex_normals

__all__ = ["ict_muscle_shapes", "load_ict_facekit", "load_ict_identities"]

_FOLDER = "FaceXModel"
_NEUTRAL = "generic_neutral_mesh.obj"
_INDEX = "vertex_indices.json"
_EXPECTED = (
    f"the {_FOLDER} folder of the ICT-FaceKit repository "
    f"(https://github.com/ICT-VGL/ICT-FaceKit), holding {_NEUTRAL}, {_INDEX} and "
    "one OBJ per expression shape"
)
# The README's ranges ([0:9408] vertices, [0:9229] polygons for the face) are
# inclusive: its own counts are 9409 and 9230, and polygons 8923..9229 use
# vertex 9408, so Python's half-open reading would cut the mesh.
_REGIONS = {"face": (9409, 9230), "narrow": (6706, 6560)}
_AREA_CUTOFF = 0.05  # weights below 5% of a muscle's peak are shape noise
_SHEET_REACH = 3.0  # cm from the area's centroid to a sheet muscle's anchor
_SPHINCTER_DEPTH = 1.0  # cm below the surface of a sphincter's centre
# AU04's browDown area is cut by distance from the midline (cm): the glabella
# goes to procerus, the brow head to depressor supercilii, the rest to corrugator.
_PROCERUS_REACH, _DEPRESSOR_REACH = 1.0, 2.5

_NOTICE = "ICT-FaceKit, Copyright (c) 2020 USC Institute for Creative Technologies, MIT License"
_MIT_TEXT = """\
MIT License

Copyright (c) 2020 USC Institute for Creative Technologies

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

# (side-free muscle, kind, ICT shapes, AUs), from the ICT README's FACS table
# and FACS_AU_MUSCLES. Stems ending in "_" take the side: one muscle per side.
# AU23 (lip tightener) has no ICT shape; it shares mouthPress with AU24, since
# the README gives mouthRoll* to AU28 (lip suck), a different movement.
_AU04_MUSCLES = ("corrugator_supercilii", "depressor_supercilii", "procerus")
_MUSCLES = (
    ("frontalis_medialis", "sheet", ("browInnerUp_",), ("AU01",)),
    ("frontalis_lateralis", "sheet", ("browOuterUp_",), ("AU02",)),
    (_AU04_MUSCLES, "sheet", ("browDown_",), ("AU04",)),  # split: _brow_lowerers
    ("levator_palpebrae_superioris", "sheet", ("eyeWide_",), ("AU05",)),
    ("orbicularis_oculi_orbitalis", "sphincter", ("cheekSquint_",), ("AU06",)),
    ("orbicularis_oculi_palpebralis", "sphincter", ("eyeSquint_",), ("AU07",)),
    ("levator_labii_superioris_alaeque_nasi", "sheet", ("noseSneer_",), ("AU09",)),
    ("levator_labii_superioris", "sheet", ("mouthShrugUpper",), ("AU10",)),
    ("zygomaticus_minor", "sheet", ("mouthUpperUp_",), ("AU11",)),
    ("zygomaticus_major", "sheet", ("mouthSmile_",), ("AU12",)),
    ("buccinator", "sheet", ("mouthDimple_",), ("AU14",)),
    ("depressor_anguli_oris", "sheet", ("mouthFrown_",), ("AU15",)),
    ("depressor_labii_inferioris", "sheet", ("mouthLowerDown_",), ("AU16", "AU25")),
    ("mentalis", "sheet", ("mouthShrugLower",), ("AU17",)),
    ("incisivii_labii", "sheet", ("mouthPucker",), ("AU18",)),
    ("risorius", "sheet", ("mouthStretch_",), ("AU20",)),
    ("orbicularis_oris", "sphincter",
     ("mouthFunnel", "mouthPucker", "mouthPress_L", "mouthPress_R"), ("AU22", "AU23", "AU24")),
    ("jaw_depressor", "sheet", ("jawOpen",), ("AU26", "AU27")),
)  # fmt: skip


_VERTEX_LINE = re.compile(r"^v (.*)$", re.MULTILINE)


def _read_text(file):
    # errors="replace": undecodable bytes surface as a malformed line, with its number.
    with open(file, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _parse_vertices(file, text):
    """(V, 3) coordinates of the ``v`` lines; fast path first, line-by-line on failure."""
    rows = _VERTEX_LINE.findall(text)
    coords = None
    with warnings.catch_warnings():
        # numpy's C parser: it warns (and stops) at a token that is no number.
        warnings.simplefilter("error")
        try:
            values = np.fromstring(" ".join(rows), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            values = None
    if values is not None and values.size == 3 * len(rows):
        coords = values.reshape(-1, 3)
    if coords is None:  # find the culprit; accept "v x y z [w]" and "v x y z r g b"
        coords = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith("v "):
                try:
                    values = [float(t) for t in line.split()[1:]]
                except ValueError:
                    values = []
                if len(values) not in (3, 4, 6, 7):
                    raise ValueError(f"{file}, line {number}: malformed vertex line {line!r}.")
                coords.append(values[:3])
        coords = np.array(coords, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(coords)):
        raise ValueError(f"{file}: vertex coordinates must be finite.")
    return coords


def _parse_polygons(file, lines, n_polygons):
    """The first ``n_polygons`` faces as 0-based index lists, with their line numbers."""
    polygons, numbers, n_seen = [], [], 0
    for number, line in enumerate(lines, 1):
        if line.startswith("v "):
            n_seen += 1  # negative (relative) indices count back from here
        elif line.startswith("f "):
            try:
                index = [int(t.split("/", 1)[0]) for t in line.split()[1:]]
            except ValueError:
                index = []
            if len(index) < 3 or 0 in index:
                raise ValueError(f"{file}, line {number}: malformed face line {line!r}.")
            polygons.append([i - 1 if i > 0 else n_seen + i for i in index])
            numbers.append(number)
            if len(polygons) == n_polygons:
                break
    return polygons, numbers


def _resolve_folder(path):
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"No ICT-FaceKit folder at {folder}; expected {_EXPECTED}.")
    if not (folder / _NEUTRAL).is_file() and (folder / _FOLDER).is_dir():
        folder = folder / _FOLDER
    for name in (_NEUTRAL, _INDEX):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found; expected {_EXPECTED}.")
    return folder


def _expression_names(file):
    try:
        names = json.loads(Path(file).read_text(encoding="utf-8"))["expressions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{file} is not ICT-FaceKit's {_INDEX}: no 'expressions' list ({exc!r})."
        ) from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{file}: 'expressions' must be a list of shape names.")
    return names


def _notice(folder):
    for candidate in (folder / "LICENSE", folder.parent / "LICENSE"):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            if "Institute for Creative Technologies" in text:  # not some other project's
                return f"{_NOTICE}.\n\n{text.strip()}\n"
    return f"{_NOTICE}.\n\n{_MIT_TEXT}"


def _crop(file, vertices, polygons, numbers, region):
    n_vertices, n_polygons = _REGIONS[region]
    if len(vertices) < n_vertices or len(polygons) < n_polygons:
        raise ValueError(
            f"{file} has {len(vertices)} vertices and {len(polygons)} faces; the "
            f"{region!r} region needs {n_vertices} and {n_polygons} (is it ICT-FaceKit's?)."
        )
    for polygon, number in zip(polygons, numbers):
        if max(polygon) >= n_vertices or min(polygon) < 0:
            raise ValueError(
                f"{file}, line {number}: a face of the {region!r} region uses vertices "
                f"{polygon}, outside its vertices 0..{n_vertices - 1}."
            )
    # Fan triangulation keeps each polygon's winding, hence the file's orientation.
    triangles = np.array(
        [(p[0], p[k], p[k + 1]) for p in polygons for k in range(1, len(p) - 1)], dtype=np.int64
    )
    kept = np.unique(triangles)  # vertices on no triangle would get no mass
    remap = np.full(n_vertices, -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    return kept, remap[triangles]


def _area(blendshapes, names, shapes):
    """Effective-area weights (N,) and summed displacement (N, 3) of ``shapes``."""
    displacement = sum(blendshapes[names.index(s)] for s in shapes)
    weight = sum(np.linalg.norm(blendshapes[names.index(s)], axis=1) for s in shapes)
    peak = weight.max()
    weight = weight / peak if peak > 0 else weight
    return np.where(weight < _AREA_CUTOFF, 0.0, weight), displacement


def _required_shapes():
    needed = set()
    for _, _, stems, _ in _MUSCLES:
        for stem in stems:
            needed.update((stem + "L", stem + "R") if stem.endswith("_") else (stem,))
    return needed


def ict_muscle_shapes():
    """Muscle name -> the ICT shapes FACS ties to it (its calibration target).

    A sided muscle gets its own side's shapes; AU04's three brow lowerers
    share browDown (procerus, on the midline, both sides').

    Returns
    -------
    shapes : dict of str to tuple of str
        In the muscle order of :func:`load_ict_facekit`.

    Examples
    --------
    >>> from skbiomech.face._ict import ict_muscle_shapes
    >>> ict_muscle_shapes()["zygomaticus_major_L"]
    ('mouthSmile_L',)
    >>> ict_muscle_shapes()["procerus"]
    ('browDown_L', 'browDown_R')
    """
    shapes = {}
    for muscle, _, stems, _ in _MUSCLES:
        if muscle == _AU04_MUSCLES:
            for name in _AU04_MUSCLES[:2]:
                shapes.update({name + s: ("browDown" + s,) for s in ("_L", "_R")})
            shapes[_AU04_MUSCLES[2]] = ("browDown_L", "browDown_R")
            continue
        sides = ("_L", "_R") if any(s.endswith("_") for s in stems) else ("",)
        for side in sides:
            shapes[muscle + side] = tuple(s + side[1:] if s.endswith("_") else s for s in stems)
    return shapes


def _brow_lowerers(blendshapes, names, vertices):
    """AU04's muscles: browDown's area cut by distance from the midline.

    One shared area would give three identical columns of ``P``, whose
    activations no data could tell apart.
    """
    midline = 0.5 * (vertices[:, 0].min() + vertices[:, 0].max())
    parts = {}
    for side, sign in (("_L", 1.0), ("_R", -1.0)):
        weight, displacement = _area(blendshapes, names, ["browDown" + side])
        lateral = sign * (vertices[:, 0] - midline)  # the ICT mesh's +x is the subject's left
        glabella, brow = lateral < _PROCERUS_REACH, lateral >= _DEPRESSOR_REACH
        for muscle, mask in (
            ("corrugator_supercilii" + side, brow),
            ("depressor_supercilii" + side, ~glabella & ~brow),
            ("procerus", glabella),  # one midline muscle, fed by both sides
        ):
            w, d = parts.get(muscle, (0.0, 0.0))
            parts[muscle] = (w + weight * mask, d + displacement * mask[:, None])
    order = [m + s for m in _AU04_MUSCLES[:2] for s in ("_L", "_R")] + [_AU04_MUSCLES[2]]
    return [(muscle, "sheet", *parts[muscle]) for muscle in order]


def _muscle_areas(blendshapes, names, vertices):
    """Muscle (name, kind, weights, displacement) tuples and the AU -> muscles map."""
    muscles, au_muscles = [], {}
    for muscle, kind, stems, aus in _MUSCLES:
        if muscle == _AU04_MUSCLES:
            found = _brow_lowerers(blendshapes, names, vertices)
        else:
            found = []
            for side in ("_L", "_R") if any(s.endswith("_") for s in stems) else ("",):
                shapes = [s + side[1:] if s.endswith("_") else s for s in stems]
                found.append((muscle + side, kind, *_area(blendshapes, names, shapes)))
        muscles.extend(found)
        for au in aus:
            au_muscles.setdefault(au, []).extend(m[0] for m in found)
    return muscles, au_muscles


def _anchor(kind, weight, displacement, vertices, normals):
    centroid = weight @ vertices / weight.sum()
    if kind == "sphincter":
        normal = weight @ normals
        return centroid - _SPHINCTER_DEPTH * normal / np.linalg.norm(normal)
    direction = weight @ displacement  # pull the way the shapes move the skin
    if not np.linalg.norm(direction) > 0:  # shapes whose motion cancels out: pull inward
        direction = -(weight @ normals)
    return centroid + _SHEET_REACH * direction / np.linalg.norm(direction)


def load_ict_facekit(path, region="face"):
    """Build a :class:`FaceModel` from the ICT-FaceKit light face model.

    Reads the files exactly as the ICT-FaceKit repository distributes them,
    crops a face region, and derives the skin mechanics from the mesh with
    the constants of :func:`default_face_model` and the muscles from the
    blendshapes that FACS ties to them. Nothing is written anywhere.

    Parameters
    ----------
    path : str or path-like
        The ``FaceXModel`` folder of an ICT-FaceKit checkout (or the checkout
        itself): ``generic_neutral_mesh.obj``, ``vertex_indices.json`` and
        one OBJ per expression named in its ``"expressions"`` list.
    region : {"face", "narrow"}, default="face"
        ``"face"``: the README's full face area, vertices [0:9408] and
        polygons [0:9229] (inclusive: 9,409 vertices, 9,230 quads);
        ``"narrow"``: the narrow face area, [0:6705] and [0:6559].

    Returns
    -------
    face : FaceModel
        Centimetres, grams and seconds; triangles from splitting each quad
        ``(a, b, c, d)`` into ``(a, b, c), (a, c, d)``; one blendshape per
        expression (shape minus neutral), named and ordered as in
        ``vertex_indices.json``; 34 muscles covering AU 1, 2, 4, 5, 6, 7, 9,
        10, 11, 12, 14, 15, 16, 17, 18, 20, 22-27; ``name`` is
        ``"ict-facekit(<region>)"`` and ``notice`` holds the MIT notice.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder, or a needed OBJ or JSON file is missing.
    ValueError
        If ``region`` is unknown, a file is malformed (the message names the
        file and, for OBJ lines, the line), an expression OBJ has another
        vertex count than the neutral, or the mesh is not ICT-FaceKit's.

    Notes
    -----
    ICT-FaceKit, Copyright (c) 2020 USC Institute for Creative Technologies,
    MIT License. Its copyright and permission notice must accompany the data
    and anything derived from it; the model's ``notice`` carries the full
    text (read from the checkout's ``LICENSE`` when present).

    Masses are ``density * vertex area``; every mesh edge is a spring; the
    attachment stiffness is the vertex area times the (tangential, normal)
    constants. Muscle ``m``'s effective area is the displacement magnitude of
    its shapes, normalized to peak 1 and zero below 5% of it. AU04's browDown
    area is partitioned by distance from the midline: procerus (under 1 cm,
    both sides), depressor supercilii (1-2.5 cm) and corrugator supercilii
    (beyond). AU23 has no ICT shape and shares orbicularis oris (funnel,
    pucker, press) with AU22 and AU24. A sheet muscle pulls toward a point
    3 cm from its area's centroid along the shapes' mean displacement; a
    sphincter toward its centroid 1 cm below the surface.

    *Calibration.* Those areas and anchors alone put several muscles on the
    wrong shapes (orbicularis oculi orbitalis gave ``eyeSquint = -1``,
    jaw_depressor ``mouthFrown``). The static response of muscle ``m``,
    ``c_m = K_B^-1 B (P[:, m] * d_m)`` with ``d_m`` its unit lines of action,
    is linear in ``P[:, m]``; its target ``t_m`` is 1 on the muscle's shapes
    (:func:`ict_muscle_shapes`) and 0 elsewhere. Its *target field* is the
    Cartesian force ``f_m = K U t_m`` (``K`` the full skin stiffness, ``U t_m``
    the targets' vertex displacement): ``B f_m = K_B t_m``, so it settles at
    exactly ``c_m = t_m``. Each muscle is fitted twice, on its area grown by
    1.5 cm, by NNLS on ``|c_m - t_m|`` over a non-negative mix of a base
    column (unpenalized) and Gaussian bumps 0.8 cm wide (ridge 1e-3), smooth
    and non-negative by construction: (a) pulling toward its anchor, base the
    area weights; (b) along its target field there, ``d_m = f_m / |f_m|``,
    base ``|f_m|``. The rule: a muscle pulls toward its anchor when (a)
    reaches ``cosine(c_m, t_m) >= 0.9`` on both sides of the face (a
    bilateral pair keeps one kind of line of action); otherwise it gets the
    field (b) as explicit :attr:`FaceModel.muscle_directions`
    (:attr:`FaceModel.explicit_muscles`), and its anchor stays the display
    point above. On the face region that is 18 of the 34 muscles: depressor
    supercilii, both parts of orbicularis oculi, levator labii superioris
    alaeque nasi, zygomaticus minor, buccinator, mentalis, incisivii labii,
    risorius, orbicularis oris and jaw_depressor (the narrow region adds
    zygomaticus major). ``jawOpen`` is a rotation of the mandible carrying the
    skin and orbicularis oris a ring closing on the lips: no pull toward one
    point matches them (measured: even an unconstrained non-negative ``P``
    with searched anchors gets only 0.71-0.84 on jaw, incisivii and oris).
    Measured, face region: every muscle at cosine >= 0.91 (anchor muscles
    0.91-0.996; field muscles >= 0.999, but depressor supercilii, whose target
    browDown spans more than its area, 0.998); narrow region >= 0.90. The field
    replaces the earlier anchor search (42 candidates and Nelder-Mead per
    muscle), which reached 0.9 on only 25 muscles and made the load take
    about 12 s; the load now takes about 4 s, mostly reading the OBJ files.

    Last, each column of ``P`` is scaled so that the quasi-static response of
    the blendshape-reduced skin, ``K_B c = B f``, to that muscle alone at unit
    activation has a largest coefficient of magnitude 1.

    Examples
    --------
    >>> from skbiomech.face import load_ict_facekit  # doctest: +SKIP
    >>> face = load_ict_facekit("ICT-FaceKit/FaceXModel")  # doctest: +SKIP
    >>> face.n_vertices, face.n_blendshapes, face.n_muscles  # doctest: +SKIP
    (9409, 53, 34)
    >>> print(face.notice.splitlines()[0])  # doctest: +SKIP
    ICT-FaceKit, Copyright (c) 2020 USC Institute for Creative Technologies, MIT License.
    """
    if not isinstance(region, str) or region not in _REGIONS:
        raise ValueError(f"region must be one of {sorted(_REGIONS)}; got {region!r}.")
    folder = _resolve_folder(path)
    names = _expression_names(folder / _INDEX)
    files = [folder / f"{name}.obj" for name in names]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(
                f"{file} not found: {_INDEX} lists {file.stem!r}; expected {_EXPECTED}."
            )

    text = _read_text(folder / _NEUTRAL)
    lines = text.splitlines()
    neutral = _parse_vertices(folder / _NEUTRAL, text)
    shapes = []
    for file in files:
        shape = _parse_vertices(file, _read_text(file))
        if shape.shape != neutral.shape:
            raise ValueError(
                f"{file} has {len(shape)} vertices but {_NEUTRAL} has {len(neutral)}; "
                "every ICT-FaceKit OBJ shares one topology."
            )
        shapes.append(shape)
    polygons, numbers = _parse_polygons(folder / _NEUTRAL, lines, _REGIONS[region][1])
    kept, triangles = _crop(folder / _NEUTRAL, neutral, polygons, numbers, region)
    missing = sorted(_required_shapes() - set(names))
    if missing:
        raise ValueError(f"{folder / _INDEX} lacks the expressions {missing} the muscles need.")
    vertices = neutral[kept]
    blendshapes = np.stack([shape[kept] for shape in shapes]) - vertices[None]
    del shapes

    # Skin mechanics exactly as the procedural default face builds them.
    skin, stiffness = skin_from_mesh(vertices, triangles, SkinMaterial())

    muscles, au_muscles = _muscle_areas(blendshapes, names, vertices)
    normals = vertex_normals(vertices, triangles)
    muscle_names = [m[0] for m in muscles]
    weights = np.stack([m[2] for m in muscles], axis=1)
    empty = [muscle_names[j] for j in np.flatnonzero(~np.any(weights > 0, axis=0))]
    if empty:
        raise ValueError(f"The {region!r} region leaves muscles {empty} without an area.")
    weights /= weights.max(axis=0)
    anchors = np.stack([_anchor(m[1], m[2], m[3], vertices, normals) for m in muscles])

    # Calibration: each muscle's static response points at its FACS shapes.
    basis = blendshapes.reshape(len(blendshapes), -1)
    reduced_stiffness = basis @ (stiffness @ basis.T)
    reduced_stiffness = 0.5 * (reduced_stiffness + reduced_stiffness.T)
    compliance = np.linalg.inv(reduced_stiffness)
    targets = ict_muscle_shapes()
    fits = []
    for j, muscle in enumerate(muscle_names):
        target = np.isin(names, targets[muscle]).astype(np.float64)
        field = (stiffness @ (target @ basis)).reshape(-1, 3)  # K U t: response exactly t
        fits.append(calibrate_muscle(compliance, blendshapes, vertices, weights[:, j], anchors[j], target, field))
    # The anchor pull where it serves (cosine >= CALIBRATION_GOAL) on both sides, else the field.
    served = {}
    for muscle, fit in zip(muscle_names, fits):
        served[side_free(muscle)] = served.get(side_free(muscle), True) and fit["anchor"][2] >= CALIBRATION_GOAL
    lines = ["anchor" if served[side_free(m)] else "field" for m in muscle_names]
    weights = np.stack([fit[line][0] for fit, line in zip(fits, lines)], axis=1)
    directions = np.stack([fit[line][1] for fit, line in zip(fits, lines)], axis=1)  # (N, M, 3), every muscle
    explicit = np.array([line == "field" for line in lines])

    # Strength: unit activation alone settles at a largest coefficient of 1.
    forces = (weights[:, :, None] * directions).transpose(0, 2, 1).reshape(3 * len(vertices), -1)
    response = compliance @ (basis @ forces)
    distribution = weights / np.abs(response).max(axis=0)
    directions[:, ~explicit] = 0.0  # the FaceModel derives those from the anchors

    return FaceModel(
        vertices=vertices,
        triangles=triangles,
        blendshapes=blendshapes,
        blendshape_names=names,
        muscle_names=muscle_names,
        distribution=distribution,
        muscle_kinds=[m[1] for m in muscles],
        muscle_anchors=anchors,
        au_muscles=au_muscles,
        muscle_directions=directions if explicit.any() else None,
        name=f"ict-facekit({region})",
        notice=_notice(folder),
        **skin,
    )


def _identity_file(folder, i):
    return folder / f"identity{i:03d}.obj"


def load_ict_identities(path, region="face", n_identities=50):
    """Identity shape offsets of ICT-FaceKit, on the vertices of :func:`load_ict_facekit`.

    ICT-FaceKit's identity modes are PCA modes of face shape across people,
    strongest first. A face of identity ``w`` and expression ``c`` is
    ``vertices + w @ identities + c @ blendshapes`` (flattening the last two
    axes). Nothing is written anywhere.

    Parameters
    ----------
    path : str or path-like
        The ``FaceXModel`` folder of an ICT-FaceKit checkout (or the checkout
        itself), holding ``generic_neutral_mesh.obj``, ``vertex_indices.json``
        and ``identity000.obj``, ``identity001.obj``, ...
    region : {"face", "narrow"}, default="face"
        The vertex region, as for :func:`load_ict_facekit`.
    n_identities : int, default=50
        How many modes to read: ``identity000.obj`` to
        ``identity{n_identities - 1:03d}.obj``.

    Returns
    -------
    identities : ndarray of shape (n_identities, N, 3)
        Each mode's displacement from the neutral mesh, on the same kept
        vertices (in the same order) as ``load_ict_facekit(path, region)``;
        centimetres.

    Notes
    -----
    The identity OBJs are whole shapes, not offsets: their coordinates are of
    the neutral's size (up to 19 cm) while they differ from it by at most
    1.5 cm (mode 0; 0.07 cm for mode 49), so the neutral is subtracted here,
    as for the expressions. The MIT notice of ICT-FaceKit (see
    :func:`load_ict_facekit`) covers these files too.

    Examples
    --------
    >>> from skbiomech.face._ict import load_ict_identities  # doctest: +SKIP
    >>> load_ict_identities("ICT-FaceKit/FaceXModel", n_identities=3).shape  # doctest: +SKIP
    (3, 9409, 3)
    """
    if not isinstance(region, str) or region not in _REGIONS:
        raise ValueError(f"region must be one of {sorted(_REGIONS)}; got {region!r}.")
    if isinstance(n_identities, bool) or not isinstance(n_identities, (int, np.integer)) or n_identities < 0:
        raise ValueError(f"n_identities must be a non-negative integer; got {n_identities!r}.")
    folder = _resolve_folder(path)
    files = [_identity_file(folder, i) for i in range(n_identities)]
    missing = next((file for file in files if not file.is_file()), None)
    if missing is not None:
        available = 0
        while _identity_file(folder, available).is_file():
            available += 1
        raise FileNotFoundError(
            f"{missing} not found: n_identities={n_identities} needs identity000.obj to "
            f"{files[-1].name}, and {folder} holds the first {available}. Pass "
            f"n_identities={available} or fewer, or add the missing files from the ICT-FaceKit "
            "repository (https://github.com/ICT-VGL/ICT-FaceKit)."
        )

    text = _read_text(folder / _NEUTRAL)
    lines = text.splitlines()
    neutral = _parse_vertices(folder / _NEUTRAL, text)
    polygons, numbers = _parse_polygons(folder / _NEUTRAL, lines, _REGIONS[region][1])
    kept, _ = _crop(folder / _NEUTRAL, neutral, polygons, numbers, region)
    identities = np.empty((n_identities, len(kept), 3))
    for i, file in enumerate(files):
        shape = _parse_vertices(file, _read_text(file))
        if shape.shape != neutral.shape:
            raise ValueError(
                f"{file} has {len(shape)} vertices but {_NEUTRAL} has {len(neutral)}; "
                "every ICT-FaceKit OBJ shares one topology."
            )
        identities[i] = shape[kept] - neutral[kept]
    return identities
