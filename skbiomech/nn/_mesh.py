"""Chebyshev mesh convolution, mesh pooling and a CoMA-style mesh encoder.

The numerical work is done by pure functions; :class:`ChebConv` and
:class:`MeshConvEncoder` only hold parameters and, as buffers, the per-face
constants (Laplacians, pooling matrices, blendshape basis).

Inside the encoder features are vertex-major with the batch last, shape
(N, C, B): the sparse products then act on a contiguous (N, C*B) matrix,
about twice as fast on CPU as a sparse product from the right, and neither
the blendshape product nor the final Linear needs a transposed copy.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse import csgraph
from torch import nn
from torch.nn import functional as F

from .._checks import as_float_array, check_finite, check_shape
from ..face._model import FaceModel
from ..face._skin import mesh_edges

__all__ = ["ChebConv", "MeshConvEncoder", "MeshPooling", "chebyshev_conv", "mesh_pooling", "scaled_laplacian"]


def _check_edges(edges, n_vertices):
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must have shape (E, 2); got {edges.shape}.")
    if edges.size and edges.dtype.kind not in "iu":
        raise TypeError(f"edges must hold integer vertex indices; got {edges.dtype}.")
    edges = edges.astype(np.int64)
    if edges.size and (edges.min() < 0 or edges.max() >= n_vertices):
        raise ValueError(f"edges index vertices outside 0..{n_vertices - 1} (min {edges.min()}, max {edges.max()}).")
    return edges


def _directed_pairs(edges, n_vertices):
    """Both directions of every edge, self-loops and duplicates dropped, row-major sorted."""
    edges = edges[edges[:, 0] != edges[:, 1]]
    keys = np.unique(np.concatenate([edges[:, 0] * n_vertices + edges[:, 1], edges[:, 1] * n_vertices + edges[:, 0]]))
    return keys // n_vertices, keys % n_vertices


def _coo(rows, cols, values, shape, dtype):
    # Sorted, duplicate-free (row, col) pairs: already coalesced, so skip the sort.
    indices = torch.as_tensor(np.stack([rows, cols]), dtype=torch.long)
    values = torch.as_tensor(values, dtype=dtype or torch.get_default_dtype())
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=False, is_coalesced=True)


def _positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    return int(value)


def _at_least_one(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 1 <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= 1; got {value!r}.")
    return value


def _check_sparse(matrix, n=None):
    if not isinstance(matrix, torch.Tensor) or matrix.layout not in (torch.sparse_coo, torch.sparse_csr):
        raise TypeError("laplacian must be a torch sparse COO or CSR tensor, e.g. from scaled_laplacian().")
    n = matrix.shape[0] if n is None else n
    if tuple(matrix.shape) != (n, n):
        raise ValueError(f"laplacian must have shape (N={n}, N={n}); got {tuple(matrix.shape)}.")


def scaled_laplacian(edges, n_vertices, *, dtype=None):
    """Chebyshev-scaled normalized graph Laplacian ``2 L / lambda_max - I``, with ``lambda_max = 2``.

    ``L = I - D^-1/2 A D^-1/2`` is the symmetric normalized Laplacian of the
    undirected graph. Its spectrum lies in [0, 2], so ``lambda_max = 2``
    maps it into [-1, 1], where Chebyshev polynomials are bounded, with no
    eigen-solve (as CoMA does). The result is ``-D^-1/2 A D^-1/2``: no
    diagonal, and all zero for isolated vertices.

    Parameters
    ----------
    edges : array-like of int of shape (E, 2)
        Undirected edges; direction, duplicates and self-loops are ignored.
    n_vertices : int
        Number of vertices N.
    dtype : torch.dtype, default=None
        ``None`` for the default dtype.

    Returns
    -------
    laplacian : torch sparse COO tensor of shape (N, N)
        Coalesced and symmetric.

    Examples
    --------
    >>> lap = scaled_laplacian([[0, 1], [1, 2]], 3)
    >>> lap.to_dense()
    tensor([[ 0.0000, -0.7071,  0.0000],
            [-0.7071,  0.0000, -0.7071],
            [ 0.0000, -0.7071,  0.0000]])
    """
    n_vertices = _positive_int(n_vertices, "n_vertices")
    rows, cols = _directed_pairs(_check_edges(edges, n_vertices), n_vertices)
    degree = np.bincount(rows, minlength=n_vertices).astype(np.float64)
    values = -1.0 / np.sqrt(degree[rows] * degree[cols])
    return _coo(rows, cols, values, (n_vertices, n_vertices), dtype)


def _chebyshev(x, laplacian, weight, bias):
    """Chebyshev convolution in the internal layout: x (N, C_in, B) -> (N, C_out, B)."""
    n, c_in, b = x.shape
    order = weight.shape[0]
    terms = [x.reshape(n, c_in * b)]
    if order > 1:
        terms.append(laplacian @ terms[0])
    for _ in range(2, order):
        # T_k = 2 L T_{k-1} - T_{k-2} as one fused sparse addmm: no temporaries.
        terms.append(torch.addmm(terms[-2], laplacian, terms[-1], beta=-1.0, alpha=2.0))
    stacked = torch.stack(terms, dim=1).view(n, order * c_in, b) if order > 1 else x
    # One (C_out, order*C_in) @ (order*C_in, B) product per vertex, on a broadcast
    # weight: torch.matmul would instead transpose-copy the whole feature map.
    w = weight.reshape(order * c_in, -1).t().expand(n, -1, -1)
    if bias is None:
        return torch.bmm(w, stacked)
    return torch.baddbmm(bias[None, :, None].expand(n, -1, b), w, stacked)


def chebyshev_conv(x, laplacian, weight, bias=None):
    """Chebyshev graph convolution ``sum_k T_k(L~) x W_k (+ bias)``.

    ``T_0 = I``, ``T_1 = L~``, ``T_k = 2 L~ T_{k-1} - T_{k-2}``, applied to
    ``x`` by the recursion: one sparse product per order beyond the first,
    on all frames and channels at once. Order 1 is a per-vertex linear map.

    Parameters
    ----------
    x : Tensor of shape (B, N, C_in)
    laplacian : torch sparse tensor of shape (N, N)
        COO or CSR, from :func:`scaled_laplacian`; same dtype as ``x``.
    weight : Tensor of shape (order, C_in, C_out)
    bias : Tensor of shape (C_out,), default=None

    Returns
    -------
    out : Tensor of shape (B, N, C_out)

    Examples
    --------
    >>> import torch
    >>> lap = scaled_laplacian([[0, 1], [1, 2], [2, 0]], 3)
    >>> chebyshev_conv(torch.ones(4, 3, 2), lap, torch.ones(3, 2, 5)).shape
    torch.Size([4, 3, 5])
    """
    for name, value in (("x", x), ("weight", weight)):
        if not isinstance(value, torch.Tensor) or value.ndim != 3:
            raise ValueError(f"{name} must be a 3-dimensional tensor; got {getattr(value, 'shape', type(value))}.")
    _check_sparse(laplacian, x.shape[1])
    if weight.shape[0] < 1 or weight.shape[1] != x.shape[2]:
        raise ValueError(f"weight must have shape (order >= 1, C_in={x.shape[2]}, C_out); got {tuple(weight.shape)}.")
    if bias is not None and tuple(bias.shape) != (weight.shape[2],):
        raise ValueError(f"bias must have shape (C_out={weight.shape[2]},); got {tuple(bias.shape)}.")
    if len({x.dtype, laplacian.dtype, weight.dtype}) != 1:
        dtypes = f"{x.dtype}, {laplacian.dtype}, {weight.dtype}"
        raise TypeError(f"x, laplacian and weight must share a dtype; got {dtypes}.")
    return _chebyshev(x.permute(1, 2, 0), laplacian, weight, bias).permute(2, 0, 1)


class MeshPooling(NamedTuple):
    """One level of mesh coarsening, from :func:`mesh_pooling`."""

    #: torch sparse COO tensor (N_coarse, N): averages each cluster; rows sum to 1.
    matrix: torch.Tensor
    #: ndarray (N_coarse, 3): cluster centroids, ``matrix @ vertices``.
    vertices: np.ndarray
    #: ndarray of int (E_coarse, 2): clusters joined by a fine edge, each as (low, high).
    edges: np.ndarray
    #: ndarray of int (N,): the cluster of each fine vertex.
    assignment: np.ndarray


def _farthest_points(points, k):
    """Greedy max-min (farthest-point) sample of ``k`` indices, from the point nearest the centroid."""
    if k >= len(points):
        return np.arange(len(points))
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = np.argmin(np.square(points - points.mean(axis=0)).sum(axis=1))
    distance = np.square(points - points[chosen[0]]).sum(axis=1)
    for s in range(1, k):
        distance[chosen[s - 1]] = -1.0  # never re-pick a seed, even among coincident points
        chosen[s] = np.argmax(distance)
        np.minimum(distance, np.square(points - points[chosen[s]]).sum(axis=1), out=distance)
    return chosen


def mesh_pooling(vertices, edges, factor, *, dtype=None):
    """Coarsen a mesh graph by about ``factor``: clusters, averaging matrix, coarse graph.

    Each connected component of ``n`` vertices gets ``ceil(n / factor)``
    seeds by farthest-point sampling; every vertex joins the seed nearest
    along the graph (Dijkstra over edge lengths). Clusters are therefore
    connected, so the coarse graph is connected wherever the fine one is,
    and lips or eyelids that touch in space but not on the mesh are never
    merged. Deterministic. Apply it repeatedly for a hierarchy.

    Parameters
    ----------
    vertices : array-like of shape (N, 3)
    edges : array-like of int of shape (E, 2)
    factor : float >= 1
        Target ratio of fine to coarse vertices; 1 keeps every vertex.
    dtype : torch.dtype, default=None
        dtype of the matrix; ``None`` for the default dtype.

    Returns
    -------
    pooling : MeshPooling
        ``(matrix, vertices, edges, assignment)``.

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.face._skin import mesh_edges
    >>> face = default_face_model(resolution=21)
    >>> pool = mesh_pooling(face.vertices, mesh_edges(face.triangles), 4)
    >>> face.n_vertices, pool.matrix.shape
    (448, torch.Size([112, 448]))
    """
    vertices = check_finite(as_float_array(vertices, "vertices", ndim=2), "vertices")
    check_shape(vertices, (None, 3), "vertices")
    n = len(vertices)
    if n == 0:
        raise ValueError("vertices is empty; pooling needs at least one vertex.")
    factor = _at_least_one(factor, "factor")
    edges = _check_edges(edges, n)
    rows, cols = _directed_pairs(edges, n)
    length = np.linalg.norm(vertices[rows] - vertices[cols], axis=1)
    # csgraph drops explicit zeros: keep coincident vertices joined.
    length += 1e-12 * (1.0 + (length.max() if length.size else 0.0))
    graph = sp.csr_matrix((length, (rows, cols)), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    members = np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])
    seeds = np.concatenate([m[_farthest_points(vertices[m], math.ceil(len(m) / factor))] for m in members])
    if len(seeds) == n:
        source = np.arange(n)
    else:
        _, _, source = csgraph.dijkstra(graph, directed=False, indices=seeds, min_only=True, return_predecessors=True)
    cluster_of_seed = np.empty(n, dtype=np.int64)
    cluster_of_seed[seeds] = np.arange(len(seeds))
    assignment = cluster_of_seed[source]

    n_coarse = len(seeds)
    counts = np.bincount(assignment, minlength=n_coarse).astype(np.float64)
    order = np.lexsort((np.arange(n), assignment))
    matrix = _coo(assignment[order], order, 1.0 / counts[assignment[order]], (n_coarse, n), dtype)
    coarse = np.stack([np.bincount(assignment, vertices[:, d], n_coarse) for d in range(3)], axis=1) / counts[:, None]
    pairs = np.sort(assignment[edges], axis=1)
    coarse_edges = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0).reshape(-1, 2)
    return MeshPooling(matrix, coarse, coarse_edges, assignment)


def _register_sparse(module, name, matrix):
    """Store a sparse matrix as dense CSR buffers: they pickle, deepcopy and load anywhere."""
    matrix = matrix.to_sparse_coo().coalesce()
    rows, cols = matrix.indices()
    crow = torch.zeros(matrix.shape[0] + 1, dtype=torch.long)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=matrix.shape[0]), 0)
    module.register_buffer(f"{name}_crow", crow)
    module.register_buffer(f"{name}_col", cols.clone())
    module.register_buffer(f"{name}_values", matrix.values().to(torch.get_default_dtype()).clone())
    module._sparse_shapes[name] = tuple(matrix.shape)


def _sparse(module, name):
    """The CSR matrix of buffers ``name``, built per call (cheap; shares the buffers' memory)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(
            getattr(module, f"{name}_crow"), getattr(module, f"{name}_col"), getattr(module, f"{name}_values"),
            module._sparse_shapes[name], check_invariants=False,
        )  # fmt: skip


