"""Skin mechanics of a triangle mesh: masses, normals and linearized stiffness.

Pure functions shared by the procedural face and the ICT-FaceKit loader.
Displacement vectors are flattened vertex-major: ``u_flat[3 * i + d]`` is the
``d``-th coordinate of vertex ``i``.

The skin is a membrane of edge springs, a bending term and attachment springs
to the skull that are stiffer along the surface normal than across it
(DESIGN §2.7): with edge springs alone a surface has no first-order stiffness
out of its plane and wrinkles at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "triangle_areas",
    "vertex_areas",
    "vertex_normals",
    "mesh_edges",
    "graph_laplacian",
    "edge_spring_stiffness",
    "bending_stiffness",
    "attachment_stiffness",
    "skin_stiffness",
    "SkinMaterial",
    "skin_from_mesh",
]


def triangle_areas(vertices, triangles):
    """Area of each triangle, shape (F,)."""
    a, b, c = (vertices[triangles[:, j]] for j in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def vertex_areas(vertices, triangles):
    """Lumped (barycentric) area of each vertex: a third of each adjacent triangle."""
    areas = triangle_areas(vertices, triangles)
    return np.bincount(
        triangles.ravel(), weights=np.repeat(areas / 3.0, 3), minlength=len(vertices)
    )


def vertex_normals(vertices, triangles):
    """Area-weighted unit vertex normals, shape (N, 3).

    Vertices on no triangle get the normal (0, 0, 1).
    """
    a, b, c = (vertices[triangles[:, j]] for j in range(3))
    face_normals = np.cross(b - a, c - a)  # length = 2 * area: area weighting
    normals = np.zeros_like(vertices)
    for j in range(3):
        np.add.at(normals, triangles[:, j], face_normals)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    isolated = norm[:, 0] == 0
    normals[isolated] = (0.0, 0.0, 1.0)
    norm[isolated] = 1.0
    return normals / norm


def mesh_edges(triangles):
    """Unique undirected edges (E, 2) of a triangle mesh, each as (low, high)."""
    pairs = np.concatenate(
        [triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]
    )
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


def graph_laplacian(n_vertices, edges):
    """Uniform graph Laplacian ``D - A`` as a sparse (N, N) matrix."""
    i, j = edges[:, 0], edges[:, 1]
    ones = np.ones(len(edges))
    adjacency = sp.coo_matrix(
        (np.concatenate([ones, ones]), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(n_vertices, n_vertices),
    ).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (sp.diags(degree) - adjacency).tocsr()


def _blocks_to_sparse(rows, cols, blocks, n_vertices):
    """Assemble 3x3 blocks at vertex positions (rows, cols) into a 3N x 3N matrix."""
    d = np.arange(3)
    r = (3 * rows[:, None, None] + d[None, :, None]).repeat(3, axis=2)
    c = (3 * cols[:, None, None] + d[None, None, :]).repeat(3, axis=1)
    return sp.csr_matrix(
        (blocks.ravel(), (r.ravel(), c.ravel())), shape=(3 * n_vertices, 3 * n_vertices)
    )


def edge_spring_stiffness(vertices, edges, stiffness):
    """Linearized stiffness of unstretched edge springs at rest.

    A spring of stiffness ``k`` along unit direction ``e`` contributes
    ``k e e^T`` to the two diagonal blocks and ``-k e e^T`` to the two
    off-diagonal ones. Unstretched springs have no geometric (prestress) term.

    Parameters
    ----------
    vertices : ndarray of shape (N, 3)
    edges : ndarray of shape (E, 2)
    stiffness : ndarray of shape (E,)

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (3N, 3N)
    """
    direction = vertices[edges[:, 1]] - vertices[edges[:, 0]]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    outer = stiffness[:, None, None] * direction[:, :, None] * direction[:, None, :]
    i, j = edges[:, 0], edges[:, 1]
    rows = np.concatenate([i, j, i, j])
    cols = np.concatenate([i, j, j, i])
    blocks = np.concatenate([outer, outer, -outer, -outer])
    return _blocks_to_sparse(rows, cols, blocks, len(vertices))


def bending_stiffness(n_vertices, edges, areas, rigidity):
    """Quadratic bending energy ``rigidity/2 * sum_i (L u)_i^2 / A_i``.

    ``L`` is the uniform graph Laplacian, so ``(L u)_i / A_i`` approximates the
    surface Laplacian of the displacement; dividing by the vertex area keeps
    the energy roughly independent of the mesh resolution.

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (3N, 3N)
        ``rigidity * L^T diag(1/A) L`` applied to each coordinate.
    """
    laplacian = graph_laplacian(n_vertices, edges)
    scalar = rigidity * (laplacian.T @ sp.diags(1.0 / areas) @ laplacian)
    return sp.kron(scalar, sp.identity(3), format="csr")


def attachment_stiffness(normals, stiffness):
    """Zero-length springs to the skull, anisotropic about the normal.

    Parameters
    ----------
    normals : ndarray of shape (N, 3)
        Unit rest normals.
    stiffness : ndarray of shape (N, 2)
        Per-vertex (tangential, normal) stiffness.

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (3N, 3N)
        Block diagonal ``k_t (I - n n^T) + k_n n n^T``.
    """
    nn = normals[:, :, None] * normals[:, None, :]
    blocks = stiffness[:, 0, None, None] * (np.eye(3) - nn) + stiffness[:, 1, None, None] * nn
    index = np.arange(len(normals))
    return _blocks_to_sparse(index, index, blocks, len(normals))


def skin_stiffness(vertices, triangles, edges, spring_stiffness, bending_rigidity, attachment):
    """Linearized skin stiffness at rest and its exactly linear part.

    Returns
    -------
    total : scipy.sparse.csr_matrix of shape (3N, 3N)
        Edge springs + bending + attachment.
    linear : scipy.sparse.csr_matrix of shape (3N, 3N)
        Bending + attachment, which are quadratic energies and hence exactly
        linear at any displacement.
    """
    areas = np.maximum(vertex_areas(vertices, triangles), 1e-12)
    normals = vertex_normals(vertices, triangles)
    linear = (
        bending_stiffness(len(vertices), edges, areas, bending_rigidity)
        + attachment_stiffness(normals, attachment)
    ).tocsr()
    total = (edge_spring_stiffness(vertices, edges, spring_stiffness) + linear).tocsr()
    return total, linear


@dataclass(frozen=True)
class SkinMaterial:
    """Material constants of the skin, in centimetres, grams and seconds.

    Attributes
    ----------
    density : float, default=1.0
        Areal density of skin plus subcutaneous tissue (g/cm²).
    spring_stiffness : float, default=3000.0
        Stiffness of each edge spring (g/s²).
    bending_rigidity : float, default=500.0
        Coefficient of the bending energy (see :func:`bending_stiffness`).
    attachment : tuple of float, default=(1500.0, 6000.0)
        (tangential, normal) attachment stiffness per unit area (g/(s² cm²)).
    damping : tuple of float, default=(20.0, 0.005)
        Rayleigh ``(alpha [1/s], beta [s])``.
    """

    density: float = 1.0
    spring_stiffness: float = 3000.0
    bending_rigidity: float = 500.0
    attachment: tuple = (1500.0, 6000.0)
    damping: tuple = (20.0, 0.005)


def skin_from_mesh(vertices, triangles, material=SkinMaterial()):
    """Skin mechanics of a triangle mesh, as :class:`FaceModel` keyword arguments.

    Every mesh edge is a spring; masses and attachment springs are lumped on
    the vertex areas.

    Returns
    -------
    fields : dict
        ``masses``, ``spring_edges``, ``spring_stiffness``,
        ``bending_rigidity``, ``attachment_stiffness`` and ``damping``.
    stiffness : scipy.sparse.csr_matrix of shape (3N, 3N)
        The linearized stiffness those fields give.
    """
    edges = mesh_edges(triangles)
    areas = vertex_areas(vertices, triangles)
    fields = dict(
        masses=material.density * areas,
        spring_edges=edges,
        spring_stiffness=np.full(len(edges), float(material.spring_stiffness)),
        bending_rigidity=float(material.bending_rigidity),
        attachment_stiffness=areas[:, None] * np.asarray(material.attachment, dtype=float)[None, :],
        damping=tuple(material.damping),
    )
    stiffness, _ = skin_stiffness(
        vertices,
        triangles,
        edges,
        fields["spring_stiffness"],
        fields["bending_rigidity"],
        fields["attachment_stiffness"],
    )
    return fields, stiffness
