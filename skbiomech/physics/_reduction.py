"""Reduced (blendshape-coordinate) mechanics, precomputed once per face model.

With ``u = sum_j c_j B_j`` the kinetic energy ``1/2 sum_i m_i |du_i/dt|^2``
gives the mass matrix ``M = sum_i m_i B(i)^T B(i)`` (the paper's extra 1/2 is a
slip, DESIGN §2.1), the linearized elastic energy gives ``K_B = B^T K B``
(which the paper wrongly drops, §2.2), Rayleigh damping gives
``D_B = alpha M + beta K_B``, and the generalized force of muscle forces is a
fixed linear map ``Q = G vec(F_mus)`` (§2.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_float_array, check_finite

__all__ = [
    "ReducedModel",
    "reduce_face_model",
    "check_mass_matrix",
    "generalized_force_per_vertex",
    "unit_reduced_model",
]


def check_mass_matrix(mass, name="mass matrix"):
    """Raise ``ValueError`` unless ``mass`` (..., K, K) is symmetric positive definite."""
    mass = np.asarray(mass, dtype=np.float64)
    if mass.ndim < 2 or mass.shape[-1] != mass.shape[-2]:
        raise ValueError(f"{name} must be square (..., K, K); got shape {mass.shape}.")
    check_finite(mass, name)
    scale = max(np.abs(mass).max(), np.finfo(float).tiny)
    if not np.allclose(mass, np.swapaxes(mass, -1, -2), atol=1e-10 * scale):
        raise ValueError(f"{name} is not symmetric.")
    eigenvalues = np.linalg.eigvalsh(mass)
    if np.any(eigenvalues <= 1e-12 * scale):
        raise ValueError(
            f"{name} is not positive definite (smallest eigenvalue "
            f"{eigenvalues.min():.3g}): masses must be positive and the "
            "blendshapes linearly independent."
        )
    return mass


@dataclass(frozen=True)
class ReducedModel:
    """Reduced mechanics of a face model in blendshape coordinates.

    Attributes
    ----------
    mass : ndarray of shape (K, K)
        ``M = sum_i m_i B(i)^T B(i)``.
    stiffness : ndarray of shape (K, K)
        ``K_B = B^T K B``.
    damping : ndarray of shape (K, K)
        ``D_B = alpha M + beta K_B``.
    force_vector : ndarray of shape (K, 3 * M)
        ``G`` for one 3-vector force per muscle, flattened muscle-major
        (``[f_0x, f_0y, f_0z, f_1x, ...]``).
    force_activation : ndarray of shape (K, M)
        ``G`` for one scalar activation per muscle along its line of action.
    region_masses : ndarray of shape (R, K, K)
        Mass matrix of each region at unit mass scale: with per-region mass
        scales ``s_r``, ``M = sum_r s_r region_masses[r]``.
    paper_mass : ndarray of shape (K, K)
        The paper's ``1/2 sum_i m_i B(i)^T B(i)``, for ``dynamics="paper"``.
    blendshape_names, muscle_names, region_names : tuple of str

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import reduce_face_model
    >>> reduced = reduce_face_model(default_face_model(resolution=21))
    >>> reduced.mass.shape, reduced.force_activation.shape
    ((37, 37), (37, 37))
    """

    mass: np.ndarray
    stiffness: np.ndarray
    damping: np.ndarray
    force_vector: np.ndarray
    force_activation: np.ndarray
    region_masses: np.ndarray
    paper_mass: np.ndarray
    blendshape_names: tuple
    muscle_names: tuple
    region_names: tuple

    @property
    def n_blendshapes(self):
        return self.mass.shape[0]

    @property
    def n_muscles(self):
        return len(self.muscle_names)

    def force_operator(self, force_model="activation"):
        """``G`` for ``force_model`` in {"activation", "vector"}."""
        if force_model == "activation":
            return self.force_activation
        if force_model == "vector":
            return self.force_vector
        raise ValueError(
            f"force_model must be 'activation' or 'vector'; got {force_model!r}."
        )

    def natural_frequencies(self):
        """Undamped natural angular frequencies (rad/s) of the reduced model, ascending."""
        eigenvalues = np.linalg.eigvals(np.linalg.solve(self.mass, self.stiffness))
        return np.sqrt(np.sort(np.abs(eigenvalues.real)))


def reduce_face_model(face):
    """Precompute the reduced mechanics of ``face``.

    One pass over the vertices; nothing here is repeated per frame.

    Parameters
    ----------
    face : FaceModel

    Returns
    -------
    reduced : ReducedModel

    Raises
    ------
    ValueError
        If the mass matrix is not positive definite (linearly dependent
        blendshapes).
    """
    n_shapes = face.n_blendshapes
    basis = face.blendshapes.reshape(n_shapes, -1)  # (K, 3N), vertex-major
    vertex_mass = np.repeat(face.masses, 3)
    mass = (basis * vertex_mass) @ basis.T
    mass = 0.5 * (mass + mass.T)
    check_mass_matrix(mass, "reduced mass matrix")
    stiffness = basis @ (face.stiffness @ basis.T)
    stiffness = 0.5 * (stiffness + stiffness.T)
    alpha, beta = face.damping
    damping = alpha * mass + beta * stiffness

    force_vector = np.einsum("kid,im->kmd", face.blendshapes, face.distribution)
    patterns = face.muscle_force_patterns()  # (M, N, 3)
    force_activation = np.einsum("kid,mid->km", face.blendshapes, patterns)

    n_regions = len(face.region_names)
    region_masses = np.empty((n_regions, n_shapes, n_shapes))
    for region in range(n_regions):
        in_region = np.repeat(face.vertex_regions == region, 3)
        region_masses[region] = (basis * (vertex_mass * in_region)) @ basis.T

    return ReducedModel(
        mass=mass,
        stiffness=stiffness,
        damping=damping,
        force_vector=force_vector.reshape(n_shapes, -1),
        force_activation=force_activation,
        region_masses=region_masses,
        paper_mass=0.5 * mass,
        blendshape_names=tuple(face.blendshape_names),
        muscle_names=tuple(face.muscle_names),
        region_names=tuple(face.region_names),
    )


def generalized_force_per_vertex(forces, blendshapes, distribution):
    """The paper's Eq. 9, vectorized: ``Q = sum_i B(i)^T (P F_mus)_i``.

    The reference that :attr:`ReducedModel.force_vector` replaces; it costs
    O(N K) per frame instead of O(K M).

    Parameters
    ----------
    forces : array-like of shape (..., M, 3)
    blendshapes : ndarray of shape (K, N, 3)
    distribution : ndarray of shape (N, M)

    Returns
    -------
    generalized_force : ndarray of shape (..., K)
    """
    forces = check_finite(as_float_array(forces, "forces"), "forces")
    if forces.ndim < 2 or forces.shape[-2:] != (distribution.shape[1], 3):
        raise ValueError(
            f"forces must have shape (..., {distribution.shape[1]}, 3); got {forces.shape}."
        )
    vertex_forces = np.einsum("nm,...md->...nd", distribution, forces)
    return np.einsum("knd,...nd->...k", blendshapes, vertex_forces)


def unit_reduced_model(names, *, natural_frequency=5.0, damping_ratio=0.5):
    """A face-free reduced model: each coordinate a unit-mass damped oscillator.

    For data with no face model behind it (plain arrays), every input column
    is a generalized coordinate driven by its own scalar force, with unit
    mass, stiffness ``w^2`` and damping ``2 zeta w`` (``w`` in rad/s). The
    activation operator is ``w^2 I``, so a constant activation ``a`` settles
    at coordinate ``a``, as on a face model whose blendshapes are muscle
    responses.

    Parameters
    ----------
    names : sequence of str
        Names of the coordinates (also used as "muscle" names).
    natural_frequency : float, default=5.0
        In Hz.
    damping_ratio : float, default=0.5

    Returns
    -------
    ReducedModel
        With an empty ``force_vector`` (vector forces need a face).
    """
    k = len(names)
    if k == 0:
        raise ValueError("A reduced model needs at least one coordinate.")
    omega = 2 * np.pi * natural_frequency
    eye = np.eye(k)
    return ReducedModel(
        mass=eye,
        stiffness=omega**2 * eye,
        damping=2 * damping_ratio * omega * eye,
        force_vector=np.zeros((k, 0)),
        force_activation=omega**2 * eye,
        region_masses=eye[None],
        paper_mass=0.5 * eye,
        blendshape_names=tuple(names),
        muscle_names=tuple(names),
        region_names=("all",),
    )