class ChebConv(nn.Module):
    """Chebyshev convolution on a fixed mesh graph; wraps :func:`chebyshev_conv`.

    Parameters
    ----------
    in_channels, out_channels : int
    order : int
        Number of Chebyshev terms K (polynomial degree K - 1; K-ring support).
    laplacian : torch sparse tensor of shape (N, N)
        From :func:`scaled_laplacian`; kept as CSR buffers in the default dtype.
    bias : bool, default=True

    Attributes
    ----------
    weight : Parameter of shape (order, in_channels, out_channels)
    bias : Parameter of shape (out_channels,) or None

    Examples
    --------
    >>> import torch
    >>> conv = ChebConv(3, 8, 3, scaled_laplacian([[0, 1], [1, 2]], 3))
    >>> conv(torch.randn(5, 3, 3)).shape
    torch.Size([5, 3, 8])
    """

    def __init__(self, in_channels, out_channels, order, laplacian, *, bias=True):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels")
        self.out_channels = _positive_int(out_channels, "out_channels")
        self.order = _positive_int(order, "order")
        _check_sparse(laplacian)
        self._sparse_shapes = {}
        _register_sparse(self, "laplacian", laplacian.detach().cpu())
        self.weight = nn.Parameter(torch.empty(self.order, self.in_channels, self.out_channels))
        self.bias = nn.Parameter(torch.empty(self.out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # Glorot over all orders: the K terms add up like K*C_in inputs.
        bound = math.sqrt(6.0 / (self.order * self.in_channels + self.out_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def n_vertices(self):
        return self._sparse_shapes["laplacian"][0]

    def laplacian(self):
        """The scaled Laplacian as a CSR tensor on the module's device and dtype."""
        return _sparse(self, "laplacian")

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, order={self.order}, n_vertices={self.n_vertices}"

    def forward(self, x):
        """x (B, N, C_in) -> (B, N, C_out)."""
        return chebyshev_conv(x, self.laplacian(), self.weight, self.bias)


class MeshConvEncoder(nn.Module):
    """CoMA-style encoder: blendshape coefficients -> latent code, through the mesh.

    Each frame's displacement ``u = sum_j c_j B_j`` is rebuilt on the fly
    (one matmul against the basis buffer), then passes ``len(channels)``
    levels of Chebyshev convolution + ELU + pooling (:func:`mesh_pooling`),
    is flattened and mapped by a Linear layer. The hierarchy is computed
    once, deterministically, from the face's mesh edges.

    Parameters
    ----------
    face : FaceModel
    channels : sequence of int, default=(16, 32, 32, 64)
        Output channels of the convolution at each level.
    order : int, default=3
        Chebyshev terms per convolution.
    pool_factor : float, default=4
        Vertex reduction per level (>= 1).
    latent_dim : int, default=64

    Attributes
    ----------
    level_sizes : tuple of int
        Vertices at each level, the input mesh first and the flattened one last.
    convs : ModuleList of ChebConv
    linear : Linear
    basis : buffer of shape (3N, K)
        The blendshapes, rows ordered (vertex, coordinate).

    Notes
    -----
    Sparse matrices are kept as dense CSR index and value buffers, so the
    module deep-copies, pickles, moves with ``.to(device)`` and round-trips
    through ``state_dict`` (a GPU-trained one loads on CPU). Buffers are
    built in the default dtype; ``.double()`` gives a float64 module (build
    it under a float64 default dtype to keep the face data unrounded).

    References
    ----------
    Ranjan, Bolkart, Sanyal, Black. Generating 3D faces using convolutional
    mesh autoencoders. ECCV 2018. Defferrard, Bresson, Vandergheynst.
    Convolutional neural networks on graphs with fast localized spectral
    filtering. NeurIPS 2016.

    Examples
    --------
    >>> import torch
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=21)
    >>> encoder = MeshConvEncoder(face, channels=(8, 16), latent_dim=32)
    >>> encoder.level_sizes
    (448, 112, 28)
    >>> encoder(torch.zeros(2, 10, face.n_blendshapes)).shape
    torch.Size([2, 10, 32])
    """

    def __init__(self, face, *, channels=(16, 32, 32, 64), order=3, pool_factor=4, latent_dim=64):
        super().__init__()
        if not isinstance(face, FaceModel):
            raise TypeError(f"face must be a FaceModel; got {type(face).__name__}.")
        if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) == 0:
            raise ValueError(f"channels must be a non-empty sequence of positive integers; got {channels!r}.")
        self.channels = tuple(_positive_int(c, "each of channels") for c in channels)
        self.order = _positive_int(order, "order")
        self.pool_factor = _at_least_one(pool_factor, "pool_factor")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")

        self._sparse_shapes = {}
        vertices, edges = face.vertices, mesh_edges(face.triangles)
        sizes, convs, in_channels = [face.n_vertices], [], 3
        for level, out_channels in enumerate(self.channels):
            convs.append(ChebConv(in_channels, out_channels, self.order, scaled_laplacian(edges, len(vertices))))
            pooling = mesh_pooling(vertices, edges, pool_factor)
            _register_sparse(self, f"pool{level}", pooling.matrix)
            vertices, edges, in_channels = pooling.vertices, pooling.edges, out_channels
            sizes.append(len(vertices))
        self.level_sizes = tuple(sizes)
        self.convs = nn.ModuleList(convs)
        self.linear = nn.Linear(sizes[-1] * self.channels[-1], self.latent_dim)
        # Rows ordered (vertex, coordinate): basis @ c.T is already (N, 3, B).
        basis = np.transpose(face.blendshapes, (1, 2, 0)).reshape(3 * face.n_vertices, face.n_blendshapes)
        self.register_buffer("basis", torch.tensor(basis, dtype=torch.get_default_dtype()))

    @property
    def n_vertices(self):
        return self.level_sizes[0]

    @property
    def n_blendshapes(self):
        return self.basis.shape[1]

    def extra_repr(self):
        return f"n_blendshapes={self.n_blendshapes}, level_sizes={self.level_sizes}, latent_dim={self.latent_dim}"

    def _checked(self, value, name, shape):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}.")
        if value.ndim < len(shape) or tuple(value.shape[value.ndim - len(shape) :]) != shape:
            want = ", ".join(["..."] + [str(s) for s in shape])
            raise ValueError(f"{name} must have shape ({want}); got {tuple(value.shape)}.")
        value = value.to(self.basis.dtype)
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
        return value

    def forward(self, coefficients):
        """Encode blendshape coefficients.

        Parameters
        ----------
        coefficients : Tensor of shape (..., K)
            Cast to the module's dtype.

        Returns
        -------
        latent : Tensor of shape (..., latent_dim)
        """
        coefficients = self._checked(coefficients, "coefficients", (self.n_blendshapes,))
        flat = coefficients.reshape(-1, self.n_blendshapes)
        u = torch.matmul(self.basis, flat.t()).view(self.n_vertices, 3, len(flat))
        return self._encode(u).reshape(*coefficients.shape[:-1], self.latent_dim)

    def encode_displacement(self, displacement):
        """Encode per-vertex displacements from the rest mesh (``vertices - face.vertices``).

        Parameters
        ----------
        displacement : Tensor of shape (..., N, 3)

        Returns
        -------
        latent : Tensor of shape (..., latent_dim)
        """
        displacement = self._checked(displacement, "displacement", (self.n_vertices, 3))
        batch = math.prod(displacement.shape[:-2])
        u = displacement.reshape(batch, self.n_vertices, 3).permute(1, 2, 0)
        return self._encode(u).reshape(*displacement.shape[:-2], self.latent_dim)

    def _encode(self, h):
        """(N, 3, B) -> (B, latent_dim); sizes are explicit so that B = 0 works."""
        for level, conv in enumerate(self.convs):
            h = F.elu(_chebyshev(h, conv.laplacian(), conv.weight, conv.bias))
            n, c, b = h.shape
            h = (_sparse(self, f"pool{level}") @ h.reshape(n, c * b)).view(self.level_sizes[level + 1], c, b)
        n, c, b = h.shape
        return F.linear(h.reshape(n * c, b).t(), self.linear.weight, self.linear.bias)
