"""MediaPipe's landmarks on the ICT-FaceKit mesh, and the fit against known ground truth."""

from pathlib import Path

import numpy as np
import pytest

from skbiomech.video._correspondence import (
    GAZE_SHAPES,
    build_correspondence,
    closest_points_on_mesh,
    landmark_basis,
)
from skbiomech.video._fit import euler_to_rotation, fit_expressions, fit_identity, landmarks_to_points

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ICT = DATA / "ict-facekit" / "FaceXModel"
TASK = DATA / "media" / "face_landmarker.task"
pytestmark = pytest.mark.skipif(not (ICT.is_dir() and TASK.is_file()), reason="shared ICT-FaceKit data absent")


@pytest.fixture(scope="module")
def ict():
    from skbiomech.video._fetch import load_ict_face

    return load_ict_face(ICT, n_identities=20)


@pytest.fixture(scope="module")
def correspondence(ict):
    from skbiomech.video._canonical import ICT_68, MEDIAPIPE_68, canonical_face_mesh

    face, identities = ict
    vertices, triangles = canonical_face_mesh(TASK)
    return build_correspondence(face, identities, vertices, triangles, MEDIAPIPE_68, ICT_68)


def test_closest_points_against_brute_force_sampling():
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(30, 3))
    triangles = rng.integers(0, 30, size=(40, 3))
    triangles = triangles[(triangles[:, 0] != triangles[:, 1]) & (triangles[:, 1] != triangles[:, 2]) & (triangles[:, 0] != triangles[:, 2])]
    queries = rng.normal(size=(20, 3))
    tri, bary, dist = closest_points_on_mesh(queries, vertices, triangles, candidates=len(triangles))
    # Reference: dense barycentric sampling of every triangle.
    u, v = np.meshgrid(np.linspace(0, 1, 121), np.linspace(0, 1, 121))
    keep = u + v <= 1
    weights = np.c_[1 - u[keep] - v[keep], u[keep], v[keep]]
    samples = np.einsum("sk,fkc->fsc", weights, vertices[triangles]).reshape(-1, 3)
    reference = np.linalg.norm(queries[:, None] - samples[None], axis=2).min(axis=1)
    assert np.all(dist <= reference + 1e-9)
    np.testing.assert_allclose(dist, reference, atol=0.02)
    points = np.einsum("pk,pkc->pc", bary, vertices[triangles[tri]])
    np.testing.assert_allclose(np.linalg.norm(points - queries, axis=1), dist, atol=1e-9)


def test_correspondence_covers_the_face(correspondence):
    on_surface = correspondence.weights > 0
    assert on_surface.sum() >= 400  # of 468: most of MediaPipe's mesh lies on ICT's face
    assert np.median(correspondence.distance[on_surface]) < 0.3  # cm, after the shape fit
    np.testing.assert_allclose(correspondence.barycentric.sum(axis=1), 1.0)


def test_basis_leaves_out_the_gaze_shapes(ict, correspondence):
    face, identities = ict
    basis = landmark_basis(face, identities, correspondence)
    assert not any(name.startswith(GAZE_SHAPES) for name in basis.expression_names)
    assert len(basis.expression_names) == 45  # 53 ICT expressions less 8 gaze shapes
    assert basis.identities.shape == (20, 468, 3)


def _frames(face, identities, correspondence, basis, rng, n_frames=40):
    """Landmarks as MediaPipe reports them, for known identity, expressions and pose."""
    identity = rng.normal(scale=0.7, size=len(identities))
    names = list(face.blendshape_names)
    columns = [names.index(n) for n in basis.expression_names]
    truth = np.zeros((n_frames, len(columns)))
    for t in range(n_frames):  # a few shapes at a time, as in real expressions
        active = rng.choice(len(columns), size=rng.integers(1, 4), replace=False)
        truth[t, active] = rng.uniform(0.2, 1.0, size=len(active))
    truth[: n_frames // 4] = 0.0  # and some neutral frames
    angles = np.c_[rng.uniform(-15, 15, n_frames), rng.uniform(-25, 25, n_frames), rng.uniform(-10, 10, n_frames)]
    rotation = euler_to_rotation(np.deg2rad(angles))
    mesh = face.vertices + np.tensordot(identity, identities, axes=1)
    mesh = mesh + np.tensordot(truth, face.blendshapes[columns], axes=1)  # (T, N, 3)
    points = correspondence.sample(mesh)  # (T, 468, 3), cm
    width, height = 640, 480
    pixels = 16.0 * np.einsum("tij,tlj->tli", rotation, points) + np.array([320.0, -250.0, 0.0])
    landmarks = pixels / np.array([width, -height, -width])
    landmarks += rng.normal(size=landmarks.shape) * np.array([0.7 / width, 0.7 / height, 1.5 / width])
    return landmarks_to_points(landmarks, width, height), truth, rotation, identity


def test_fit_recovers_expressions_and_pose_of_a_known_face(ict, correspondence):
    face, identities = ict
    # The synthetic landmarks come from the model itself, so its own neutral is the truth.
    basis = landmark_basis(face, identities, correspondence, neutral="model")
    rng = np.random.default_rng(0)
    points, truth, rotation, _ = _frames(face, identities, correspondence, basis, rng)
    identity = fit_identity(basis, points)
    fit = fit_expressions(basis, points, identity=identity)
    rms = np.sqrt(np.mean((fit.coefficients - truth) ** 2))
    relative = np.einsum("tji,tjk->tik", fit.rotation, rotation)
    angle = np.rad2deg(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    print(f"coefficient RMS error {rms:.4f}, rotation error max {angle.max():.3f} deg")
    assert rms < 0.05
    assert angle.max() < 2.0
