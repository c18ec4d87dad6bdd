"""Batched, differentiable rollouts of the reduced dynamics in torch.

Conventions shared by every function here: ``forces`` are generalized forces
sampled at frames ``0..T-1`` with shape (..., T, K); the returned positions
have the same shape and ``positions[..., 0, :]`` is the initial position.
Under zero-order hold the force of frame ``t`` acts over ``[t, t+1)`` (the
last frame's force is unused); under first-order hold it varies linearly
between frame samples. States are ``[c, c']`` of size 2K.
"""

from __future__ import annotations

import torch

from ._discretize import (
    EXPLICIT_INTEGRATORS,
    HOLDS,
    check_positive_definite,
    discretize,
    stable_substeps,
    state_matrices,
)

__all__ = [
    "DYNAMICS",
    "INTEGRATORS",
    "rollout",
    "linear_rollout",
    "impulse_response_matrix",
    "impulse_rollout",
    "quasistatic_rollout",
    "paper_rollout",
    "explicit_rollout",
    "generalized_force",
]

DYNAMICS = ("elastic", "quasistatic", "paper")
INTEGRATORS = ("exact", "impulse", *EXPLICIT_INTEGRATORS)


def _check_forces(forces, n_shapes, name="forces"):
    if not isinstance(forces, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(forces).__name__}.")
    if not forces.is_floating_point():
        raise TypeError(f"{name} must be floating point (float32 or float64); got {forces.dtype}.")
    if forces.ndim < 2 or forces.shape[-1] != n_shapes:
        raise ValueError(
            f"{name} must have shape (..., T, K={n_shapes}) with T frames; got {tuple(forces.shape)}."
        )
    if forces.shape[-2] == 0:
        raise ValueError(f"{name} has no frames (T = 0).")
    if not torch.isfinite(forces).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean them before the rollout.")
    return forces


def _initial_state(initial_state, forces, size):
    batch = forces.shape[:-2]
    if initial_state is None:
        return forces.new_zeros(*batch, size)
    if not isinstance(initial_state, torch.Tensor):
        raise TypeError(f"initial_state must be a torch.Tensor; got {type(initial_state).__name__}.")
    if initial_state.shape[-1] != size:
        raise ValueError(
            f"initial_state must have shape (..., {size}) = [position, velocity]; got "
            f"{tuple(initial_state.shape)}."
        )
    if not torch.isfinite(initial_state).all():
        raise ValueError("initial_state contains NaN or infinite values.")
    return initial_state.to(forces).expand(*batch, size)


def _solve_rows(matrix, rows):
    """``matrix^-1 r`` for every row vector ``r`` of ``rows`` (..., T, K)."""
    if matrix.ndim == 2:  # one factorization for all rows
        k = matrix.shape[-1]
        return torch.linalg.solve(matrix, rows.reshape(-1, k).T).T.reshape(rows.shape)
    return torch.linalg.solve(matrix.unsqueeze(-3), rows.unsqueeze(-1)).squeeze(-1)


def linear_rollout(forces, step, initial_state=None):
    """Roll ``x_{t+1} = phi x_t + gamma0 Q_t + gamma1 (Q_{t+1} - Q_t)`` forward.

    Parameters
    ----------
    forces : Tensor of shape (..., T, K)
    step : Discretization
        From :func:`discretize`; its leading dimensions broadcast with the
        forces' batch dimensions.
    initial_state : Tensor of shape (..., 2K), default=None
        Zero (rest) when ``None``.

    Returns
    -------
    states : Tensor of shape (..., T, 2K)
    """
    n_state = step.phi.shape[-1]
    _check_forces(forces, step.gamma0.shape[-1])
    x = _initial_state(initial_state, forces, n_state)
    phi, gamma0, gamma1 = (m.to(forces) for m in step)
    # All force terms in one batched matmul; only the state recursion loops.
    drive = torch.matmul(forces[..., :-1, :], gamma0.mT) + torch.matmul(
        forces[..., 1:, :] - forces[..., :-1, :], gamma1.mT
    )
    n_steps = forces.shape[-2] - 1
    if phi.ndim == 2:
        # One system for the whole batch: a 2-D GEMM per frame is the fast path.
        batch = x.shape[:-1]
        x, phi_t = x.reshape(-1, n_state), phi.T.contiguous()
        drive = drive.reshape(x.shape[0], n_steps, n_state)
        states = [x]
        for t in range(n_steps):
            x = torch.addmm(drive[:, t], x, phi_t)
            states.append(x)
        return torch.stack(states, dim=-2).reshape(*batch, n_steps + 1, n_state)
    states = [x]
    for t in range(n_steps):
        x = torch.matmul(phi, x.unsqueeze(-1)).squeeze(-1) + drive[..., t, :]
        states.append(x)
    return torch.stack(states, dim=-2)


