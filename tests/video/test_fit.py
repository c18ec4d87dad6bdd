"""The landmark fit against independent references and known ground truth."""

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import lsq_linear
from scipy.spatial.transform import Rotation

from skbiomech.video._fit import (
    LandmarkBasis,
    euler_to_rotation,
    fit_expressions,
    fit_identity,
    landmarks_to_points,
    rotation_to_euler,
    similarity_align,
    solve_box_qp,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_similarity_align_recovers_a_known_transform(seed):
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(4, 50, 3))
    rotation = Rotation.random(4, random_state=seed).as_matrix()
    scale = rng.uniform(0.5, 20.0, size=4)
    shift = rng.normal(scale=10.0, size=(4, 3))
    target = scale[:, None, None] * np.einsum("tij,tlj->tli", rotation, source) + shift[:, None]
    weights = rng.uniform(0.1, 1.0, size=50)
    s, r, t = similarity_align(source, target, weights)
    np.testing.assert_allclose(s, scale, rtol=1e-10)
    np.testing.assert_allclose(r, rotation, atol=1e-10)
    np.testing.assert_allclose(t, shift, atol=1e-8)


def test_similarity_align_never_returns_a_reflection():
    rng = np.random.default_rng(3)
    source = rng.normal(size=(1, 30, 3))
    mirrored = source * np.array([-1.0, 1.0, 1.0])
    _, rotation, _ = similarity_align(source, mirrored, np.ones(30))
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_box_qp_matches_scipy_bounded_least_squares(seed):
    rng = np.random.default_rng(seed)
    design = rng.normal(size=(40, 12)) @ np.diag(rng.uniform(0.05, 2.0, 12))
    targets = rng.normal(size=(5, 40))
    hessian = design.T @ design
    ours = solve_box_qp(hessian, targets @ design, n_iter=3000)
    for row, target in zip(ours, targets):
        reference = lsq_linear(design, target, bounds=(0.0, 1.0), tol=1e-12).x
        np.testing.assert_allclose(row, reference, atol=1e-5)


def test_euler_round_trip_and_order():
    angles = np.array([[0.2, -0.3, 0.5], [-1.0, 0.7, 2.0]])
    np.testing.assert_allclose(rotation_to_euler(euler_to_rotation(angles)), angles, atol=1e-12)
    # Rx @ Ry @ Rz is scipy's intrinsic "XYZ".
    np.testing.assert_allclose(euler_to_rotation(angles), Rotation.from_euler("XYZ", angles).as_matrix(), atol=1e-12)


def test_landmarks_to_points_flips_image_axes_to_model_axes():
    points = landmarks_to_points(np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 0.1]]]), 200, 100)
    np.testing.assert_allclose(points, [[[0.0, 0.0, 0.0], [200.0, -100.0, -20.0]]])


def _random_basis(rng, n_landmarks=60, n_shapes=6, n_modes=4):
    return LandmarkBasis(
        rng.normal(scale=5.0, size=(n_landmarks, 3)),
        rng.normal(scale=0.4, size=(n_shapes, n_landmarks, 3)),
        rng.normal(scale=0.3, size=(n_modes, n_landmarks, 3)),
        np.ones(n_landmarks),
        [f"shape{j}" for j in range(n_shapes)],
    )


def _observe(basis, coefficients, identity, angles_deg, rng, noise=0.0, scale=20.0):
    n = len(coefficients)
    rotation = euler_to_rotation(np.deg2rad(angles_deg))
    shape = basis.neutral(identity) + np.tensordot(coefficients, basis.expressions, axes=1)
    points = scale * np.einsum("tij,tlj->tli", rotation, shape) + np.array([300.0, -200.0, 10.0])
    return points + rng.normal(scale=noise, size=points.shape), rotation[:n]


def test_exact_data_is_fitted_exactly():
    rng = np.random.default_rng(0)
    basis = _random_basis(rng)
    truth = rng.uniform(0, 1, size=(8, 6)) * (rng.uniform(size=(8, 6)) < 0.5)
    angles = rng.uniform(-30, 30, size=(8, 3))
    points, rotation = _observe(basis, truth, None, angles, rng)
    fit = fit_expressions(basis, points, regularization=1e-10, n_iter=30, qp_iter=200)
    np.testing.assert_allclose(fit.coefficients, truth, atol=1e-4)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-5)
    np.testing.assert_allclose(fit.scale, 20.0, rtol=1e-5)
    assert fit.residual.max() < 1e-4


def test_identity_is_recovered_over_frames():
    rng = np.random.default_rng(1)
    basis = _random_basis(rng)
    identity = rng.normal(size=4)
    truth = rng.uniform(0, 1, size=(60, 6)) * (rng.uniform(size=(60, 6)) < 0.3)
    points, _ = _observe(basis, truth, identity, rng.uniform(-20, 20, size=(60, 3)), rng, noise=0.05)
    estimate = fit_identity(basis, points, prior=1e-3, n_rounds=6, regularization=1e-6, n_iter=8)
    np.testing.assert_allclose(estimate, identity, atol=0.05)
    # Without it, the person's face shape leaks into the expression coefficients.
    with_identity = fit_expressions(basis, points, identity=estimate, regularization=1e-6)
    without = fit_expressions(basis, points, regularization=1e-6)
    error = lambda fit: np.sqrt(np.mean((fit.coefficients - truth) ** 2))  # noqa: E731
    assert error(with_identity) < 0.5 * error(without)
