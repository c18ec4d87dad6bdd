"""The face model: mesh, blendshapes, skin mechanics and muscles."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np

from .._checks import as_float_array, check_finite, check_shape
from .._io import atomic_write
from ._facs import au_name
from ._skin import skin_stiffness, vertex_areas, vertex_normals

__all__ = ["FaceModel", "MUSCLE_KINDS"]

#: Sheet muscles pull toward their bony origin; sphincters toward their centre
#: (unless ``FaceModel(muscle_directions=...)`` gives their line of action).
MUSCLE_KINDS = ("sheet", "sphincter")

_ARRAY_FIELDS = (
    "vertices",
    "triangles",
    "blendshapes",
    "masses",
    "spring_edges",
    "spring_stiffness",
    "attachment_stiffness",
    "distribution",
    "muscle_anchors",
    "vertex_regions",
)
_NAME_FIELDS = ("blendshape_names", "muscle_names", "muscle_kinds", "region_names")
# Format 2 adds the optional "muscle_directions" array. Faces without explicit
# directions are still written as format 1, readable by older versions; a file
# with them says format 2, so an older reader refuses it instead of silently
# dropping the directions and pulling those muscles toward their anchors.
_FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)
_UNIT_TOLERANCE = 1e-6  # |norm - 1| allowed for a given direction


def _names(value, name):
    names = tuple(str(v) for v in value)
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{name} must be unique; duplicated: {duplicates}.")
    return names


def _frozen(array):
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _unreadable(path, exc):
    """Why ``path`` could not be read as an .npz archive, for an error message.

    numpy's own texts are not shown: for pickled content they advise
    ``allow_pickle``, which would run code from the file.
    """
    with open(path, "rb") as handle:
        head = handle.read(6)
    pickled = "pickled" in str(exc) or "allow_pickle" in str(exc)
    if head.startswith(b"PK\x03\x04") and pickled:
        problem = "it holds arrays of pickled Python objects, which FaceModel.load never reads (they could run code)"
    elif head.startswith(b"PK\x03\x04"):
        problem = (
            f"it is truncated or damaged ({type(exc).__name__}); an interrupted copy or download? "
            "Copy it again or rebuild it with FaceModel.save"
        )
    elif head.startswith(b"\x80"):
        problem = "it is a Python pickle, which FaceModel.load never reads (it could run code)"
    elif head.startswith(b"\x93NUMPY"):
        problem = "it is a single .npy array, not the .npz archive FaceModel.save writes"
    else:
        problem = "it is not an .npz archive (FaceModel.save writes one)"
    return f"{path} is not a readable face model file: {problem}."


class FaceModel:
    """A face mesh with blendshapes, skin mechanics and muscles.

    Units are whatever the arrays use, consistently; the built-in models use
    centimetres, grams and seconds (forces in g·cm/s²). Displacements are
    flattened vertex-major where a flat vector is needed.

    Parameters
    ----------
    vertices : array-like of shape (N, 3)
        Rest (neutral) vertex positions.
    triangles : array-like of int of shape (F, 3)
        Vertex indices of each triangle.
    blendshapes : array-like of shape (K, N, 3)
        Displacement of each blendshape from the rest mesh: a mesh is
        ``vertices + sum_j c_j blendshapes[j]``.
    blendshape_names : sequence of str of length K
        Unique names; they name the coefficient columns of the frame table.
    masses : array-like of shape (N,)
        Lumped vertex masses, all positive.
    spring_edges : array-like of int of shape (E, 2)
        Vertex pairs joined by edge springs (unstretched at rest).
    spring_stiffness : array-like of shape (E,)
        Stiffness of each edge spring, non-negative.
    bending_rigidity : float
        Coefficient of the bending energy (see :func:`bending_stiffness`).
    attachment_stiffness : array-like of shape (N, 2)
        Per-vertex (tangential, normal) stiffness of the springs tying the
        skin to the skull; the normal one should be the larger.
    muscle_names : sequence of str of length M
        Unique muscle names, bilateral muscles as ``<name>_L`` / ``<name>_R``.
    distribution : array-like of shape (N, M)
        Distribution matrix ``P``: ``F_ext = P @ F_mus``. Non-negative; each
        column is a muscle's effective area scaled so that unit activation is
        the muscle's full force. No column may be all zero.
    muscle_kinds : sequence of {"sheet", "sphincter"} of length M
        A sheet muscle pulls each vertex of its area toward its anchor (the
        bony origin); a sphincter pulls toward its anchor (its centre). The
        kind is anatomy; explicit ``muscle_directions`` override the pull of
        either kind.
    muscle_anchors : array-like of shape (M, 3)
        Origin of each sheet muscle, centre of each sphincter. For a muscle
        with explicit directions (below) it is only a display point.
    au_muscles : dict of str to sequence of str
        FACS action unit (``"AU12"``) -> names of the muscles producing it.
    muscle_directions : array-like of shape (N, M, 3), default=None
        Explicit lines of action: ``muscle_directions[i, m]`` is the unit
        direction of muscle ``m``'s force at vertex ``i``, used instead of the
        pull toward its anchor. A muscle whose column is all zero keeps the
        pull toward its anchor, so only some muscles need be given (a force
        field along the motion the muscle produces, where no pull toward one
        point fits it: a mandible rotation, a lip ring). In a given column
        every row must be a unit vector where ``distribution`` is positive
        and zero where it is 0. ``None`` (or all zero): every muscle pulls
        toward its anchor.
    damping : tuple of (float, float), default=(10.0, 0.01)
        Rayleigh coefficients ``(alpha, beta)``: the damping matrix is
        ``alpha * M + beta * K``.
    vertex_regions : array-like of int of shape (N,), default=None
        Region index of each vertex, for per-region masses. ``None`` puts
        every vertex in one region.
    region_names : sequence of str, default=None
        Name of each region; ``None`` gives ``("face",)`` for one region or
        ``region0, region1, ...``.
    name : str, default="face"
        Free-text name of the model.
    notice : str, default=""
        License or attribution text that must accompany the model's data.

    Attributes
    ----------
    n_vertices, n_blendshapes, n_muscles : int
    normals : ndarray of shape (N, 3)
        Rest vertex normals.
    stiffness : scipy.sparse.csr_matrix of shape (3N, 3N)
        Linearized skin stiffness at rest (springs + bending + attachment).
    linear_stiffness : scipy.sparse.csr_matrix of shape (3N, 3N)
        The part of :attr:`stiffness` that is exactly linear (bending and
        attachment); the edge springs are the nonlinear rest.
    muscle_directions : ndarray of shape (N, M, 3)
        Unit line of action of each muscle at each vertex (zero outside its
        area): the given one for muscles with explicit directions, else the
        unit vector toward the muscle's anchor.
    explicit_directions : ndarray of shape (N, M, 3) or None
        The ``muscle_directions`` given at construction (zero columns for the
        muscles that pull toward their anchor), or ``None``.
    explicit_muscles : ndarray of bool of shape (M,)
        Which muscles have explicit directions.

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=21)
    >>> face.blendshapes.shape == (face.n_blendshapes, face.n_vertices, 3)
    True
    >>> face.au_muscles["AU12"]
    ('zygomaticus_major_L', 'zygomaticus_major_R')
    """

    def __init__(
        self,
        vertices,
        triangles,
        blendshapes,
        blendshape_names,
        masses,
        spring_edges,
        spring_stiffness,
        bending_rigidity,
        attachment_stiffness,
        muscle_names,
        distribution,
        muscle_kinds,
        muscle_anchors,
        au_muscles,
        *,
        muscle_directions=None,
        damping=(10.0, 0.01),
        vertex_regions=None,
        region_names=None,
        name="face",
        notice="",
    ):
        vertices = check_finite(as_float_array(vertices, "vertices", ndim=2), "vertices")
        check_shape(vertices, (None, 3), "vertices")
        n = len(vertices)
        if n == 0:
            raise ValueError("vertices is empty; a face model needs at least one vertex.")
        triangles = self._index_array(triangles, "triangles", 3, n)
        blendshapes = check_finite(
            as_float_array(blendshapes, "blendshapes", ndim=3), "blendshapes"
        )
        check_shape(blendshapes, (None, (n, "N"), 3), "blendshapes")
        k = len(blendshapes)
        blendshape_names = _names(blendshape_names, "blendshape_names")
        if len(blendshape_names) != k:
            raise ValueError(
                f"blendshape_names has {len(blendshape_names)} names for {k} blendshapes."
            )
        masses = check_finite(as_float_array(masses, "masses", ndim=1), "masses")
        check_shape(masses, ((n, "N"),), "masses")
        if np.any(masses <= 0):
            raise ValueError(
                f"masses must be positive; {int(np.sum(masses <= 0))} vertices have "
                "zero or negative mass (isolated vertices get no area: remove them)."
            )
        spring_edges = self._index_array(spring_edges, "spring_edges", 2, n)
        spring_stiffness = self._non_negative(spring_stiffness, "spring_stiffness", ndim=1)
        check_shape(spring_stiffness, ((len(spring_edges), "E"),), "spring_stiffness")
        if np.any(spring_edges[:, 0] == spring_edges[:, 1]):
            raise ValueError("spring_edges contains an edge from a vertex to itself.")
        bending_rigidity = float(self._non_negative(bending_rigidity, "bending_rigidity"))
        attachment = self._non_negative(attachment_stiffness, "attachment_stiffness", ndim=2)
        check_shape(attachment, ((n, "N"), 2), "attachment_stiffness")

        muscle_names = _names(muscle_names, "muscle_names")
        m = len(muscle_names)
        distribution = self._non_negative(distribution, "distribution", ndim=2)
        check_shape(distribution, ((n, "N"), (m, "M")), "distribution")
        empty = np.flatnonzero(~np.any(distribution > 0, axis=0))
        if empty.size:
            raise ValueError(
                "distribution has all-zero columns for muscles "
                f"{[muscle_names[j] for j in empty]}: every muscle needs a non-empty "
                "effective area."
            )
        muscle_kinds = tuple(str(kind) for kind in muscle_kinds)
        if len(muscle_kinds) != m or not set(muscle_kinds) <= set(MUSCLE_KINDS):
            raise ValueError(
                f"muscle_kinds must give one of {MUSCLE_KINDS} for each of the {m} "
                f"muscles; got {muscle_kinds}."
            )
        anchors = check_finite(as_float_array(muscle_anchors, "muscle_anchors", ndim=2), "muscle_anchors")
        check_shape(anchors, ((m, "M"), 3), "muscle_anchors")
        explicit = self._explicit_directions(muscle_directions, distribution, muscle_names)

        au_muscles = self._au_map(au_muscles, set(muscle_names))
        damping = tuple(float(v) for v in np.ravel(self._non_negative(damping, "damping")))
        if len(damping) != 2:
            raise ValueError(f"damping must be (alpha, beta); got {damping}.")

        if vertex_regions is None:
            vertex_regions = np.zeros(n, dtype=np.int64)
        vertex_regions = np.asarray(vertex_regions)
        if vertex_regions.shape != (n,) or vertex_regions.dtype.kind not in "iu":
            raise ValueError(
                f"vertex_regions must be an integer array of shape ({n},); got "
                f"{vertex_regions.dtype} array of shape {vertex_regions.shape}."
            )
        n_regions = int(vertex_regions.max()) + 1
        if vertex_regions.min() < 0:
            raise ValueError("vertex_regions must be non-negative region indices.")
        if region_names is None:
            region_names = ("face",) if n_regions == 1 else tuple(f"region{r}" for r in range(n_regions))
        region_names = _names(region_names, "region_names")
        if len(region_names) < n_regions:
            raise ValueError(
                f"region_names has {len(region_names)} names but vertex_regions uses "
                f"{n_regions} regions."
            )

        self.vertices = _frozen(vertices)
        self.triangles = _frozen(triangles)
        self.blendshapes = _frozen(blendshapes)
        self.blendshape_names = blendshape_names
        self.masses = _frozen(masses)
        self.spring_edges = _frozen(spring_edges)
        self.spring_stiffness = _frozen(spring_stiffness)
        self.bending_rigidity = bending_rigidity
        self.attachment_stiffness = _frozen(attachment)
        self.muscle_names = muscle_names
        self.distribution = _frozen(distribution)
        self.muscle_kinds = muscle_kinds
        self.muscle_anchors = _frozen(anchors)
        self.explicit_directions = None if explicit is None else _frozen(explicit)
        self.au_muscles = au_muscles
        self.damping = damping
        self.vertex_regions = _frozen(vertex_regions.astype(np.int64))
        self.region_names = region_names
        self.name = str(name)
        self.notice = str(notice)

    # -- validation helpers ------------------------------------------------
    @staticmethod
    def _index_array(value, name, width, n_vertices):
        array = np.asarray(value)
        if array.ndim != 2 or array.shape[1] != width:
            raise ValueError(f"{name} must have shape (*, {width}); got {array.shape}.")
        if array.size and array.dtype.kind not in "iu":
            if not np.all(np.mod(array, 1) == 0):
                raise TypeError(f"{name} must hold integer vertex indices; got {array.dtype}.")
        array = array.astype(np.int64)
        if array.size and (array.min() < 0 or array.max() >= n_vertices):
            raise ValueError(
                f"{name} indexes vertices outside 0..{n_vertices - 1} "
                f"(min {array.min()}, max {array.max()})."
            )
        return array

    @staticmethod
    def _non_negative(value, name, ndim=None):
        array = check_finite(as_float_array(value, name, ndim=ndim), name)
        if np.any(array < 0):
            raise ValueError(f"{name} must be non-negative; found {int(np.sum(array < 0))} negative value(s).")
        return array

    @staticmethod
    def _explicit_directions(value, distribution, muscle_names):
        """Validated (N, M, 3) explicit directions, or None when none are given."""
        if value is None:
            return None
        n, m = distribution.shape
        directions = check_finite(
            as_float_array(value, "muscle_directions", ndim=3), "muscle_directions"
        )
        check_shape(directions, ((n, "N"), (m, "M"), 3), "muscle_directions")
        norm = np.linalg.norm(directions, axis=2)  # (N, M)
        given = np.any(norm > 0, axis=0)
        if not given.any():
            return None  # every muscle pulls toward its anchor: the same as None
        active = distribution > 0
        for j in np.flatnonzero(given):
            off_unit = active[:, j] & (np.abs(norm[:, j] - 1.0) > _UNIT_TOLERANCE)
            if off_unit.any():
                raise ValueError(
                    f"muscle_directions for muscle {muscle_names[j]!r} must be unit vectors where "
                    f"distribution is positive; {int(off_unit.sum())} row(s) are not (e.g. vertex "
                    f"{int(np.flatnonzero(off_unit)[0])}, norm {norm[off_unit, j][0]:.6g})."
                )
            outside = ~active[:, j] & (norm[:, j] > 0)
            if outside.any():
                raise ValueError(
                    f"muscle_directions for muscle {muscle_names[j]!r} must be zero where "
                    f"distribution is 0; {int(outside.sum())} row(s) are not (e.g. vertex "
                    f"{int(np.flatnonzero(outside)[0])})."
                )
        return directions

    @staticmethod
    def _au_map(au_muscles, known):
        result = {}
        for au, muscles in dict(au_muscles).items():
            muscles = (muscles,) if isinstance(muscles, str) else tuple(muscles)
            unknown = [mu for mu in muscles if mu not in known]
            if unknown or not muscles:
                raise ValueError(
                    f"au_muscles[{au!r}] names muscles the model does not have: "
                    f"{unknown or 'none given'}; known muscles: {sorted(known)}."
                )
            result[au_name(au)] = muscles
        return dict(sorted(result.items()))

    # -- sizes and derived quantities ---------------------------------------
    @property
    def n_vertices(self):
        return len(self.vertices)

    @property
    def n_blendshapes(self):
        return len(self.blendshapes)

    @property
    def n_muscles(self):
        return len(self.muscle_names)

    @property
    def aus(self):
        """Action units the model can express, sorted (``("AU01", ...)``)."""
        return tuple(self.au_muscles)

    @cached_property
    def normals(self):
        return _frozen(vertex_normals(self.vertices, self.triangles))

    @cached_property
    def vertex_areas(self):
        """Lumped area of each vertex, shape (N,)."""
        return _frozen(vertex_areas(self.vertices, self.triangles))

    @cached_property
    def _stiffness_parts(self):
        return skin_stiffness(
            self.vertices,
            self.triangles,
            self.spring_edges,
            self.spring_stiffness,
            self.bending_rigidity,
            self.attachment_stiffness,
        )

    @property
    def stiffness(self):
        return self._stiffness_parts[0]

    @property
    def linear_stiffness(self):
        return self._stiffness_parts[1]

    @property
    def explicit_muscles(self):
        """Bool (M,): the muscles whose line of action is given, not derived from the anchor."""
        if self.explicit_directions is None:
            return np.zeros(self.n_muscles, dtype=bool)
        return np.any(self.explicit_directions != 0, axis=(0, 2))

    @cached_property
    def muscle_directions(self):
        toward = self.muscle_anchors[None, :, :] - self.vertices[:, None, :]
        norm = np.linalg.norm(toward, axis=2, keepdims=True)
        directions = np.divide(toward, norm, out=np.zeros_like(toward), where=norm > 0)
        directions[self.distribution == 0] = 0.0
        if self.explicit_directions is not None:
            explicit = self.explicit_muscles
            directions[:, explicit] = self.explicit_directions[:, explicit]
        return _frozen(directions)

    def muscle_force_patterns(self):
        """Vertex forces of each muscle at unit activation, shape (M, N, 3).

        ``patterns[m, i] = P[i, m] * direction[i, m]``: the external force a
        scalar activation of 1 applies along the muscle's line of action.
        """
        return self.distribution.T[:, :, None] * np.transpose(self.muscle_directions, (1, 0, 2))

    @property
    def fingerprint(self):
        """SHA-256 (hex) of everything that shapes the physics; equal for equal models.

        It covers the arrays (the explicit muscle directions when there are
        any: a face without them hashes as before they existed), the names,
        the AU map and the mechanical constants, not the free-text ``name``
        and ``notice``; it survives
        :meth:`save`/:meth:`load` and pickling. Weights files store it, so
        that weights are never loaded onto another face by mistake.
        """
        cached = self.__dict__.get("_fingerprint")  # every field is read-only: hash once
        if cached is None:
            digest = hashlib.sha256()
            keys = _ARRAY_FIELDS + (() if self.explicit_directions is None else ("explicit_directions",))
            for key in keys:
                array = getattr(self, key)
                # Byte order and dtype fixed, so equal values always hash equally.
                array = np.ascontiguousarray(array, dtype="<f8" if array.dtype.kind == "f" else "<i8")
                digest.update(f"{key}{array.shape}".encode())
                digest.update(array.tobytes())
            scalars = {key: list(getattr(self, key)) for key in _NAME_FIELDS}
            scalars.update(
                bending_rigidity=repr(float(self.bending_rigidity)),
                damping=[repr(float(v)) for v in self.damping],
                au_muscles={au: list(mus) for au, mus in self.au_muscles.items()},
            )
            digest.update(json.dumps(scalars, sort_keys=True).encode())
            cached = self.__dict__["_fingerprint"] = digest.hexdigest()
        return cached

    def au_muscle_indices(self, au):
        """Indices of the muscles that produce ``au`` (``"AU12"`` or ``12``)."""
        key = au_name(au)
        if key not in self.au_muscles:
            raise ValueError(f"{key} is not modelled by {self.name!r}; it models {list(self.aus)}.")
        return [self.muscle_names.index(mu) for mu in self.au_muscles[key]]

    def mesh(self, coefficients):
        """Vertices of the mesh with blendshape ``coefficients``.

        Parameters
        ----------
        coefficients : array-like of shape (..., K)

        Returns
        -------
        vertices : ndarray of shape (..., N, 3)
        """
        coefficients = check_finite(as_float_array(coefficients, "coefficients"), "coefficients")
        if coefficients.ndim == 0 or coefficients.shape[-1] != self.n_blendshapes:
            raise ValueError(
                f"coefficients must have shape (..., {self.n_blendshapes}); got {coefficients.shape}."
            )
        return self.vertices + np.tensordot(coefficients, self.blendshapes, axes=(-1, 0))

    def __repr__(self):
        return (
            f"FaceModel(name={self.name!r}, n_vertices={self.n_vertices}, "
            f"n_triangles={len(self.triangles)}, n_blendshapes={self.n_blendshapes}, "
            f"n_muscles={self.n_muscles})"
        )

    # -- persistence --------------------------------------------------------
    def __getstate__(self):
        # Cached derived matrices are rebuilt on demand; keep pickles small.
        return {key: value for key, value in self.__dict__.items() if key in self._init_keys()}

    def __setstate__(self, state):
        state.setdefault("explicit_directions", None)  # pickled before explicit directions existed
        self.__dict__.update(state)

    @staticmethod
    def _init_keys():
        return set(_ARRAY_FIELDS) | set(_NAME_FIELDS) | {
            "bending_rigidity", "au_muscles", "damping", "name", "notice", "explicit_directions",
        }  # fmt: skip

    def save(self, path):
        """Save the model to a single ``.npz`` file, atomically.

        Examples
        --------
        >>> import tempfile, os
        >>> from skbiomech.face import FaceModel, default_face_model
        >>> face = default_face_model(resolution=21)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     face.save(os.path.join(tmp, "face.npz"))
        ...     FaceModel.load(os.path.join(tmp, "face.npz")).n_muscles == face.n_muscles
        True
        """
        path = Path(path)
        arrays = {key: getattr(self, key) for key in _ARRAY_FIELDS}
        arrays.update({key: np.array(getattr(self, key), dtype=str) for key in _NAME_FIELDS})
        if self.explicit_directions is not None:
            arrays["muscle_directions"] = self.explicit_directions
        meta = {
            # Format 1 when there is nothing format 2 adds: older readers still read it.
            "format_version": _FORMAT_VERSION if self.explicit_directions is not None else 1,
            "bending_rigidity": self.bending_rigidity,
            "au_muscles": {au: list(mus) for au, mus in self.au_muscles.items()},
            "damping": list(self.damping),
            "name": self.name,
            "notice": self.notice,
        }
        arrays["meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save` (no pickled code is read).

        Files of format 1 (no explicit muscle directions) and 2 are read.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No face model file at {path}.")
        try:
            data = np.load(path, allow_pickle=False)
            if not hasattr(data, "files"):  # a bare .npy array, not an archive
                raise ValueError("a single array")
            with data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(_unreadable(path, exc)) from None
        missing = [k for k in (*_ARRAY_FIELDS, *_NAME_FIELDS, "meta") if k not in arrays]
        if missing:
            raise ValueError(f"{path} is not a face model file: it lacks {missing}.")
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except ValueError:
            raise ValueError(
                f"{path} is damaged: its 'meta' entry is not valid JSON. Save the face model again."
            ) from None
        if meta.get("format_version") not in _READABLE_FORMATS:
            raise ValueError(
                f"{path} has face model format {meta.get('format_version')}; this "
                f"version of skbiomech reads formats {', '.join(map(str, _READABLE_FORMATS))}."
            )
        if meta["format_version"] >= 2 and "muscle_directions" not in arrays:
            raise ValueError(f"{path} is not a face model file of format 2: it lacks ['muscle_directions'].")
        return cls(
            arrays["vertices"],
            arrays["triangles"],
            arrays["blendshapes"],
            arrays["blendshape_names"],
            arrays["masses"],
            arrays["spring_edges"],
            arrays["spring_stiffness"],
            meta["bending_rigidity"],
            arrays["attachment_stiffness"],
            arrays["muscle_names"],
            arrays["distribution"],
            arrays["muscle_kinds"],
            arrays["muscle_anchors"],
            meta["au_muscles"],
            muscle_directions=arrays.get("muscle_directions"),
            damping=tuple(meta["damping"]),
            vertex_regions=arrays["vertex_regions"],
            region_names=arrays["region_names"],
            name=meta["name"],
            notice=meta["notice"],
        )
