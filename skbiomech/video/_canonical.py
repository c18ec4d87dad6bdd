"""MediaPipe's canonical face mesh, and the 68 Multi-PIE landmarks on it and on ICT-FaceKit.

The canonical mesh is the neutral face that MediaPipe's facial transformation
matrix maps onto each detection. It ships inside ``face_landmarker.task`` (a
zip) as a binary protobuf, ``geometry_pipeline_metadata_landmarks.binarypb``:
a ``GeometryPipelineMetadata`` message whose field 1 is a ``Mesh3d`` with a
vertex buffer of 5 floats per vertex (x, y, z, u, v) and an index buffer of
triangles. The ``mediapipe`` wheel bundles no Python protobuf classes for it,
so the few wire-format rules it needs are read here by hand.
"""

from __future__ import annotations

import struct
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "canonical_face_mesh",
    "MEDIAPIPE_68",
    "ICT_68",
    "JAW_CONTOUR",
    "IBUG_68_GROUPS",
]

# The 68 Multi-PIE (iBUG) points as indices into MediaPipe's 468-point mesh,
# in iBUG order (0-16 jaw from the subject's right ear to the left, 17-26 brows,
# 27-35 nose, 36-47 eyes, 48-59 outer lips, 60-67 inner lips). Started from the
# mapping that circulates in public code (MediaPipe-to-dlib converters,
# LatentSync), then two fixes, each on anatomy and checked on the mesh:
# - brow tails 17/26: 71/301 sit 1.2 cm behind the brow, toward the temple;
#   70/300 are the ends of the upper brow row (70, 63, 105, 66, 107) that the
#   other brow points use;
# - inner lips 61/63 and 65/67: iBUG puts them at a quarter and three quarters
#   of each inner lip contour; MediaPipe's 82/312 and 87/317 are next to the
#   midline, 81/311 (upper) and 178/402 (lower) are at those positions.
# Against ICT-FaceKit's own list (ICT_68) a similarity fit of the non-contour
# points gives scale 1.01, 3.0 degrees, mean error 0.2 cm (eyes), 0.3 (lips,
# brows), 0.4 (nose) and 1.4 (jaw contour); tests/video/test_canonical.py
# checks these figures.
MEDIAPIPE_68 = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 81, 13, 311, 308, 402, 14, 178,
)  # fmt: skip

# The same 68 points as ICT-FaceKit vertex indices, copied from the "Facial
# Landmarks" section of ICT-FaceKit's README ("Multi-PIE 68 point facial
# landmarks indices", 0-indexed; ICT-FaceKit, MIT License, (c) 2020 USC ICT).
# Its vertex_indices.json repeats them as "idx_to_landmark_verts". All lie in
# the face region (< 9409), whose vertices come first in every ICT OBJ.
ICT_68 = (
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443,
    268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509,
    978, 4527, 4942, 4857, 1140, 2075, 1147, 4269, 3360,
    1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732,
    5708, 5695, 2081, 0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841,
    5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
)  # fmt: skip

# Positions in MEDIAPIPE_68 / ICT_68 of each iBUG group. The jaw contour is a
# silhouette: a detector puts it where the cheek turns away from the camera,
# which is a different skin point at each head pose, so a 3D fit should give
# it a small weight.
IBUG_68_GROUPS = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "lips": tuple(range(48, 68)),
}
JAW_CONTOUR = IBUG_68_GROUPS["jaw"]

_MEMBER = "geometry_pipeline_metadata"
_N_VERTICES, _N_TRIANGLES, _VERTEX_SIZE = 468, 898, 5


