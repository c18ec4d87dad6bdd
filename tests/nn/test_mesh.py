import copy
import io
import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse import csgraph

from skbiomech.face._skin import mesh_edges
from skbiomech.nn._mesh import (
    ChebConv,
    MeshConvEncoder,
    chebyshev_conv,
    mesh_pooling,
    scaled_laplacian,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TINY = dict(channels=(2, 3), order=3, pool_factor=4, latent_dim=3)


@pytest.fixture(scope="module")
def graph(small_face):
    return small_face.vertices, mesh_edges(small_face.triangles)


@pytest.fixture(scope="module")
def encoder(small_face):
    torch.manual_seed(0)
    return MeshConvEncoder(small_face, channels=(4, 8), latent_dim=6)


def _n_components(n, edges):
    adjacency = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return csgraph.connected_components(adjacency, directed=False)[0]


def _dense_laplacian(edges, n):
    """Independent reference: 2 L_sym / 2 - I from a dense adjacency."""
    adjacency = np.zeros((n, n))
    adjacency[edges[:, 0], edges[:, 1]] = adjacency[edges[:, 1], edges[:, 0]] = 1.0
    d = 1.0 / np.sqrt(adjacency.sum(axis=1))
    laplacian = np.eye(n) - d[:, None] * adjacency * d[None, :]
    return laplacian - np.eye(n)


def _dense_chebyshev(x, laplacian, weight, bias):
    """sum_k T_k x W_k with the polynomials T_k built as dense matrices."""
    n = laplacian.shape[0]
    polys = [np.eye(n), laplacian]
    while len(polys) < len(weight):
        polys.append(2 * laplacian @ polys[-1] - polys[-2])
    out = sum(np.einsum("nm,bmc,cd->bnd", polys[k], x, weight[k]) for k in range(len(weight)))
    return out if bias is None else out + bias


# -- scaled Laplacian --------------------------------------------------------


def test_scaled_laplacian_matches_dense_reference(graph):
    vertices, edges = graph
    n = len(vertices)
    # Duplicated and reversed edges and self-loops must not change the graph.
    noisy = np.concatenate([edges, edges[:, ::-1], [[3, 3]]])
    lap = scaled_laplacian(noisy, n, dtype=torch.float64)
    assert lap.is_coalesced() and lap.dtype == torch.float64
    dense = lap.to_dense().numpy()
    np.testing.assert_allclose(dense, _dense_laplacian(edges, n), atol=1e-14)
    eigenvalues = np.linalg.eigvalsh(dense)
    assert eigenvalues.min() >= -1 - 1e-12 and eigenvalues.max() <= 1 + 1e-12


def test_scaled_laplacian_default_dtype_and_isolated_vertex():
    lap = scaled_laplacian(np.array([[0, 1]]), 3)
    assert lap.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(lap.to_dense().numpy()[2], 0.0)


@pytest.mark.parametrize(
    "edges, n, error",
    [
        (np.zeros((3, 3), dtype=int), 5, ValueError),
        (np.array([[0, 5]]), 5, ValueError),
        (np.array([[0, -1]]), 5, ValueError),
        (np.array([[0.5, 1.0]]), 5, TypeError),
        (np.array([[0, 1]]), 0, ValueError),
    ],
)
def test_scaled_laplacian_rejects_bad_input(edges, n, error):
    with pytest.raises(error):
        scaled_laplacian(edges, n)


# -- Chebyshev convolution -----------------------------------------------------


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_chebyshev_conv_matches_dense_reference(graph, order, use_bias):
    vertices, edges = graph
    n = len(vertices)
    rng = np.random.default_rng(order)
    x, weight = rng.normal(size=(2, n, 3)), rng.normal(size=(order, 3, 4))
    bias = rng.normal(size=4) if use_bias else None
    lap = scaled_laplacian(edges, n, dtype=torch.float64)
    t = torch.as_tensor
    out = chebyshev_conv(t(x), lap, t(weight), None if bias is None else t(bias))
    expected = _dense_chebyshev(x, _dense_laplacian(edges, n), weight, bias)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)
    if not use_bias:  # CSR gives the same result as COO
        csr = lap.to_sparse_csr()
        np.testing.assert_allclose(chebyshev_conv(t(x), csr, t(weight)).numpy(), expected, atol=1e-12)


def test_order_one_is_a_per_vertex_linear_map(graph):
    vertices, edges = graph
    n = len(vertices)
    x, weight, bias = torch.randn(3, n, 5), torch.randn(1, 5, 2), torch.randn(2)
    expected = x @ weight[0] + bias
    torch.testing.assert_close(chebyshev_conv(x, scaled_laplacian(edges, n), weight, bias), expected)
    # The graph plays no part at order 1.
    torch.testing.assert_close(chebyshev_conv(x, scaled_laplacian(edges[:10], n), weight, bias), expected)


