"""Exact discretization of ``M c'' + D c' + K c = Q`` and stable substep counts.

With state ``x = [c, c']`` the system is ``x' = A x + B_u Q`` where
``A = [[0, I], [-M^-1 K, -M^-1 D]]`` and ``B_u = [0; M^-1]``. Over a frame of
length ``h``:

* zero-order hold (force constant across the frame):
  ``expm([[A, B_u], [0, 0]] h) = [[Phi, Gamma0], [0, I]]`` and
  ``x_{t+1} = Phi x_t + Gamma0 Q_t``;
* first-order hold (force linear across the frame):
  ``expm([[A, B_u, 0], [0, 0, I/h], [0, 0, 0]] h)`` gives ``Phi, Gamma0,
  Gamma1`` and ``x_{t+1} = Phi x_t + Gamma0 Q_t + Gamma1 (Q_{t+1} - Q_t)``.

``torch.linalg.matrix_exp`` keeps both differentiable in M, K and D.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "Discretization",
    "HOLDS",
    "state_matrices",
    "discretize",
    "EXPLICIT_INTEGRATORS",
    "substep_matrix",
    "stable_substeps",
]

HOLDS = ("zero", "first")
EXPLICIT_INTEGRATORS = ("euler", "semi_implicit", "rk4")


class Discretization(NamedTuple):
    """One-frame transition ``x_{t+1} = phi x_t + gamma0 Q_t + gamma1 (Q_{t+1} - Q_t)``.

    ``phi`` has shape (..., 2K, 2K); ``gamma0`` and ``gamma1`` (..., 2K, K).
    Under zero-order hold ``gamma1`` is zero.
    """

    phi: torch.Tensor
    gamma0: torch.Tensor
    gamma1: torch.Tensor


def _check_system(mass, stiffness, damping):
    for name, matrix in (("mass", mass), ("stiffness", stiffness), ("damping", damping)):
        if not isinstance(matrix, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(matrix).__name__}.")
        if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
            raise ValueError(f"{name} must have shape (..., K, K); got {tuple(matrix.shape)}.")
    sizes = {mass.shape[-1], stiffness.shape[-1], damping.shape[-1]}
    if len(sizes) != 1:
        raise ValueError(
            "mass, stiffness and damping must all be K x K for the same K; got "
            f"{tuple(mass.shape)}, {tuple(stiffness.shape)}, {tuple(damping.shape)}."
        )


def check_positive_definite(mass):
    """Raise ``ValueError`` unless every matrix in ``mass`` (..., K, K) is SPD."""
    _, info = torch.linalg.cholesky_ex(mass.detach())
    if torch.any(info != 0):
        raise ValueError(
            "The mass matrix is not positive definite: masses must be positive "
            "and the blendshapes linearly independent."
        )


def state_matrices(mass, stiffness, damping):
    """``A`` (..., 2K, 2K) and ``B_u`` (..., 2K, K) of the first-order system."""
    _check_system(mass, stiffness, damping)
    check_positive_definite(mass)
    k = mass.shape[-1]
    batch = torch.broadcast_shapes(mass.shape[:-2], stiffness.shape[:-2], damping.shape[:-2])
    eye = torch.eye(k, dtype=mass.dtype, device=mass.device).expand(*batch, k, k)
    chol = torch.linalg.cholesky(mass)
    inv_k = torch.cholesky_solve(stiffness.expand(*batch, k, k), chol.expand(*batch, k, k))
    inv_d = torch.cholesky_solve(damping.expand(*batch, k, k), chol.expand(*batch, k, k))
    inv_m = torch.cholesky_solve(eye, chol.expand(*batch, k, k))
    zeros = torch.zeros_like(eye)
    a = torch.cat([torch.cat([zeros, eye], -1), torch.cat([-inv_k, -inv_d], -1)], -2)
    b_u = torch.cat([zeros, inv_m], -2)
    return a, b_u


def discretize(mass, stiffness, damping, dt, *, hold="first"):
    """Exact one-frame transition of the damped elastic system.

    Parameters
    ----------
    mass, stiffness, damping : Tensor of shape (..., K, K)
        Reduced ``M`` (positive definite), ``K_B`` and ``D_B``; leading
        dimensions broadcast.
    dt : float
        Frame interval in seconds.
    hold : {"first", "zero"}, default="first"
        How the force varies across a frame: linearly between frame samples
        (first-order hold, exact for piecewise-linear forces) or constant.

    Returns
    -------
    Discretization

    Examples
    --------
    >>> import torch
    >>> one = torch.ones(1, 1, dtype=torch.float64)
    >>> step = discretize(one, 4 * one, 0 * one, 0.1, hold="zero")
    >>> round(step.phi[0, 0].item(), 6)  # cos(2 * 0.1)
    0.980067
    """
    if hold not in HOLDS:
        raise ValueError(f"hold must be one of {HOLDS}; got {hold!r}.")
    if not dt > 0:
        raise ValueError(f"dt must be a positive frame interval in seconds; got {dt}.")
    a, b_u = state_matrices(mass, stiffness, damping)
    n, k = a.shape[-1], b_u.shape[-1]
    batch = a.shape[:-2]
    width = n + (2 * k if hold == "first" else k)
    block = a.new_zeros(*batch, width, width)
    block[..., :n, :n] = a * dt
    block[..., :n, n : n + k] = b_u * dt
    if hold == "first":
        block[..., n : n + k, n + k :] = torch.eye(k, dtype=a.dtype, device=a.device)
    exp = torch.linalg.matrix_exp(block)
    phi = exp[..., :n, :n]
    gamma0 = exp[..., :n, n : n + k]
    gamma1 = exp[..., :n, n + k :] if hold == "first" else torch.zeros_like(gamma0)
    return Discretization(phi, gamma0, gamma1)


def substep_matrix(a, h, integrator):
    """Homogeneous one-substep transition of an explicit integrator (NumPy).

    Parameters
    ----------
    a : ndarray of shape (2K, 2K)
        State matrix ``[[0, I], [-M^-1 K, -M^-1 D]]``.
    h : float
        Substep length.
    integrator : {"euler", "semi_implicit", "rk4"}
    """
    n = a.shape[0]
    eye = np.eye(n)
    if integrator == "euler":
        return eye + h * a
    if integrator == "rk4":
        ha = h * a
        return eye + ha @ (eye + ha @ (eye / 2 + ha @ (eye / 6 + ha / 24)))
    if integrator == "semi_implicit":
        # Velocity first, then position with the new velocity (symplectic Euler).
        k = n // 2
        velocity_update = eye[k:] + h * a[k:]
        position_update = eye[:k] + h * velocity_update  # c_{n+1} = c_n + h v_{n+1}
        return np.concatenate([position_update, velocity_update], 0)
    raise ValueError(f"integrator must be one of {EXPLICIT_INTEGRATORS}; got {integrator!r}.")


def _spectral_radius(matrix):
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def stable_substeps(mass, stiffness, damping, dt, integrator, *, max_substeps=100_000):
    """Fewest substeps per frame for which ``integrator`` is stable.

    The homogeneous substep map is formed from the reduced system's state
    matrix and its spectral radius is brought to at most 1; the count is the
    smallest power-of-two bracket refined by bisection.

    Parameters
    ----------
    mass, stiffness, damping : array-like or Tensor of shape (..., K, K)
        With leading dimensions, the largest count over the batch.
    dt : float
        Frame interval.
    integrator : {"euler", "semi_implicit", "rk4"}

    Returns
    -------
    n_substeps : int

    Examples
    --------
    >>> import numpy as np
    >>> one = np.ones((1, 1))
    >>> stable_substeps(one, 100 * one, 0.2 * one, 1.0, "euler") > 1
    True
    """
    if integrator not in EXPLICIT_INTEGRATORS:
        raise ValueError(f"integrator must be one of {EXPLICIT_INTEGRATORS}; got {integrator!r}.")
    arrays = []
    for matrix in (mass, stiffness, damping):
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().cpu().double().numpy()
        arrays.append(np.asarray(matrix, dtype=np.float64))
    mass, stiffness, damping = np.broadcast_arrays(*arrays)
    k = mass.shape[-1]
    systems = [
        np.block([[np.zeros((k, k)), np.eye(k)], [-np.linalg.solve(m, s), -np.linalg.solve(m, d)]])
        for m, s, d in zip(
            mass.reshape(-1, k, k), stiffness.reshape(-1, k, k), damping.reshape(-1, k, k)
        )
    ]

    def stable(n):
        return all(
            _spectral_radius(substep_matrix(a, dt / n, integrator)) <= 1.0 + 1e-12 for a in systems
        )

    high = 1
    while not stable(high):
        high *= 2
        if high > max_substeps:
            raise ValueError(
                f"{integrator} needs more than {max_substeps} substeps per frame to be "
                "stable for this system; use the exact discretization instead."
            )
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if stable(mid) else (mid, high)
    return high
