import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.stats import ortho_group

from skbiomech.physics import (
    DYNAMICS,
    ReducedDynamics,
    discretize,
    explicit_rollout,
    impulse_response_matrix,
    impulse_rollout,
    linear_rollout,
    paper_rollout,
    rollout,
    stable_substeps,
)
from skbiomech.physics._discretize import state_matrices, substep_matrix

DT = 0.05
# Three independent oscillators (underdamped, lightly damped, near critical),
# rotated by a fixed orthogonal matrix so that the coupled system is tested.
STIFFNESS = np.array([40.0, 400.0, 90.0])
DAMPING = np.array([1.0, 0.4, 17.0])
ROTATION = ortho_group.rvs(3, random_state=0)


def _system(dtype=torch.float64):
    mass = np.eye(3)
    stiffness = ROTATION @ np.diag(STIFFNESS) @ ROTATION.T
    damping = ROTATION @ np.diag(DAMPING) @ ROTATION.T
    return tuple(torch.as_tensor(m, dtype=dtype) for m in (mass, stiffness, damping))


def _free_response(t, k, d, c0, v0):
    """Analytic c(t) of c'' + d c' + k c = 0 (unit mass, underdamped)."""
    w0 = np.sqrt(k)
    zeta = d / (2 * w0)
    wd = w0 * np.sqrt(1 - zeta**2)
    decay = np.exp(-zeta * w0 * t)
    return decay * (c0 * np.cos(wd * t) + (v0 + zeta * w0 * c0) / wd * np.sin(wd * t))


def _modal_step_response(t, force):
    """Analytic response to a constant force ``force`` (3,) in modal coordinates."""
    y = np.stack([f / k - _free_response(t, k, d, f / k, 0.0) for k, d, f in zip(STIFFNESS, DAMPING, force)], -1)
    return y @ ROTATION.T


def _modal_ramp_response(t, rate):
    """Analytic response to force ``rate * t``: particular (t - d/k) r/k plus free part."""
    out = []
    for k, d, r in zip(STIFFNESS, DAMPING, rate):
        particular = r / k * (t - d / k)
        out.append(particular + _free_response(t, k, d, r * d / k**2, -r / k))
    return np.stack(out, -1) @ ROTATION.T


@pytest.mark.parametrize("hold", ["zero", "first"])
@pytest.mark.parametrize("integrator", ["exact", "impulse"])
def test_exact_step_response_matches_analytic(hold, integrator):
    modal_force = np.array([4.0, -2.0, 9.0])
    t = np.arange(80) * DT
    forces = torch.as_tensor(np.tile(modal_force @ ROTATION.T, (80, 1)))
    c = rollout(forces, *_system(), DT, hold=hold, integrator=integrator)
    np.testing.assert_allclose(c.numpy(), _modal_step_response(t, modal_force), atol=1e-10)


@pytest.mark.parametrize("integrator", ["exact", "impulse"])
def test_first_order_hold_is_exact_for_ramps(integrator):
    rate = np.array([3.0, 1.0, -2.0])
    t = np.arange(60) * DT
    forces = torch.as_tensor(t[:, None] * (rate @ ROTATION.T))
    c = rollout(forces, *_system(), DT, hold="first", integrator=integrator)
    np.testing.assert_allclose(c.numpy(), _modal_ramp_response(t, rate), atol=1e-10)
    zoh = rollout(forces, *_system(), DT, hold="zero")
    assert np.abs(zoh.numpy() - _modal_ramp_response(t, rate)).max() > 1e-3


def test_free_vibration_from_initial_state():
    c0, v0 = np.array([1.0, -0.5, 0.2]), np.array([0.0, 3.0, -1.0])
    state = torch.as_tensor(np.concatenate([ROTATION @ c0, ROTATION @ v0]))
    t = np.arange(50) * DT
    c = rollout(torch.zeros(50, 3, dtype=torch.float64), *_system(), DT, initial_state=state)
    expected = np.stack([_free_response(t, k, d, a, b) for k, d, a, b in zip(STIFFNESS, DAMPING, c0, v0)], -1)
    np.testing.assert_allclose(c.numpy(), expected @ ROTATION.T, atol=1e-10)