@pytest.mark.parametrize("batch", [0, 1, 2])
def test_chebyshev_conv_batch_sizes(graph, batch):
    vertices, edges = graph
    n = len(vertices)
    out = chebyshev_conv(torch.randn(batch, n, 3), scaled_laplacian(edges, n), torch.randn(3, 3, 7))
    assert out.shape == (batch, n, 7)


def test_chebyshev_conv_gradcheck():
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2], [3, 4]])
    lap = scaled_laplacian(edges, 5, dtype=torch.float64)
    x = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: chebyshev_conv(a[0], lap, a[1], a[2]), (x, weight, bias))


@pytest.mark.parametrize(
    "x_shape, lap_n, weight_shape, bias_shape, error",
    [
        ((4, 3), 4, (2, 3, 5), None, ValueError),  # x not 3-D
        ((2, 4, 3), 5, (2, 3, 5), None, ValueError),  # laplacian of another graph
        ((2, 4, 3), 4, (2, 2, 5), None, ValueError),  # C_in mismatch
        ((2, 4, 3), 4, (0, 3, 5), None, ValueError),  # order 0
        ((2, 4, 3), 4, (2, 3, 5), (4,), ValueError),  # bias mismatch
    ],
)
def test_chebyshev_conv_rejects_bad_shapes(x_shape, lap_n, weight_shape, bias_shape, error):
    lap = scaled_laplacian(np.array([[0, 1]]), lap_n)
    bias = None if bias_shape is None else torch.zeros(bias_shape)
    with pytest.raises(error):
        chebyshev_conv(torch.zeros(x_shape), lap, torch.zeros(weight_shape), bias)


def test_chebyshev_conv_rejects_dense_laplacian_and_mixed_dtypes():
    lap = scaled_laplacian(np.array([[0, 1]]), 2)
    with pytest.raises(TypeError, match="sparse"):
        chebyshev_conv(torch.zeros(1, 2, 1), lap.to_dense(), torch.zeros(2, 1, 1))
    with pytest.raises(TypeError, match="dtype"):
        chebyshev_conv(torch.zeros(1, 2, 1, dtype=torch.float64), lap, torch.zeros(2, 1, 1))


def test_chebconv_module_equals_function(graph):
    vertices, edges = graph
    lap = scaled_laplacian(edges, len(vertices))
    conv = ChebConv(3, 4, 3, lap)
    x = torch.randn(2, len(vertices), 3)
    torch.testing.assert_close(conv(x), chebyshev_conv(x, lap, conv.weight, conv.bias))
    assert ChebConv(3, 4, 3, lap, bias=False).bias is None
    with pytest.raises(ValueError, match="order"):
        ChebConv(3, 4, 0, lap)


# -- pooling -------------------------------------------------------------------


def _check_pooling(vertices, edges, factor):
    n = len(vertices)
    pool = mesh_pooling(vertices, edges, factor, dtype=torch.float64)
    matrix = pool.matrix.to_dense().numpy()
    n_coarse = len(pool.vertices)
    assert matrix.shape == (n_coarse, n)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
    assert np.all((matrix > 0).sum(axis=0) == 1)  # every fine vertex in exactly one cluster
    np.testing.assert_array_equal(np.argmax(matrix, axis=0), pool.assignment)
    np.testing.assert_allclose(pool.vertices, matrix @ vertices, atol=1e-12)
    assert np.all(pool.edges[:, 0] < pool.edges[:, 1]) and len(np.unique(pool.edges, axis=0)) == len(pool.edges)
    # Two clusters are adjacent exactly when a fine edge joins them.
    a, b = np.sort(pool.assignment[edges], axis=1).T
    expected = {(i, j) for i, j in zip(a, b) if i != j}
    assert set(map(tuple, pool.edges.tolist())) == expected
    return pool


