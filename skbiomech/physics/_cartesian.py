"""Full Cartesian spring-mass simulation of a face model.

Solves ``M u'' + D u' + f_int(u) = F_ext(t)`` for all 3N vertex coordinates,
where ``f_int`` is the exact gradient of the skin energy: nonlinear edge
springs ``k/2 (|x_j - x_i| - L_ij)^2`` plus the quadratic bending and
attachment energies. Damping is Rayleigh, ``D = alpha M + beta K_rest``.
Muscle forces act along their rest lines of action.

Time stepping is Newmark's average-acceleration (trapezoidal) rule, which is
unconditionally stable and second order, with Newton iterations on the rest
tangent factorized once. It generates data and verifies the reduced model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import as_float_array, check_finite

__all__ = ["simulate_cartesian", "muscle_vertex_forces", "internal_force"]


def muscle_vertex_forces(face, muscle_forces):
    """External vertex forces (..., N, 3) of activations (..., M) or vectors (..., M, 3)."""
    muscle_forces = check_finite(as_float_array(muscle_forces, "muscle_forces"), "muscle_forces")
    m = face.n_muscles
    if muscle_forces.ndim >= 2 and muscle_forces.shape[-2:] == (m, 3):
        return np.einsum("nm,...md->...nd", face.distribution, muscle_forces)
    if muscle_forces.ndim >= 1 and muscle_forces.shape[-1] == m:
        return np.einsum("...m,mnd->...nd", muscle_forces, face.muscle_force_patterns())
    raise ValueError(
        f"muscle_forces must have shape (..., M={m}) for activations or (..., {m}, 3) "
        f"for vector forces; got {muscle_forces.shape}."
    )


def internal_force(face, displacement, *, nonlinear=True):
    """Gradient of the skin energy at ``displacement`` (N, 3), flattened (3N,).

    With ``nonlinear=False`` it is ``K_rest u``, the linearization.
    """
    u = displacement.reshape(-1)
    if not nonlinear:
        return face.stiffness @ u
    x = face.vertices + displacement
    i, j = face.spring_edges[:, 0], face.spring_edges[:, 1]
    rest = face.vertices[j] - face.vertices[i]
    rest_length = np.linalg.norm(rest, axis=1)
    d = x[j] - x[i]
    length = np.linalg.norm(d, axis=1)
    tension = face.spring_stiffness * (length - rest_length) / np.maximum(length, 1e-300)
    pull = tension[:, None] * d  # dE/dx_j; dE/dx_i is its negative
    force = np.zeros_like(x)
    for axis in range(3):
        force[:, axis] = np.bincount(j, pull[:, axis], len(x)) - np.bincount(i, pull[:, axis], len(x))
    return force.reshape(-1) + face.linear_stiffness @ u


def _static_equilibrium(face, force, nonlinear, tol, max_iter):
    """Displacement (3N,) with ``f_int(u) = force``: Newton on the rest tangent."""
    solve = spla.splu(face.stiffness.tocsc()).solve
    u = solve(force)
    for _ in range(max_iter):
        residual = internal_force(face, u.reshape(-1, 3), nonlinear=nonlinear) - force
        if np.linalg.norm(residual) <= tol:
            return u
        u -= solve(residual)
    raise RuntimeError("The static equilibrium of the first frame did not converge: the forces are too large.")


def simulate_cartesian(
    face,
    muscle_forces,
    dt=1 / 30,
    *,
    substeps=10,
    hold="first",
    nonlinear=True,
    tol=1e-8,
    max_iter=30,
    start="rest",
):
    """Simulate vertex trajectories of ``face`` under muscle forces.

    Parameters
    ----------
    face : FaceModel
    muscle_forces : array-like of shape (T, M) or (T, M, 3)
        Activations along each muscle's rest line of action, or 3-vector
        forces, sampled at frames ``0..T-1``. The face starts at rest.
    dt : float, default=1/30
        Frame interval in seconds.
    substeps : int, default=10
        Newmark steps per frame.
    hold : {"first", "zero"}, default="first"
        Forces linear between frame samples, or constant over each frame.
    nonlinear : bool, default=True
        Exact spring forces; ``False`` simulates the linearized skin.
    tol : float, default=1e-8
        Newton stops when the residual norm falls below ``tol`` times the
        norm of the external force (or of the rest-tangent scale).
    max_iter : int, default=30
        Newton iterations allowed per step.
    start : {"rest", "equilibrium"}, default="rest"
        Start at the rest mesh, or at rest in static equilibrium with the
        first frame's forces (a clip that begins mid-expression).

    Returns
    -------
    vertices : ndarray of shape (T, N, 3)
        Vertex positions at each frame (frame 0 is the rest mesh).

    Raises
    ------
    RuntimeError
        If Newton's method does not converge (forces far too large).

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=15)
    >>> activations = np.zeros((5, face.n_muscles))
    >>> activations[1:, 0] = 0.5
    >>> simulate_cartesian(face, activations).shape == (5, face.n_vertices, 3)
    True
    """
    if start not in ("rest", "equilibrium"):
        raise ValueError(f"start must be 'rest' or 'equilibrium'; got {start!r}.")
    if hold not in ("first", "zero"):
        raise ValueError(f"hold must be 'first' or 'zero'; got {hold!r}.")
    if not dt > 0 or int(substeps) < 1:
        raise ValueError(f"dt must be positive and substeps >= 1; got dt={dt}, substeps={substeps}.")
    external = muscle_vertex_forces(face, muscle_forces)
    if external.ndim != 3:
        raise ValueError(
            "muscle_forces must be one sequence, shape (T, M) or (T, M, 3); got "
            f"{np.shape(muscle_forces)}."
        )
    external = external.reshape(len(external), -1)  # (T, 3N)
    n_frames = len(external)
    h = dt / int(substeps)
    mass = np.repeat(face.masses, 3)
    alpha, beta = face.damping
    damping = (alpha * sp.diags(mass) + beta * face.stiffness).tocsr()
    tangent = (sp.diags(4.0 / h**2 * mass) + 2.0 / h * damping + face.stiffness).tocsc()
    solve = spla.splu(tangent).solve

    u = np.zeros(3 * face.n_vertices)
    v = np.zeros_like(u)
    scale = max(np.abs(external).max(), 1e-12) * np.sqrt(u.size)
    if start == "equilibrium":
        u = _static_equilibrium(face, external[0], nonlinear, tol * scale, max_iter)
    acceleration = (external[0] - internal_force(face, u.reshape(-1, 3), nonlinear=nonlinear)) / mass
    frames = [u.copy()]
    for t in range(n_frames - 1):
        f0, f1 = external[t], external[t + 1]
        for s in range(1, int(substeps) + 1):
            weight = s / substeps if hold == "first" else 0.0
            force = (1 - weight) * f0 + weight * f1
            du = h * v + h**2 / 4 * acceleration  # predictor: the linear step's guess
            for _ in range(max_iter):
                a_new = 4.0 / h**2 * (du - h * v) - acceleration
                v_new = 2.0 / h * du - v
                residual = (
                    mass * a_new + damping @ v_new
                    + internal_force(face, (u + du).reshape(-1, 3), nonlinear=nonlinear) - force
                )  # fmt: skip
                if np.linalg.norm(residual) <= tol * scale:
                    break
                du -= solve(residual)
            else:
                raise RuntimeError(
                    f"Newton's method did not converge at frame {t + 1}: the muscle forces are "
                    "too large for the skin (reduce them or use more substeps)."
                )
            u, v, acceleration = u + du, v_new, a_new
        frames.append(u.copy())
    return face.vertices + np.stack(frames).reshape(n_frames, face.n_vertices, 3)