def impulse_response_matrix(step, n_frames):
    """The rollout as one matrix: ``positions = [x0, Q_0, ..., Q_{T-1}] @ H``.

    Built by rolling the recursion over unit impulses, so it equals
    :func:`linear_rollout` exactly (up to rounding).

    Parameters
    ----------
    step : Discretization
        Unbatched: ``phi`` of shape (2K, 2K).
    n_frames : int

    Returns
    -------
    H : Tensor of shape (2K + T K, T K)
    """
    if step.phi.ndim != 2:
        raise ValueError("impulse_response_matrix needs an unbatched discretization (one system).")
    n_state, k = step.gamma0.shape
    size = n_state + n_frames * k
    basis = torch.eye(size, dtype=step.phi.dtype, device=step.phi.device)
    states = linear_rollout(basis[:, n_state:].reshape(size, n_frames, k), step, basis[:, :n_state])
    return states[..., :k].reshape(size, n_frames * k)


def impulse_rollout(forces, response, initial_state=None):
    """Positions (..., T, K) by one matmul against :func:`impulse_response_matrix`."""
    n_frames, k = forces.shape[-2], forces.shape[-1]
    n_state = response.shape[0] - n_frames * k
    if response.shape[1] != n_frames * k or n_state <= 0:
        raise ValueError(
            f"response matrix of shape {tuple(response.shape)} does not match {n_frames} frames of K={k}."
        )
    _check_forces(forces, k)
    x0 = _initial_state(initial_state, forces, n_state)
    inputs = torch.cat([x0, forces.flatten(-2)], dim=-1)
    return (inputs @ response.to(forces)).unflatten(-1, (n_frames, k))


def quasistatic_rollout(forces, stiffness):
    """Memoryless equilibrium ``K_B c_t = Q_t`` at every frame, shape (..., T, K)."""
    _check_forces(forces, stiffness.shape[-1])
    return _solve_rows(stiffness.to(forces), forces)


def paper_rollout(forces, mass, initial_state=None):
    """The paper's Eq. 5-6 as written: unit-step explicit Euler, no K or D.

    ``c'' = M^-1 Q``, then ``c <- c + c'`` and ``c' <- c' + c''`` each frame.
    Pass the paper's mass (:attr:`ReducedModel.paper_mass`, with its factor
    1/2) to reproduce it exactly; the frame interval is taken as 1.
    """
    k = mass.shape[-1]
    _check_forces(forces, k)
    mass = mass.to(forces)
    check_positive_definite(mass)
    x = _initial_state(initial_state, forces, 2 * k)
    acceleration = _solve_rows(mass, forces)
    zero = torch.zeros_like(acceleration[..., :1, :])
    # Position updates use the velocity before that frame's acceleration.
    velocity = x[..., None, k:] + torch.cat([zero, acceleration[..., :-1, :].cumsum(-2)], -2)
    position = x[..., None, :k] + torch.cat([zero, velocity[..., :-1, :].cumsum(-2)], -2)
    return torch.cat([position, velocity], dim=-1)


def explicit_rollout(
    forces, mass, stiffness, damping, dt, integrator, *, hold="first", initial_state=None, substeps=None
):
    """Explicit integration with the substeps that stability requires.

    Parameters
    ----------
    integrator : {"euler", "semi_implicit", "rk4"}
    substeps : int, default=None
        Substeps per frame; ``None`` takes the fewest stable count from the
        reduced eigenvalues (:func:`stable_substeps`). A smaller count is
        refused, since it diverges.

    Returns
    -------
    states : Tensor of shape (..., T, 2K)
    """
    if hold not in HOLDS:
        raise ValueError(f"hold must be one of {HOLDS}; got {hold!r}.")
    needed = stable_substeps(mass, stiffness, damping, dt, integrator)
    if substeps is None:
        substeps = needed
    elif substeps < needed:
        raise ValueError(
            f"{integrator} with {substeps} substeps per frame is unstable for this "
            f"system: it needs at least {needed}. Leave substeps=None to choose it."
        )
    k = mass.shape[-1]
    _check_forces(forces, k)
    a, b_u = (m.to(forces) for m in state_matrices(mass, stiffness, damping))
    x = _initial_state(initial_state, forces, 2 * k)
    h = dt / substeps

    def derivative(state, force):
        return torch.matmul(a, state.unsqueeze(-1)).squeeze(-1) + torch.matmul(
            b_u, force.unsqueeze(-1)
        ).squeeze(-1)

    states = [x]
    for t in range(forces.shape[-2] - 1):
        q0, q1 = forces[..., t, :], forces[..., t + 1, :]
        slope = (q1 - q0) / dt if hold == "first" else torch.zeros_like(q0)
        for s in range(substeps):
            tau = s * h
            if integrator == "euler":
                x = x + h * derivative(x, q0 + slope * tau)
            elif integrator == "semi_implicit":
                velocity = x[..., k:] + h * derivative(x, q0 + slope * tau)[..., k:]
                x = torch.cat([x[..., :k] + h * velocity, velocity], -1)
            else:
                mid = q0 + slope * (tau + h / 2)
                k1 = derivative(x, q0 + slope * tau)
                k2 = derivative(x + h / 2 * k1, mid)
                k3 = derivative(x + h / 2 * k2, mid)
                k4 = derivative(x + h * k3, q0 + slope * (tau + h))
                x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(x)
    return torch.stack(states, dim=-2)