def test_static_equilibrium_under_constant_force():
    mass, stiffness, damping = _system()
    q = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
    forces = q.expand(4000, 3)  # the lightest mode decays at 0.2 /s
    equilibrium = torch.linalg.solve(stiffness, q)
    elastic = rollout(forces, mass, stiffness, damping, DT)
    quasistatic = rollout(forces, mass, stiffness, damping, DT, dynamics="quasistatic")
    np.testing.assert_allclose(elastic[-1].numpy(), equilibrium.numpy(), atol=1e-8)
    np.testing.assert_allclose(quasistatic.numpy(), equilibrium.expand(4000, 3).numpy(), atol=1e-12)


def _smooth_forces(n_frames, batch=()):
    t = torch.arange(n_frames, dtype=torch.float64) * DT
    base = torch.stack([torch.sin(3 * t), torch.cos(5 * t) ** 2, t * torch.exp(-t)], -1) * 10
    return base.expand(*batch, n_frames, 3).clone()


@pytest.mark.parametrize("hold", ["zero", "first"])
def test_exact_step_matches_fine_rk4(hold):
    forces = _smooth_forces(40)
    exact = rollout(forces, *_system(), DT, hold=hold)
    rk4 = rollout(forces, *_system(), DT, hold=hold, integrator="rk4", substeps=200)
    np.testing.assert_allclose(exact.numpy(), rk4.numpy(), atol=1e-9)


def test_first_order_hold_beats_zero_order_hold_on_smooth_forces():
    """Against solve_ivp on the continuous forces, FOH is several times closer."""
    mass, stiffness, damping = (m.numpy() for m in _system())
    t_frames = np.arange(40) * DT

    def force(t):
        return 10 * np.array([np.sin(3 * t), np.cos(5 * t) ** 2, t * np.exp(-t)])

    def rhs(t, x):
        return np.concatenate([x[3:], force(t) - stiffness @ x[:3] - damping @ x[3:]])

    reference = solve_ivp(rhs, (0, t_frames[-1]), np.zeros(6), t_eval=t_frames, rtol=1e-11, atol=1e-12).y[:3].T
    forces = _smooth_forces(40)
    errors = {
        hold: np.abs(rollout(forces, *_system(), DT, hold=hold).numpy() - reference).max()
        for hold in ("zero", "first")
    }
    assert errors["first"] * 5 < errors["zero"]


@pytest.mark.parametrize("hold", ["zero", "first"])
def test_impulse_matrix_equals_recurrence(hold):
    forces = _smooth_forces(12, batch=(4,))
    state = torch.randn(4, 6, dtype=torch.float64)
    step = discretize(*_system(), DT, hold=hold)
    recurrence = linear_rollout(forces, step, state)[..., :3]
    response = impulse_response_matrix(step, 12)
    np.testing.assert_allclose(impulse_rollout(forces, response, state).numpy(), recurrence.numpy(), atol=1e-12)


def test_paper_mode_reproduces_eq6_literally():
    mass, _, _ = _system()
    mass = mass * 2.0
    forces = _smooth_forces(15)
    state = torch.tensor([0.1, 0.0, -0.2, 0.01, 0.02, 0.0], dtype=torch.float64)
    c, v = state[:3].clone(), state[3:].clone()
    expected = []
    for t in range(15):
        expected.append(c.clone())
        acceleration = torch.linalg.solve(mass, forces[t])
        c = c + v  # Eq. 6, unit step: position first with the old velocity
        v = v + acceleration
    got = rollout(forces, mass, None, None, DT, dynamics="paper", initial_state=state)
    np.testing.assert_allclose(got.numpy(), torch.stack(expected).numpy(), rtol=1e-12, atol=1e-12)
    states = paper_rollout(forces, mass, state)
    assert states.shape == (15, 6)


@pytest.mark.parametrize("integrator", ["euler", "semi_implicit", "rk4"])
def test_stable_substeps_is_the_stability_threshold(integrator):
    mass, stiffness, damping = (m.numpy() for m in _system())
    n = stable_substeps(mass, stiffness, damping, DT, integrator)
    a, _ = state_matrices(*_system())
    radius = lambda count: np.abs(np.linalg.eigvals(substep_matrix(a.numpy(), DT / count, integrator))).max()  # noqa: E731
    assert radius(n) <= 1 + 1e-12
    if n > 1:
        assert radius(n - 1) > 1
    states = explicit_rollout(_smooth_forces(30), *_system(), DT, integrator)
    assert torch.isfinite(states).all() and states.abs().max() < 10