@pytest.mark.parametrize("factor", [1, 2, 4, 7.5])
def test_mesh_pooling_invariants(graph, factor):
    vertices, edges = graph
    pool = _check_pooling(vertices, edges, factor)
    assert len(pool.vertices) == math.ceil(len(vertices) / factor)
    assert _n_components(len(pool.vertices), pool.edges) == 1
    # Clusters are connected pieces of the mesh, so lips are never merged.
    for cluster in np.unique(pool.assignment)[:: max(1, len(pool.vertices) // 20)]:
        members = np.flatnonzero(pool.assignment == cluster)
        inside = np.isin(edges, members).all(axis=1)
        local = np.searchsorted(members, edges[inside])
        assert _n_components(len(members), local) == 1
    again = mesh_pooling(vertices, edges, factor)
    np.testing.assert_array_equal(again.assignment, pool.assignment)


def test_mesh_pooling_hierarchy_shrinks_by_factor(graph):
    vertices, edges = graph
    sizes = [len(vertices)]
    for _ in range(4):
        pool = _check_pooling(vertices, edges, 4)
        vertices, edges = pool.vertices, pool.edges
        sizes.append(len(vertices))
        assert _n_components(len(vertices), edges) == 1
    assert sizes == [448, 112, 28, 7, 2]


def test_mesh_pooling_disconnected_mesh(graph):
    vertices, edges = graph
    n = len(vertices)
    two = np.concatenate([vertices, vertices + [0.0, 0.0, 0.01]])  # second copy nearly coincident
    pool = _check_pooling(two, np.concatenate([edges, edges + n]), 4)
    assert len(pool.vertices) == 2 * math.ceil(n / 4)
    assert _n_components(len(pool.vertices), pool.edges) == 2
    assert set(pool.assignment[:n]).isdisjoint(pool.assignment[n:])


@pytest.mark.parametrize(
    "vertices, edges, factor",
    [
        (np.zeros((4, 3)), np.array([[0, 1]]), 0.5),
        (np.zeros((4, 3)), np.array([[0, 1]]), float("nan")),
        (np.zeros((4, 3)), np.array([[0, 4]]), 2),
        (np.full((4, 3), np.nan), np.array([[0, 1]]), 2),
        (np.zeros((4, 2)), np.array([[0, 1]]), 2),
    ],
)
def test_mesh_pooling_rejects_bad_input(vertices, edges, factor):
    with pytest.raises(ValueError):
        mesh_pooling(vertices, edges, factor)


# -- encoder -------------------------------------------------------------------


@pytest.mark.parametrize("batch_shape", [(1,), (5,), (2, 3), (0,)])
def test_encoder_output_shape(encoder, small_face, batch_shape):
    out = encoder(torch.randn(*batch_shape, small_face.n_blendshapes))
    assert out.shape == (*batch_shape, 6) and out.dtype == torch.float32
    u = torch.randn(*batch_shape, small_face.n_vertices, 3)
    assert encoder.encode_displacement(u).shape == (*batch_shape, 6)


def test_encoder_structure(encoder, small_face):
    assert encoder.level_sizes == (448, 112, 28)
    assert encoder.linear.in_features == 28 * 8
    assert "level_sizes=(448, 112, 28)" in repr(encoder)


def test_forward_equals_encoding_the_displacement(encoder, small_face):
    c = np.random.default_rng(0).normal(size=(4, small_face.n_blendshapes))
    u = np.einsum("bk,knd->bnd", c, small_face.blendshapes)
    coefficient_code = encoder(torch.as_tensor(c, dtype=torch.float32))
    displacement_code = encoder.encode_displacement(torch.as_tensor(u, dtype=torch.float32))
    torch.testing.assert_close(coefficient_code, displacement_code, atol=1e-5, rtol=1e-4)


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_encoder_matches_a_dense_reference(small_face, float64_default):
    # Built under a float64 default, the buffers hold the face's data unrounded.
    encoder = MeshConvEncoder(small_face, **TINY)
    assert encoder.basis.dtype == torch.float64
    c = torch.randn(3, small_face.n_blendshapes)
    h = torch.einsum("bk,knd->bnd", c, torch.tensor(small_face.blendshapes))
    edges, vertices = mesh_edges(small_face.triangles), small_face.vertices
    for conv in encoder.convs:
        lap = _dense_laplacian(edges, len(vertices))
        weight, bias = conv.weight.detach().numpy(), conv.bias.detach().numpy()
        h = torch.nn.functional.elu(torch.as_tensor(_dense_chebyshev(h.numpy(), lap, weight, bias)))
        pool = mesh_pooling(vertices, edges, 4, dtype=torch.float64)
        h = torch.einsum("mn,bnc->bmc", pool.matrix.to_dense(), h)
        vertices, edges = pool.vertices, pool.edges
    expected = encoder.linear(h.reshape(3, -1))
    torch.testing.assert_close(encoder(c), expected, atol=1e-12, rtol=1e-10)


def test_zero_coefficients_give_one_code(encoder, small_face):
    out = encoder(torch.zeros(7, small_face.n_blendshapes))
    torch.testing.assert_close(out, out[:1].expand_as(out), atol=0, rtol=0)


def test_gradients_reach_every_parameter(small_face):
    encoder = MeshConvEncoder(small_face, channels=(4, 8), latent_dim=6)
    encoder(torch.randn(5, small_face.n_blendshapes)).square().sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_gradcheck_float64(small_face):
    encoder = MeshConvEncoder(small_face, **TINY).double()
    c = torch.randn(2, small_face.n_blendshapes, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(encoder, (c,))
    u = torch.randn(1, small_face.n_vertices, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(encoder.encode_displacement, (u,), fast_mode=True)


def test_construction_is_deterministic(small_face):
    a, b = (MeshConvEncoder(small_face, **TINY) for _ in range(2))
    for (name, x), (_, y) in zip(a.named_buffers(), b.named_buffers()):
        torch.testing.assert_close(x, y, atol=0, rtol=0, msg=name)


def _torch_save_load(module):
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def _state_dict_round_trip(module, face):
    torch.manual_seed(123)  # other initial weights, replaced by the loaded ones
    fresh = MeshConvEncoder(face, channels=module.channels, latent_dim=module.latent_dim)
    fresh.load_state_dict(module.state_dict())
    return fresh


@pytest.mark.parametrize("round_trip", ["deepcopy", "pickle", "torch.save", "state_dict"])
def test_round_trips_give_identical_outputs(encoder, small_face, round_trip):
    restored = {
        "deepcopy": lambda: copy.deepcopy(encoder),
        "pickle": lambda: pickle.loads(pickle.dumps(encoder)),
        "torch.save": lambda: _torch_save_load(encoder),
        "state_dict": lambda: _state_dict_round_trip(encoder, small_face),
    }[round_trip]()
    c = torch.randn(3, small_face.n_blendshapes)
    torch.testing.assert_close(restored(c), encoder(c), atol=0, rtol=0)
    assert restored.level_sizes == encoder.level_sizes


def test_state_dict_holds_only_dense_tensors(encoder):
    state = encoder.state_dict()
    assert all(t.layout == torch.strided for t in state.values())
    assert {"basis", "pool0_values", "convs.0.laplacian_col"} <= set(state)


def test_float64_module(encoder, small_face):
    double = copy.deepcopy(encoder).double()
    c = torch.randn(2, small_face.n_blendshapes, dtype=torch.float64)
    out = double(c)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), encoder(c.float()), atol=1e-5, rtol=1e-4)


@needs_cuda
def test_cuda_matches_cpu_and_loads_on_cpu(encoder, small_face):
    gpu = copy.deepcopy(encoder).cuda()
    c = torch.randn(16, small_face.n_blendshapes)
    torch.testing.assert_close(gpu(c.cuda()).cpu(), encoder(c), atol=1e-5, rtol=1e-4)
    gpu(c.cuda()).sum().backward()
    buffer = io.BytesIO()
    torch.save(gpu, buffer)
    buffer.seek(0)
    on_cpu = torch.load(buffer, map_location="cpu", weights_only=False)
    torch.testing.assert_close(on_cpu(c), encoder(c), atol=0, rtol=0)


@pytest.mark.parametrize(
    "make_input, match",
    [
        (lambda k: torch.zeros(2, k + 1), "shape"),
        (lambda k: torch.zeros(()), "shape"),
        (lambda k: torch.full((2, k), float("nan")), "NaN"),
    ],
)
def test_encoder_rejects_bad_coefficients(encoder, small_face, make_input, match):
    with pytest.raises(ValueError, match=match):
        encoder(make_input(small_face.n_blendshapes))


def test_encoder_rejects_bad_displacement_and_non_tensors(encoder, small_face):
    with pytest.raises(ValueError, match="shape"):
        encoder.encode_displacement(torch.zeros(2, small_face.n_vertices + 1, 3))
    with pytest.raises(TypeError, match="Tensor"):
        encoder(np.zeros((2, small_face.n_blendshapes)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(channels=()), "channels"),
        (dict(channels=(8, 0)), "channels"),
        (dict(channels=8), "channels"),
        (dict(order=0), "order"),
        (dict(order=2.5), "order"),
        (dict(pool_factor=0.5), "pool_factor"),
        (dict(latent_dim=0), "latent_dim"),
    ],
)
def test_encoder_rejects_bad_arguments(small_face, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MeshConvEncoder(small_face, **kwargs)


def test_encoder_rejects_a_non_face():
    with pytest.raises(TypeError, match="FaceModel"):
        MeshConvEncoder(np.zeros((4, 3)))
