import numpy as np
import pytest
import torch

from skbiomech.physics import (
    check_mass_matrix,
    generalized_force,
    generalized_force_per_vertex,
    internal_force,
)


def _basis(face):
    return torch.tensor(face.blendshapes.reshape(face.n_blendshapes, -1))


def test_mass_matrix_is_hessian_of_kinetic_energy(small_face, small_reduced):
    basis = _basis(small_face)
    vertex_mass = torch.as_tensor(np.repeat(small_face.masses, 3))

    def kinetic_energy(velocity):
        return 0.5 * torch.sum(vertex_mass * (velocity @ basis) ** 2)

    hessian = torch.autograd.functional.hessian(kinetic_energy, torch.zeros(small_face.n_blendshapes, dtype=torch.float64))
    np.testing.assert_allclose(small_reduced.mass, hessian.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(small_reduced.paper_mass, 0.5 * small_reduced.mass)


def test_reduced_stiffness_is_jacobian_of_generalized_elastic_force(small_face, small_reduced, rng):
    basis = small_face.blendshapes.reshape(small_face.n_blendshapes, -1)
    direction = rng.normal(size=small_face.n_blendshapes)
    eps = 1e-6

    def generalized_elastic(c):
        return basis @ internal_force(small_face, (c @ basis).reshape(-1, 3))

    numeric = (generalized_elastic(eps * direction) - generalized_elastic(-eps * direction)) / (2 * eps)
    np.testing.assert_allclose(numeric, small_reduced.stiffness @ direction, rtol=1e-5)


def test_damping_is_rayleigh(small_face, small_reduced):
    alpha, beta = small_face.damping
    np.testing.assert_allclose(small_reduced.damping, alpha * small_reduced.mass + beta * small_reduced.stiffness)


def test_region_masses_sum_to_mass(small_reduced):
    np.testing.assert_allclose(small_reduced.region_masses.sum(0), small_reduced.mass, rtol=1e-12)
    assert len(small_reduced.region_names) == small_reduced.region_masses.shape[0] == 7


@pytest.mark.parametrize("force_model", ["vector", "activation"])
def test_generalized_force_is_vector_jacobian_product(small_face, small_reduced, force_model, rng):
    """Q = dW/dc, W the virtual work of the vertex forces along u(c) = B c."""
    basis = _basis(small_face)
    if force_model == "vector":
        muscle = rng.normal(size=(small_face.n_muscles, 3))
        vertex_forces = small_face.distribution @ muscle
    else:
        muscle = rng.uniform(size=small_face.n_muscles)
        vertex_forces = np.einsum("m,mnd->nd", muscle, small_face.muscle_force_patterns())
    c = torch.zeros(small_face.n_blendshapes, dtype=torch.float64, requires_grad=True)
    work = torch.dot(torch.as_tensor(vertex_forces.ravel()), c @ basis)
    (expected,) = torch.autograd.grad(work, c)
    q = generalized_force(torch.as_tensor(muscle), torch.as_tensor(small_reduced.force_operator(force_model)))
    np.testing.assert_allclose(q.numpy(), expected.numpy(), rtol=1e-10, atol=1e-9)


def test_operator_matches_per_vertex_eq9(small_face, small_reduced, rng):
    forces = rng.normal(size=(4, 2, small_face.n_muscles, 3))
    expected = generalized_force_per_vertex(forces, small_face.blendshapes, small_face.distribution)
    q = forces.reshape(4, 2, -1) @ small_reduced.force_vector.T
    np.testing.assert_allclose(q, expected, rtol=1e-10, atol=1e-8)


def test_generalized_force_errors(small_reduced):
    operator = torch.as_tensor(small_reduced.force_activation)
    with pytest.raises(ValueError, match="NaN"):
        generalized_force(torch.full((2, small_reduced.n_muscles), float("nan")), operator)
    with pytest.raises(ValueError, match="must have shape"):
        generalized_force(torch.zeros(2, 5), operator)
    with pytest.raises(TypeError, match="torch.Tensor"):
        generalized_force(np.zeros(3), operator)
    with pytest.raises(ValueError, match="force_model"):
        small_reduced.force_operator("scalar")


@pytest.mark.parametrize(
    "matrix, match",
    [
        (np.array([[1.0, 0.0], [0.0, -1.0]]), "not positive definite"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), "not symmetric"),
        (np.ones(3), "must be square"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
    ],
)
def test_check_mass_matrix(matrix, match):
    with pytest.raises(ValueError, match=match):
        check_mass_matrix(matrix)


def test_natural_frequencies_are_physiological(small_reduced):
    hz = small_reduced.natural_frequencies() / (2 * np.pi)
    assert 2 < hz.min() and hz.max() < 100