def test_too_few_substeps_are_refused():
    needed = stable_substeps(*_system(), DT, "euler")
    assert needed > 1
    with pytest.raises(ValueError, match=f"needs at least {needed}"):
        rollout(_smooth_forces(5), *_system(), DT, integrator="euler", substeps=needed - 1)


def test_one_step_per_frame_euler_is_unstable_for_the_elastic_model(small_reduced):
    mass, stiffness, damping = (small_reduced.mass, small_reduced.stiffness, small_reduced.damping)
    assert stable_substeps(mass, stiffness, damping, 1 / 30, "euler") > 1
    assert stable_substeps(mass, stiffness, damping, 1 / 30, "semi_implicit") > 1


@pytest.mark.parametrize("dynamics", DYNAMICS)
@pytest.mark.parametrize("integrator", ["exact", "impulse"])
def test_gradcheck(dynamics, integrator):
    forces = (torch.randn(2, 4, 2, dtype=torch.float64)).requires_grad_()
    mass = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64, requires_grad=True)
    stiffness = torch.tensor([[20.0, -2.0], [-2.0, 8.0]], dtype=torch.float64, requires_grad=True)
    damping = torch.tensor([[1.0, 0.1], [0.1, 0.5]], dtype=torch.float64, requires_grad=True)

    def run(q, m, k, d):
        m = 0.5 * (m + m.T)  # gradcheck perturbs entries one at a time
        return rollout(q, m, k, d, 0.1, dynamics=dynamics, integrator=integrator)

    assert torch.autograd.gradcheck(run, (forces, mass, stiffness, damping))


@pytest.mark.parametrize("batch", [(0,), (1,), (2,), (2, 3)])
@pytest.mark.parametrize("n_frames", [1, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(batch, n_frames, dtype):
    forces = torch.randn(*batch, n_frames, 3, dtype=dtype)
    for dynamics in DYNAMICS:
        for integrator in ("exact", "impulse"):
            c = rollout(forces, *_system(dtype), DT, dynamics=dynamics, integrator=integrator)
            assert c.shape == forces.shape and c.dtype == dtype
    states = rollout(forces, *_system(dtype), DT, return_states=True)
    assert states.shape == (*batch, n_frames, 6)


def test_batched_mass_matrices():
    mass, stiffness, damping = _system()
    masses = torch.stack([mass, 2 * mass])
    forces = _smooth_forces(10, batch=(2,))
    both = rollout(forces, masses, stiffness, damping, DT)
    np.testing.assert_allclose(both[1].numpy(), rollout(forces[1], 2 * mass, stiffness, damping, DT).numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(forces=torch.full((5, 3), float("nan"), dtype=torch.float64)), ValueError, "NaN"),
        (dict(forces=torch.zeros(5, 4, dtype=torch.float64)), ValueError, "K=3"),
        (dict(forces=np.zeros((5, 3))), TypeError, "torch.Tensor"),
        (dict(forces=torch.zeros(5, 3, dtype=torch.int64)), TypeError, "floating point"),
        (dict(dynamics="newton"), ValueError, "dynamics must be one of"),
        (dict(integrator="leapfrog"), ValueError, "integrator must be one of"),
        (dict(hold="second"), ValueError, "hold must be one of"),
        (dict(mass=-torch.eye(3, dtype=torch.float64)), ValueError, "not positive definite"),
        (dict(initial_state=torch.zeros(5, dtype=torch.float64)), ValueError, "initial_state"),
        (dict(dynamics="quasistatic", return_states=True), ValueError, "no velocity"),
    ],
)
def test_rollout_errors(kwargs, error, match):
    mass, stiffness, damping = _system()
    args = dict(forces=torch.zeros(5, 3, dtype=torch.float64), mass=mass, stiffness=stiffness, damping=damping, dt=DT)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        rollout(**args)


def test_nonpositive_dt_is_refused():
    with pytest.raises(ValueError, match="dt must be a positive"):
        discretize(*_system(), 0.0)


# -- the nn.Module -----------------------------------------------------------------


