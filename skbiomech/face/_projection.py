"""Blendshape coefficients of meshes given as vertices."""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_finite

__all__ = ["project_to_blendshapes"]


def project_to_blendshapes(vertices, face):
    """Least-squares blendshape coefficients of meshes given as vertices.

    Solves ``min_c |vertices - rest - sum_j c_j B_j|^2`` for every mesh at
    once with one factorization of the basis.

    Parameters
    ----------
    vertices : array-like of shape (..., N, 3)
        One mesh (N, 3) or a batch of meshes on the face's topology.
    face : FaceModel

    Returns
    -------
    coefficients : ndarray of shape (..., K)

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.face import default_face_model, project_to_blendshapes
    >>> face = default_face_model(resolution=21)
    >>> c = np.zeros(face.n_blendshapes)
    >>> c[3] = 0.7
    >>> np.allclose(project_to_blendshapes(face.mesh(c), face), c)
    True
    """
    vertices = check_finite(as_float_array(vertices, "vertices"), "vertices")
    n = face.n_vertices
    if vertices.ndim < 2 or vertices.shape[-2:] != (n, 3):
        raise ValueError(
            f"vertices must have shape (..., N={n}, 3) on the face's topology; got {vertices.shape}."
        )
    batch = vertices.shape[:-2]
    displacement = (vertices - face.vertices).reshape(-1, 3 * n)
    basis = face.blendshapes.reshape(face.n_blendshapes, -1)
    q, r = np.linalg.qr(basis.T)  # basis^T = Q R, so c = R^-1 Q^T u
    coefficients = np.linalg.solve(r, q.T @ displacement.T).T
    return coefficients.reshape(*batch, face.n_blendshapes)