def _varint(data, i):
    value, shift = 0, 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data):
    """(field number, wire type, value) of each field of a protobuf message."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if i > len(data):
            raise ValueError("truncated field")
        yield number, wire, value


def _repeated(values, wire, fmt):
    # proto2 writes repeated scalars one per field (what the .task holds);
    # a packed writer puts them all in one length-delimited field: read both.
    if wire == 2:
        if fmt == "f":
            return list(struct.unpack(f"<{len(values) // 4}f", values))
        out, i = [], 0
        while i < len(values):
            value, i = _varint(values, i)
            out.append(value)
        return out
    return [struct.unpack("<f", values)[0]] if fmt == "f" else [values]


def _parse_mesh(data):
    mesh = None
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2:
            mesh = value
    if mesh is None:
        raise ValueError("no canonical_mesh (field 1)")
    vertex_buffer, index_buffer = [], []
    for number, wire, value in _fields(mesh):
        if number == 3:
            vertex_buffer += _repeated(value, wire, "f")
        elif number == 4:
            index_buffer += _repeated(value, wire, "I")
    return np.asarray(vertex_buffer, dtype=np.float64), np.asarray(index_buffer, dtype=np.int64)


@lru_cache(maxsize=8)
def _cached_mesh(path, mtime_ns):
    from ._landmarker import check_landmarker_file

    check_landmarker_file(path)
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.startswith(_MEMBER))
        data = archive.read(name)
    try:
        vertex_buffer, index_buffer = _parse_mesh(data)
    except (ValueError, struct.error) as exc:
        raise ValueError(
            f"{path}: its member {name} is not a readable canonical face mesh ({exc}); "
            "the file is damaged: download face_landmarker.task again."
        ) from None
    if vertex_buffer.size != _N_VERTICES * _VERTEX_SIZE or index_buffer.size != _N_TRIANGLES * 3:
        raise ValueError(
            f"{path}: its canonical mesh has {vertex_buffer.size} vertex floats and "
            f"{index_buffer.size} indices; MediaPipe's face mesh has {_N_VERTICES} vertices "
            f"x {_VERTEX_SIZE} floats and {_N_TRIANGLES} triangles. Use the official "
            "face_landmarker.task."
        )
    vertices = vertex_buffer.reshape(_N_VERTICES, _VERTEX_SIZE)[:, :3].copy()
    triangles = index_buffer.reshape(_N_TRIANGLES, 3)
    if triangles.max() >= _N_VERTICES:
        raise ValueError(f"{path}: its canonical mesh has triangle indices beyond its {_N_VERTICES} vertices.")
    vertices.setflags(write=False)
    triangles.setflags(write=False)
    return vertices, triangles


def canonical_face_mesh(model_path):
    """MediaPipe's canonical face mesh, read from a ``face_landmarker.task`` file.

    Its vertex ``i`` is MediaPipe's landmark ``i`` on a neutral face, so it
    relates the 478 tracked landmarks (468 mesh points plus 10 iris points,
    which it does not hold) to a 3D face model.

    Parameters
    ----------
    model_path : str or path-like
        MediaPipe's Face Landmarker model bundle.

    Returns
    -------
    vertices : ndarray of shape (468, 3), float64
        Centimetres; x toward the subject's left, y up, z toward the viewer
        (the axes of ICT-FaceKit), origin inside the head. About 15 cm wide.
        Read-only (the result is cached).
    triangles : ndarray of shape (898, 3), int64
        Vertex indices, counter-clockwise seen from the front. Read-only.

    Raises
    ------
    FileNotFoundError
        If ``model_path`` does not exist.
    ValueError
        If it is not a face landmarker bundle or its mesh is malformed.

    Notes
    -----
    The mesh is parsed once per file path and modification time and cached.

    Examples
    --------
    >>> vertices, triangles = canonical_face_mesh("face_landmarker.task")  # doctest: +SKIP
    >>> vertices.shape, triangles.shape  # doctest: +SKIP
    ((468, 3), (898, 3))
    """
    path = Path(model_path)
    if not path.is_file():
        from ._landmarker import check_landmarker_file

        check_landmarker_file(path)  # raises the FileNotFoundError with the fix
    return _cached_mesh(str(path.resolve()), path.stat().st_mtime_ns)
