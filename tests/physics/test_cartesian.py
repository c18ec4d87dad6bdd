import numpy as np
import pytest
import scipy.sparse.linalg as spla

from skbiomech.face import default_face_model, project_to_blendshapes
from skbiomech.physics import muscle_vertex_forces, simulate_cartesian, verify_reduction


@pytest.fixture(scope="module")
def verification():
    """The paper's Appendix B done right, on a ~1,000-vertex default face."""
    return verify_reduction(default_face_model(resolution=31))


def test_reduced_elastic_model_tracks_the_nonlinear_simulation(verification):
    errors = verification["trajectory_error"]
    assert 0.3 < verification["peak_displacement_cm"] < 1.0  # 3-10 mm expressions
    assert errors["elastic_foh"] <= 0.10
    assert errors["elastic_zoh"] <= 0.15
    assert verification["trajectory_error_vs_linear"]["elastic_foh"] <= 0.06
    # The paper's model (1/2 mass, no restoring force, unit Euler steps) drifts without bound.
    assert errors["paper"] > 1000 * errors["elastic_foh"]


def test_recovered_activations(verification):
    correlation = verification["activation_correlation"]
    assert correlation["elastic"] >= 0.99
    assert correlation["paper"] < 0  # its "forces" are mass times acceleration


def test_static_equilibrium_of_the_linear_simulation(small_face):
    activations = np.zeros((80, small_face.n_muscles))
    activations[1:, small_face.muscle_names.index("zygomaticus_major_L")] = 0.5
    vertices = simulate_cartesian(small_face, activations, nonlinear=False)
    expected = spla.spsolve(small_face.stiffness.tocsc(), muscle_vertex_forces(small_face, activations[-1]).ravel())
    np.testing.assert_allclose((vertices[-1] - small_face.vertices).ravel(), expected, atol=1e-5)
    # The blendshapes are those static responses: coefficient 0.5 on the muscle's own shape.
    c = project_to_blendshapes(vertices[-1], small_face)
    assert abs(c[small_face.muscle_names.index("zygomaticus_major_L")] - 0.5) < 1e-4


def test_small_motions_are_linear(small_face):
    activations = np.zeros((10, small_face.n_muscles))
    activations[2:, 0] = 0.05  # ~0.3 mm
    linear = simulate_cartesian(small_face, activations, nonlinear=False)
    nonlinear = simulate_cartesian(small_face, activations)
    motion = linear - small_face.vertices
    assert np.abs(nonlinear - linear).max() < 0.01 * np.abs(motion).max()


def test_muscle_vertex_forces(small_face, rng):
    activations = rng.uniform(size=(2, small_face.n_muscles))
    np.testing.assert_allclose(
        muscle_vertex_forces(small_face, activations)[1],
        np.einsum("m,mnd->nd", activations[1], small_face.muscle_force_patterns()),
    )
    vectors = rng.normal(size=(2, small_face.n_muscles, 3))
    np.testing.assert_allclose(muscle_vertex_forces(small_face, vectors), small_face.distribution @ vectors)
    motion = simulate_cartesian(small_face, 0.1 * vectors) - small_face.vertices
    assert motion.shape == (2, small_face.n_vertices, 3) and np.abs(motion[1]).max() > 0


@pytest.mark.parametrize(
    "forces, match",
    [
        (np.zeros((5, 3)), "must have shape"),
        (np.full((5, 37), np.nan), "NaN"),
        (np.zeros(37), "one sequence"),
    ],
)
def test_bad_forces(small_face, forces, match):
    with pytest.raises(ValueError, match=match):
        simulate_cartesian(small_face, forces)


def test_bad_options(small_face):
    forces = np.zeros((3, small_face.n_muscles))
    with pytest.raises(ValueError, match="hold"):
        simulate_cartesian(small_face, forces, hold="cubic")
    with pytest.raises(ValueError, match="substeps"):
        simulate_cartesian(small_face, forces, substeps=0)


def test_huge_forces_report_non_convergence(small_face):
    forces = np.zeros((3, small_face.n_muscles))
    forces[1:, 0] = 1e4
    with pytest.raises(RuntimeError, match="did not converge"):
        simulate_cartesian(small_face, forces, max_iter=3)


@pytest.mark.parametrize("nonlinear", [False, True])
def test_equilibrium_start_stays_put_under_constant_forces(small_face, nonlinear):
    activations = np.zeros((6, small_face.n_muscles))
    activations[:, small_face.muscle_names.index("frontalis_medialis_L")] = 0.4
    vertices = simulate_cartesian(small_face, activations, nonlinear=nonlinear, start="equilibrium")
    motion = vertices - small_face.vertices
    assert np.abs(motion[0]).max() > 0.1  # already raised at frame 0
    np.testing.assert_allclose(motion[1:], np.broadcast_to(motion[0], motion[1:].shape), atol=1e-6)
    with pytest.raises(ValueError, match="start"):
        simulate_cartesian(small_face, activations, start="moving")