def rollout(
    forces,
    mass,
    stiffness,
    damping,
    dt,
    *,
    dynamics="elastic",
    integrator="exact",
    hold="first",
    initial_state=None,
    substeps=None,
    return_states=False,
):
    """Blendshape-coefficient trajectories under generalized forces.

    Parameters
    ----------
    forces : Tensor of shape (..., T, K)
        Generalized forces at frames ``0..T-1``.
    mass, stiffness, damping : Tensor of shape (..., K, K)
        Reduced ``M``, ``K_B`` and ``D_B`` (see :func:`reduce_face_model`).
    dt : float
        Frame interval in seconds.
    dynamics : {"elastic", "quasistatic", "paper"}, default="elastic"
        ``"elastic"``: ``M c'' + D c' + K c = Q``. ``"quasistatic"``:
        ``K c = Q`` at every frame. ``"paper"``: Eq. 5-6 as written (uses
        ``mass`` as given, ignores stiffness, damping and ``dt``).
    integrator : {"exact", "impulse", "euler", "semi_implicit", "rk4"}, default="exact"
        For ``"elastic"``: the exact per-frame transition, the same as one
        impulse-response matmul, or an explicit integrator with stable
        substeps.
    hold : {"first", "zero"}, default="first"
        Force interpolation across a frame (elastic dynamics only).
    initial_state : Tensor of shape (..., 2K), default=None
        ``[c, c']`` at frame 0; rest when ``None``. Ignored by quasistatic.
    substeps : int, default=None
        Explicit integrators only.
    return_states : bool, default=False
        Return ``[c, c']`` (..., T, 2K) instead of positions (not for
        quasistatic dynamics, which has no velocity).

    Returns
    -------
    positions : Tensor of shape (..., T, K)

    Examples
    --------
    >>> import torch
    >>> one = torch.ones(1, 1, dtype=torch.float64)
    >>> forces = torch.full((1, 200, 1), 4.0, dtype=torch.float64)
    >>> c = rollout(forces, one, 4 * one, 2 * one, 0.05)
    >>> round(c[0, -1, 0].item(), 4)  # settles at Q / K = 1
    1.0
    """
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}; got {dynamics!r}.")
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}; got {integrator!r}.")
    _check_forces(forces, mass.shape[-1] if dynamics != "quasistatic" else stiffness.shape[-1])
    if dynamics == "quasistatic":
        if return_states:
            raise ValueError("quasistatic dynamics has no velocity; use return_states=False.")
        return quasistatic_rollout(forces, stiffness)
    if dynamics == "paper":
        states = paper_rollout(forces, mass, initial_state)
    elif integrator in EXPLICIT_INTEGRATORS:
        states = explicit_rollout(
            forces, mass, stiffness, damping, dt, integrator,
            hold=hold, initial_state=initial_state, substeps=substeps,
        )  # fmt: skip
    else:
        step = discretize(mass.to(forces), stiffness.to(forces), damping.to(forces), dt, hold=hold)
        # A per-sample system has no shared response matrix; the recurrence is identical.
        if integrator == "impulse" and not return_states and step.phi.ndim == 2:
            response = impulse_response_matrix(step, forces.shape[-2])
            return impulse_rollout(forces, response, initial_state)
        states = linear_rollout(forces, step, initial_state)
    return states if return_states else states[..., : mass.shape[-1]]


def generalized_force(muscle_forces, operator):
    """``Q = G vec(F_mus)`` for activations (..., M) or vector forces (..., M, 3).

    Parameters
    ----------
    muscle_forces : Tensor of shape (..., M) or (..., M, 3)
    operator : Tensor of shape (K, M) or (K, 3M)
        :attr:`ReducedModel.force_activation` or :attr:`ReducedModel.force_vector`.

    Returns
    -------
    Tensor of shape (..., K)
    """
    if not isinstance(muscle_forces, torch.Tensor):
        raise TypeError(f"muscle_forces must be a torch.Tensor; got {type(muscle_forces).__name__}.")
    width = operator.shape[-1]
    flat = muscle_forces
    if muscle_forces.ndim >= 2 and muscle_forces.shape[-1] == 3 and 3 * muscle_forces.shape[-2] == width:
        flat = muscle_forces.flatten(-2)
    if flat.ndim == 0 or flat.shape[-1] != width:
        raise ValueError(
            f"muscle_forces must have shape (..., {width}) for this operator"
            + (f" or (..., {width // 3}, 3)" if width % 3 == 0 else "")
            + f"; got {tuple(muscle_forces.shape)}."
        )
    if not torch.isfinite(flat).all():
        raise ValueError("muscle_forces contains NaN or infinite values.")
    return flat @ operator.to(flat).mT