@pytest.mark.parametrize("integrator", ["exact", "impulse", "rk4"])
@pytest.mark.parametrize("hold", ["zero", "first"])
def test_module_matches_functional(small_reduced, integrator, hold):
    decoder = ReducedDynamics(small_reduced, integrator=integrator, hold=hold)
    activations = torch.rand(3, 6, small_reduced.n_muscles, dtype=torch.float64)
    forces = activations @ torch.as_tensor(small_reduced.force_activation).T
    system = (torch.as_tensor(m) for m in (small_reduced.mass, small_reduced.stiffness, small_reduced.damping))
    expected = rollout(forces, *system, 1 / 30, hold=hold, integrator=integrator)
    np.testing.assert_allclose(decoder(activations).numpy(), expected.numpy(), atol=1e-10 * expected.abs().max().item())


def test_module_has_no_weights_and_caches_the_transition(small_reduced):
    decoder = ReducedDynamics(small_reduced)
    assert list(decoder.parameters()) == []
    activations = torch.rand(2, 5, small_reduced.n_muscles)
    first = decoder(activations)
    assert first.dtype == torch.float32 and torch.float32 in decoder._cache
    cached = dict(decoder._cache)
    assert torch.equal(decoder(activations), first)
    assert decoder._cache.keys() == cached.keys()  # nothing recomputed
    decoder.to(torch.float64)
    assert decoder._cache == {}


def test_module_vector_forces_and_paper_mode(small_reduced):
    vector = ReducedDynamics(small_reduced, force_model="vector")
    out = vector(torch.randn(2, 5, small_reduced.n_muscles, 3))
    assert out.shape == (2, 5, small_reduced.n_blendshapes)
    paper = ReducedDynamics(small_reduced, dynamics="paper")
    torch.testing.assert_close(paper.mass, torch.as_tensor(small_reduced.paper_mass))


def test_module_region_masses(small_reduced):
    decoder = ReducedDynamics(small_reduced)
    scales = torch.ones(2, len(small_reduced.region_names), dtype=torch.float64)
    scales[1] *= 3.0
    masses = decoder.region_mass(scales)
    torch.testing.assert_close(masses[0], decoder.mass)
    activations = torch.rand(2, 6, small_reduced.n_muscles, dtype=torch.float64)
    out = decoder(activations, mass=masses)
    torch.testing.assert_close(out[0], decoder(activations[:1])[0])
    assert not torch.allclose(out[1], out[0])


def test_module_pickles_without_its_cache(small_reduced):
    import pickle

    decoder = ReducedDynamics(small_reduced, integrator="impulse")
    x = torch.rand(2, 5, small_reduced.n_muscles)
    expected = decoder(x)
    assert decoder._cache
    loaded = pickle.loads(pickle.dumps(decoder))
    assert loaded._cache == {} and decoder._cache
    torch.testing.assert_close(loaded(x), expected)


def test_module_state_dict_round_trip(small_reduced):
    decoder = ReducedDynamics(small_reduced)
    other = ReducedDynamics(small_reduced)
    other.load_state_dict(decoder.state_dict())
    x = torch.rand(1, 4, small_reduced.n_muscles)
    torch.testing.assert_close(other(x), decoder(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(dynamics="euler"), "dynamics"), (dict(force_model="scalar"), "force_model"), (dict(dt=-1.0), "dt")],
)
def test_module_errors(small_reduced, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReducedDynamics(small_reduced, **kwargs)
    with pytest.raises(TypeError, match="ReducedModel"):
        ReducedDynamics(np.eye(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_module_on_cuda_matches_cpu(small_reduced):
    decoder = ReducedDynamics(small_reduced, integrator="impulse")
    activations = torch.rand(8, 16, small_reduced.n_muscles)
    expected = decoder(activations)
    got = decoder.to("cuda")(activations.to("cuda"))
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)


def test_impulse_with_per_sample_mass_equals_exact(small_reduced):
    decoder = ReducedDynamics(small_reduced, integrator="impulse")
    exact = ReducedDynamics(small_reduced)
    scales = torch.rand(3, len(small_reduced.region_names), dtype=torch.float64) + 0.5
    activations = torch.rand(3, 6, small_reduced.n_muscles, dtype=torch.float64)
    masses = decoder.region_mass(scales)
    torch.testing.assert_close(decoder(activations, mass=masses), exact(activations, mass=masses))
