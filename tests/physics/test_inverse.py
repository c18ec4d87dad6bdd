import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.optimize import lsq_linear, minimize

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.physics import (
    ReducedModel,
    au_intensities,
    au_presence,
    invert_activations,
    reduce_face_model,
    rollout,
    unit_reduced_model,
    verification_activations,
)

DT = 1 / 30


def _random_model(n_shapes, n_muscles, seed=0):
    """A face-free reduced model: SPD mass and stiffness, a dense non-square G."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(n_shapes, n_shapes))
    mass = basis @ basis.T / n_shapes + np.eye(n_shapes)
    stiffness = 400.0 * (basis.T @ basis / n_shapes + np.eye(n_shapes))
    return ReducedModel(
        mass=mass,
        stiffness=stiffness,
        damping=5.0 * mass + 0.01 * stiffness,
        force_vector=np.zeros((n_shapes, 0)),
        force_activation=stiffness @ rng.normal(size=(n_shapes, n_muscles)),
        region_masses=mass[None],
        paper_mass=0.5 * mass,
        blendshape_names=tuple(f"b{j}" for j in range(n_shapes)),
        muscle_names=tuple(f"m{j}" for j in range(n_muscles)),
        region_names=("all",),
    )


def _targets(c, reduced, dynamics):
    """``K_B^-1 Q`` written out frame by frame, independently of the module."""
    if dynamics == "quasistatic":
        return c
    velocity = np.gradient(c, DT, axis=0, edge_order=2)
    acceleration = np.empty_like(c)
    for t in range(1, len(c) - 1):
        acceleration[t] = (c[t + 1] - 2 * c[t] + c[t - 1]) / DT**2
    acceleration[0], acceleration[-1] = acceleration[1], acceleration[-2]
    forces = acceleration @ reduced.mass.T + velocity @ reduced.damping.T + c @ reduced.stiffness.T
    return np.linalg.solve(reduced.stiffness, forces.T).T


def _stacked_reference(c, reduced, dynamics, smoothness, ridge, weights=None):
    """The whole QP as one bounded least-squares problem, solved by BVLS."""
    n_frames, n_muscles = len(c), reduced.n_muscles
    root = np.ones(reduced.n_blendshapes) if weights is None else np.sqrt(weights)
    response = root[:, None] * np.linalg.solve(reduced.stiffness, reduced.force_activation)
    lam = (smoothness / DT) ** 2
    difference = sparse.diags([-np.ones(n_frames - 1), np.ones(n_frames - 1)], [0, 1], shape=(n_frames - 1, n_frames))
    matrix = sparse.vstack(
        [
            sparse.kron(sparse.eye(n_frames), response),
            np.sqrt(ridge) * sparse.eye(n_frames * n_muscles),
            np.sqrt(lam) * sparse.kron(difference, sparse.eye(n_muscles)),
        ]
    ).toarray()
    target = np.concatenate([(_targets(c, reduced, dynamics) * root).ravel(), np.zeros(matrix.shape[0] - c.size)])
    return lsq_linear(matrix, target, bounds=(0, np.inf), method="bvls", tol=1e-14).x.reshape(n_frames, n_muscles)


@pytest.fixture(scope="module")
def driven(small_face, small_reduced):
    """Smooth AU-like pulses on the default face, rolled out exactly (30 fps)."""
    truth = np.stack([verification_activations(small_face, 150, DT, random_state=s) for s in range(4)])
    forces = torch.as_tensor(truth @ small_reduced.force_activation.T)
    matrices = (torch.as_tensor(m) for m in (small_reduced.mass, small_reduced.stiffness, small_reduced.damping))
    c = rollout(forces, *matrices, DT).numpy()
    return truth, c


def _correlations(estimate, truth):
    """r of every muscle that the truth drives, per sequence."""
    return np.array(
        [
            np.corrcoef(estimate[b, :, m], truth[b, :, m])[0, 1]
            for b in range(len(truth))
            for m in np.flatnonzero(truth[b].std(axis=0) > 1e-9)
        ]
    )


# -- the solver against independent references ---------------------------------


PENALTIES = [(0.0, 1e-3), (0.05, 1e-3), (0.1, 0.1), (0.03, 0.0)]


@pytest.mark.parametrize("dynamics", ["quasistatic", "elastic"])
@pytest.mark.parametrize(
    "shape, smoothness, ridge",
    # The default face (S = I), more muscles than shapes (a ridge is needed), fewer.
    [((37, 37), *p) for p in PENALTIES] + [((8, 12), *p) for p in PENALTIES[:3]] + [((10, 5), *p) for p in PENALTIES],
)
def test_matches_bounded_least_squares(small_reduced, dynamics, shape, smoothness, ridge):
    reduced = small_reduced if shape == (37, 37) else _random_model(*shape)
    c = np.random.default_rng(1).normal(0.0, 0.3, (12, reduced.n_blendshapes))
    a, info = invert_activations(
        c, reduced, DT, dynamics=dynamics, smoothness=smoothness, ridge=ridge, return_info=True
    )
    reference = _stacked_reference(c, reduced, dynamics, smoothness, ridge)
    assert info["exact"] and info["converged"]
    assert 0.1 < (reference > 0).mean() < 1.0  # constraints active and inactive
    np.testing.assert_allclose(a, reference, atol=1e-9 * np.abs(reference).max())


@pytest.mark.parametrize("dynamics", ["quasistatic", "elastic"])
@pytest.mark.parametrize("smoothness", [0.0, 0.05])
def test_shape_weights_match_weighted_bounded_least_squares(dynamics, smoothness):
    reduced = _random_model(10, 5, seed=3)
    c = np.random.default_rng(4).normal(0.0, 0.3, (12, reduced.n_blendshapes))
    weights = np.r_[0.0, 0.0, np.linspace(0.5, 2.0, 8)]
    a = invert_activations(c, reduced, DT, dynamics=dynamics, smoothness=smoothness, shape_weights=weights)
    reference = _stacked_reference(c, reduced, dynamics, smoothness, 1e-2, weights)
    np.testing.assert_allclose(a, reference, atol=1e-9 * np.abs(reference).max())
    unweighted = invert_activations(c, reduced, DT, dynamics=dynamics, smoothness=smoothness)
    np.testing.assert_array_equal(
        invert_activations(c, reduced, DT, dynamics=dynamics, smoothness=smoothness, shape_weights=np.ones(10)),
        unweighted,
    )
    assert np.abs(a - unweighted).max() > 1e-3  # the weights do change the fit


def test_a_shape_of_weight_zero_is_explained_by_no_muscle(small_reduced):
    # Gaze-like motion on one shape only: ignored with weight 0, explained by muscles with weight 1.
    c = np.zeros((30, small_reduced.n_blendshapes))
    c[:, 3] = 0.5 * np.sin(np.linspace(0, np.pi, 30)) ** 2
    weights = np.ones(small_reduced.n_blendshapes)
    assert invert_activations(c, small_reduced, DT, dynamics="quasistatic").max() > 0.1
    weights[3] = 0.0
    ignored = invert_activations(c, small_reduced, DT, dynamics="quasistatic", shape_weights=weights)
    np.testing.assert_array_equal(ignored, 0.0)


@pytest.mark.parametrize("sparsity", [0.01, 0.1])
def test_sparsity_matches_bounded_minimizer(sparsity):
    reduced = _random_model(6, 9, seed=2)
    c = np.random.default_rng(3).normal(0.0, 0.3, (8, 6))
    smoothness, ridge = 0.04, 1e-2
    a = invert_activations(
        c, reduced, DT, dynamics="quasistatic", smoothness=smoothness, ridge=ridge, sparsity=sparsity
    )
    response = np.linalg.solve(reduced.stiffness, reduced.force_activation)
    lam = (smoothness / DT) ** 2

    def objective(x):
        x = x.reshape(a.shape)
        residual = x @ response.T - c
        step = np.diff(x, axis=0)
        value = (residual**2).sum() + ridge * (x**2).sum() + sparsity * x.sum() + lam * (step**2).sum()
        lap = np.zeros_like(x)
        lap[:-1] -= step
        lap[1:] += step
        grad = 2 * residual @ response + 2 * ridge * x + sparsity + 2 * lam * lap
        return value, grad.ravel()

    reference = minimize(
        objective, np.zeros(a.size), jac=True, method="L-BFGS-B", bounds=[(0, None)] * a.size,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000},
    ).x.reshape(a.shape)  # fmt: skip
    np.testing.assert_allclose(a, reference, atol=1e-5)
    dense = invert_activations(c, reduced, DT, dynamics="quasistatic", smoothness=smoothness, ridge=ridge)
    assert (a == 0).sum() > (dense == 0).sum()  # L1 zeroes more muscles


def test_elastic_is_exact_for_quadratic_motion():
    # Central differences are exact for quadratics, so the inverse of a unit
    # oscillator recovers c + (D c' + M c'') / w^2 exactly, ends included.
    reduced = unit_reduced_model(["x", "y"], natural_frequency=3.0, damping_ratio=0.4)
    t = np.arange(20) * DT
    c = np.stack([1 + 0.5 * t + 0.2 * t**2, 2 - 0.3 * t + 0.1 * t**2], axis=1)
    omega = 2 * np.pi * 3.0
    truth = c + (2 * 0.4 * omega * np.stack([0.5 + 0.4 * t, -0.3 + 0.2 * t], 1) + [0.4, 0.2]) / omega**2
    a = invert_activations(c, reduced, DT, dynamics="elastic", smoothness=0.0, ridge=0.0)
    np.testing.assert_allclose(a, truth, rtol=1e-10)


# -- known ground truth on the default face --------------------------------------


@pytest.mark.parametrize("dynamics", ["elastic", "quasistatic"])
@pytest.mark.parametrize("noise", [0.02, 0.05])
def test_recovers_driven_muscles_under_tracking_noise(driven, small_reduced, dynamics, noise):
    truth, c = driven
    observed = c + np.random.default_rng(0).normal(0.0, noise, c.shape)
    a = invert_activations(observed, small_reduced, DT, dynamics=dynamics)
    r = _correlations(a, truth)
    # Measured: elastic r = 0.996 / 0.983, quasi-static 0.994 / 0.980 (mean).
    assert a.min() >= 0
    assert r.mean() >= 0.97 and r.min() >= 0.9


@pytest.mark.parametrize("noise", [0.03, 0.05])
def test_smoothness_reduces_error_under_noise(driven, small_reduced, noise):
    truth, c = driven
    observed = c + np.random.default_rng(1).normal(0.0, noise, c.shape)
    errors = [
        np.sqrt(np.mean((invert_activations(observed, small_reduced, DT, smoothness=s) - truth) ** 2))
        for s in (0.0, 0.01, 0.03)
    ]
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.75 * errors[0]


def test_elastic_default_beats_quasistatic_under_noise(driven, small_reduced):
    # The measurement behind the default (see the Notes of invert_activations).
    truth, c = driven
    observed = c + np.random.default_rng(2).normal(0.0, 0.03, c.shape)
    r = {
        dynamics: _correlations(invert_activations(observed, small_reduced, DT, dynamics=dynamics), truth).mean()
        for dynamics in ("elastic", "quasistatic")
    }
    assert r["elastic"] > r["quasistatic"]


def test_au_intensities_follow_the_driven_muscles(driven, small_face, small_reduced):
    truth, c = driven
    observed = c + np.random.default_rng(3).normal(0.0, 0.03, c.shape)
    a = invert_activations(observed, small_reduced, DT)
    intensity = au_intensities(a, small_face)  # (B, T, A) on the 0-5 scale
    expected = au_intensities(truth, small_face)
    for b in range(len(truth)):
        on = expected[b].max(axis=0) >= 1.0
        off = expected[b].max(axis=0) == 0
        assert on.any() and off.any()
        assert np.all(intensity[b][:, on].max(axis=0) >= 0.7 * expected[b][:, on].max(axis=0))
        assert np.all(intensity[b][:, off].max(axis=0) < 0.5)  # activation < 0.1


def test_synthetic_benchmark_f1_and_force_recovery(small_face):
    data = make_synthetic_au_dataset(
        n_subjects=3, n_sequences=2, sequence_length=200, face=small_face, random_state=0
    )
    reduced = reduce_face_model(small_face)
    names = list(small_face.blendshape_names)
    activations = np.full(data.forces.shape, np.nan)
    for rows in data.frames.groupby(["subject", "sequence"]).indices.values():
        activations[rows] = invert_activations(data.frames[names].to_numpy()[rows], reduced, 1 / 25)
    driven = sorted({m for au in data.labels for m in small_face.au_muscle_indices(au)})
    truth = data.forces.to_numpy()
    # Per subject: the physics cannot know a subject's strength and stiffness scale.
    r = [
        np.corrcoef(activations[data.groups == s, m], truth[data.groups == s, m])[0, 1]
        for s in np.unique(data.groups)
        for m in driven
    ]
    predicted = au_presence(au_intensities(activations, small_face, aus=data.labels.columns))
    labels = data.labels.to_numpy()
    tp = ((predicted == 1) & (labels == 1)).sum(0)
    f1 = 2 * tp / (2 * tp + ((predicted == 1) & (labels == 0)).sum(0) + ((predicted == 0) & (labels == 1)).sum(0))
    assert np.mean(r) >= 0.95 and np.min(r) >= 0.8
    assert f1.mean() >= 0.9 and f1.min() >= 0.75


# -- sequences, batches and failed frames ---------------------------------------


def test_nan_rows_split_the_sequence(driven, small_reduced):
    _, c = driven
    observed = c[0].copy()
    observed[[40, 41, 100]] = np.nan
    observed[70, 3] = np.nan  # one NaN fails the whole frame
    a, info = invert_activations(observed, small_reduced, DT, return_info=True)
    failed = np.isnan(observed).any(axis=1)
    assert np.isnan(a[failed]).all() and np.isfinite(a[~failed]).all()
    assert info["n_segments"] == 4
    for start, stop in [(0, 40), (42, 70), (71, 100), (101, 150)]:
        np.testing.assert_allclose(a[start:stop], invert_activations(observed[start:stop], small_reduced, DT), atol=1e-8)


def test_batch_equals_sequences_one_by_one(driven, small_reduced):
    _, c = driven
    batch = c.reshape(2, 2, *c.shape[1:])
    a = invert_activations(batch, small_reduced, DT)
    assert a.shape == (2, 2, c.shape[1], small_reduced.n_muscles)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(a[i, j], invert_activations(batch[i, j], small_reduced, DT), atol=1e-8)


@pytest.mark.parametrize("n_frames", [1, 2, 3])
@pytest.mark.parametrize("dynamics", ["elastic", "quasistatic"])
def test_short_runs(small_reduced, n_frames, dynamics):
    c = np.full((n_frames, small_reduced.n_blendshapes), 0.2)
    a = invert_activations(c, small_reduced, DT, dynamics=dynamics, ridge=0.0)
    # At rest at a constant pose every model agrees: a = S^-1 c (S = I here).
    np.testing.assert_allclose(a, 0.2, atol=1e-9)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0,)])
def test_empty_input(small_reduced, shape):
    c = np.zeros((*shape, small_reduced.n_blendshapes)) if len(shape) == 2 else np.zeros((0, small_reduced.n_blendshapes))
    a = invert_activations(c, small_reduced, DT)
    assert a.shape == c.shape[:-1] + (small_reduced.n_muscles,)


def test_all_nan_and_zero(small_reduced):
    c = np.zeros((6, small_reduced.n_blendshapes))
    c[2:4] = np.nan
    a = invert_activations(c, small_reduced, DT)
    assert np.isnan(a[2:4]).all() and np.all(a[[0, 1, 4, 5]] == 0)
    assert np.isnan(invert_activations(np.full((3, small_reduced.n_blendshapes), np.nan), small_reduced, DT)).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dynamics="paper"), "dynamics must be one of"),
        (dict(smoothness=-1.0), "smoothness must be"),
        (dict(ridge=np.nan), "ridge must be"),
        (dict(sparsity=True), "sparsity must be"),
        (dict(tol=0.0), "tol must be"),
        (dict(max_iter=0), "max_iter must be"),
        (dict(shape_weights=np.ones(3)), "shape_weights must be 37"),
        (dict(shape_weights=-np.ones(37)), "shape_weights must be"),
        (dict(shape_weights=np.zeros(37)), "not all 0"),
        (dict(shape_weights=np.full(37, np.nan)), "shape_weights must be"),
    ],
)
def test_invalid_options(small_reduced, kwargs, match):
    with pytest.raises(ValueError, match=match):
        invert_activations(np.zeros((4, small_reduced.n_blendshapes)), small_reduced, DT, **kwargs)


def test_invalid_inputs(small_face, small_reduced):
    k = small_reduced.n_blendshapes
    with pytest.raises(ValueError, match=r"shape \(\.\.\., T, K=37\)"):
        invert_activations(np.zeros((4, k + 1)), small_reduced, DT)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., T, K=37\)"):
        invert_activations(np.zeros(k), small_reduced, DT)
    with pytest.raises(ValueError, match="infinite"):
        invert_activations(np.full((4, k), np.inf), small_reduced, DT)
    with pytest.raises(ValueError, match="dt must be"):
        invert_activations(np.zeros((4, k)), small_reduced, 0.0)
    with pytest.raises(TypeError, match="reduce_face_model"):
        invert_activations(np.zeros((4, k)), small_face, DT)
    with pytest.raises(ValueError, match="set ridge > 0"):
        invert_activations(np.zeros((4, 8)), _random_model(8, 12), DT, ridge=0.0)


@pytest.mark.parametrize("smoothness", [0.0, 0.03, 0.2])
@pytest.mark.parametrize("model", ["face", "random"])
def test_long_runs_in_overlapping_windows_equal_one_solve(driven, small_reduced, monkeypatch, model, smoothness):
    import skbiomech.physics._inverse as inverse

    reduced = small_reduced if model == "face" else _random_model(10, 14, seed=4)
    rng = np.random.default_rng(5)
    c = driven[1].reshape(-1, small_reduced.n_blendshapes)[:, : reduced.n_blendshapes] + rng.normal(0, 0.03, (600, reduced.n_blendshapes))
    c[[250, 251]] = np.nan
    whole = invert_activations(c, reduced, DT, smoothness=smoothness)
    monkeypatch.setattr(inverse, "_WINDOW", 32)  # runs of 250 and 348 frames: several windows each
    monkeypatch.setattr(inverse, "_CHUNK_FRAMES", 200)
    windowed, info = invert_activations(c, reduced, DT, smoothness=smoothness, return_info=True)
    assert info["n_segments"] == 2 and info["exact"]
    np.testing.assert_allclose(windowed, whole, atol=1e-9 * np.nanmax(whole), equal_nan=True)


@pytest.mark.parametrize("mu, lam", [(1.01, 0.81), (0.01, 0.81), (0.5, 40.0)])
def test_window_margin_bounds_the_coupling(mu, lam):
    # The dense inverse of mu I + lam L has decayed to 1e-12 at the margin.
    from skbiomech.physics._inverse import _margin

    n = 1200
    laplacian = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    laplacian[0, 0] = laplacian[-1, -1] = 1
    green = np.linalg.inv(mu * np.eye(n) + lam * laplacian)[n // 2]
    margin = _margin(mu, lam, n)
    assert green[n // 2 + margin] <= 1e-12 * green[n // 2] < green[n // 2 + margin - 2]
