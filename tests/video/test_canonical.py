"""MediaPipe's canonical face mesh read from the .task file, and the 68-landmark lists."""

import json
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skbiomech.video._canonical import (
    IBUG_68_GROUPS,
    ICT_68,
    JAW_CONTOUR,
    MEDIAPIPE_68,
    _parse_mesh,
    canonical_face_mesh,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TASK = DATA / "media" / "face_landmarker.task"
ICT = DATA / "ict-facekit"

# iBUG-68 left/right partners (the rest lie on the midline).
_MIRROR = {
    **{i: 16 - i for i in range(17)},
    **{17 + i: 26 - i for i in range(10)},
    31: 35, 32: 34, 35: 31, 34: 32,
    36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,
    48: 54, 49: 53, 50: 52, 55: 59, 56: 58,
    60: 64, 61: 63, 65: 67,
}  # fmt: skip
_MIRROR.update({v: k for k, v in list(_MIRROR.items())})
_MIDLINE = [27, 28, 29, 30, 33, 51, 57, 62, 66]


@pytest.fixture(scope="module")
def mesh():
    if not TASK.exists():
        pytest.skip(f"{TASK} not found")
    return canonical_face_mesh(TASK)


def test_mesh_shape_units_and_axes(mesh):
    vertices, triangles = mesh
    assert vertices.shape == (468, 3) and vertices.dtype == np.float64
    assert triangles.shape == (898, 3) and np.issubdtype(triangles.dtype, np.integer)
    assert np.array_equal(np.unique(triangles), np.arange(468))  # every vertex on a triangle
    extent = np.ptp(vertices, axis=0)
    assert 14 < extent[0] < 17 and 15 < extent[1] < 19 and 8 < extent[2] < 12  # cm
    right_eye, left_eye, nose_tip, chin, forehead = vertices[[33, 263, 1, 152, 10]]
    assert right_eye[0] < -3 and left_eye[0] > 3  # x toward the subject's left
    assert forehead[1] - chin[1] > 15  # y up
    assert np.argmax(vertices[:, 2]) in (1, 4)  # z toward the viewer: the nose tip is frontmost
    normals = np.cross(*(vertices[triangles[:, 1:]] - vertices[triangles[:, :1]]).transpose(1, 0, 2))
    assert (normals[:, 2] > 0).mean() > 0.8  # counter-clockwise seen from the front


def test_mesh_is_cached_and_read_only(mesh):
    again = canonical_face_mesh(str(TASK))
    assert again[0] is mesh[0]
    with pytest.raises(ValueError, match="read-only"):
        mesh[0][0, 0] = 1.0


def _encode_packed(vertices5, indices):
    """A Mesh3d with packed repeated fields, as a proto3-style writer would emit."""

    def varint(n):
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    floats = struct.pack(f"<{vertices5.size}f", *vertices5.ravel())
    ints = b"".join(varint(int(i)) for i in indices.ravel())
    mesh = b"\x08\x00\x10\x00" + b"\x1a" + varint(len(floats)) + floats + b"\x22" + varint(len(ints)) + ints
    return b"\x18\x01" + b"\x0a" + varint(len(mesh)) + mesh


def test_the_reader_also_takes_packed_fields(mesh):
    raw = zipfile.ZipFile(TASK).read("geometry_pipeline_metadata_landmarks.binarypb")
    vertex_buffer, index_buffer = _parse_mesh(raw)
    again = _parse_mesh(_encode_packed(vertex_buffer.reshape(-1, 5), index_buffer))
    np.testing.assert_array_equal(again[0], vertex_buffer)
    np.testing.assert_array_equal(again[1], index_buffer)
    np.testing.assert_array_equal(vertex_buffer.reshape(-1, 5)[:, :3], mesh[0])


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


_TFLITE = b"\x00\x00\x00\x00TFL3" + b"\x00" * 8
_GEOMETRY = "geometry_pipeline_metadata_landmarks.binarypb"
_ONE_FLOAT = b"\x0a\x05\x1d\x00\x00\x80\x3f"  # canonical_mesh { vertex_buffer: 1.0 }
_MODELS = {n: _TFLITE for n in ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")}


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda d: d / "absent.task", FileNotFoundError, r"absent\.task does not exist.*SKBIOMECH_FACE_LANDMARKER"),
        (lambda d: _zip(d / "other.task", {"hand_landmarker.tflite": _TFLITE}), ValueError, "lacks"),
        (
            lambda d: _zip(d / "bad_mesh.task", {**_MODELS, _GEOMETRY: b"\x0a\x05ab"}),
            ValueError,
            rf"bad_mesh\.task: its member {_GEOMETRY} is not a readable",
        ),
        (
            # another member name with the same prefix, and a mesh of one float
            lambda d: _zip(d / "small_mesh.task", {**_MODELS, "geometry_pipeline_metadata.binarypb": _ONE_FLOAT}),
            ValueError,
            r"small_mesh\.task: its canonical mesh has 1 vertex floats",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        canonical_face_mesh(make(tmp_path))


def test_landmark_lists_are_68_valid_indices():
    assert len(MEDIAPIPE_68) == len(ICT_68) == 68
    assert len(set(MEDIAPIPE_68)) == 68 and len(set(ICT_68)) == 68
    assert all(0 <= i < 468 for i in MEDIAPIPE_68)
    assert all(0 <= i < 9409 for i in ICT_68)  # ICT's face region
    assert JAW_CONTOUR == tuple(range(17))
    assert sorted(sum(IBUG_68_GROUPS.values(), ())) == list(range(68))


def test_ict_68_is_the_list_in_ict_facekits_readme():
    readme = ICT / "README.md"
    if not readme.exists():
        pytest.skip(f"{readme} not found")
    text = readme.read_text()
    block = text.split("Multi-PIE 68 point facial landmarks indices:")[1].split("!")[0]
    assert tuple(int(n) for n in re.findall(r"\d+", block)) == ICT_68
    index = json.loads((ICT / "FaceXModel" / "vertex_indices.json").read_text())
    assert tuple(index["idx_to_landmark_verts"]) == ICT_68


def test_mediapipe_68_is_left_right_symmetric_on_the_canonical_mesh(mesh):
    points = mesh[0][list(MEDIAPIPE_68)]
    mirrored = points * [-1, 1, 1]
    for i, j in _MIRROR.items():
        np.testing.assert_allclose(points[i], mirrored[j], atol=1e-4, err_msg=f"iBUG {i} vs {j}")
    np.testing.assert_allclose(points[_MIDLINE, 0], 0.0, atol=1e-4)
    assert points[0, 0] < 0 < points[16, 0]  # iBUG 0 is the subject's right, at the image's left
    assert points[36, 0] < points[39, 0] < 0 < points[42, 0] < points[45, 0]


def _umeyama(source, target):
    """Least-squares similarity target ~ s R source + t (Umeyama 1991)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / (a**2).sum(1).mean()
    return scale, rotation, mu_t - scale * rotation @ mu_s


@pytest.fixture(scope="module")
def ict_face():
    if not (ICT / "FaceXModel").exists():
        pytest.skip(f"ICT-FaceKit data not found at {ICT}")
    from skbiomech.face import load_ict_facekit

    return load_ict_facekit(ICT / "FaceXModel")


def test_ict_68_indexes_the_loaded_face_directly(ict_face):
    lines = (ICT / "FaceXModel" / "generic_neutral_mesh.obj").read_text().splitlines()
    obj = np.array([line.split()[1:4] for line in lines if line.startswith("v ")][:9409], dtype=np.float64)
    assert ict_face.vertices.shape == (9409, 3)
    np.testing.assert_allclose(ict_face.vertices[list(ICT_68)], obj[list(ICT_68)], atol=1e-6)


def test_mediapipe_68_lands_on_ict_68_after_a_similarity(mesh, ict_face):
    source = mesh[0][list(MEDIAPIPE_68)]
    target = ict_face.vertices[list(ICT_68)]
    inner = [i for i in range(68) if i not in JAW_CONTOUR]  # contours are silhouettes, not fitted
    scale, rotation, shift = _umeyama(source[inner], target[inner])
    angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
    error = np.linalg.norm(scale * source @ rotation.T + shift - target, axis=1)
    mean = {group: error[list(index)].mean() for group, index in IBUG_68_GROUPS.items()}
    # Measured: scale 1.010, 3.0 degrees; eyes 0.20 cm, lips 0.26, brows 0.34, nose 0.42, jaw 1.35.
    assert scale == pytest.approx(1.01, abs=0.02)
    assert 2.0 < angle < 4.0
    assert mean["eyes"] < 0.25 and mean["lips"] < 0.3 and mean["brows"] < 0.4 and mean["nose"] < 0.5
    assert 1.0 < mean["jaw"] < 1.7
    assert error[inner].max() < 0.9
