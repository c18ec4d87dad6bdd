"""Tests of the face renderer: shapes, colours, geometry, visibility, errors."""

import copy

import numpy as np
import pytest
import torch

from skbiomech.datasets._render import _rasterize, render_faces
from skbiomech.face import default_face_model

BACKGROUND = (0.2, 0.4, 0.6)
BROW_RAISERS = (
    "frontalis_medialis_L", "frontalis_medialis_R", "frontalis_lateralis_L", "frontalis_lateralis_R"
)  # fmt: skip


@pytest.fixture(scope="module")
def face():
    return default_face_model(resolution=21)


def _expression(face, **coefficients):
    c = np.zeros(face.n_blendshapes)
    for name, value in coefficients.items():
        c[face.blendshape_names.index(name)] = value
    return c


def _face_mask(images):
    """Pixels that differ from the background colour."""
    background = np.round(np.asarray(BACKGROUND) * 255).astype(np.uint8)
    return np.any(images != background, axis=-1)


def _barycentric(a, b, c, px, py):
    """Weights of vertices a and b at pixel centres (px, py), or None for a degenerate triangle."""
    (ax, ay), (bx, by), (cx, cy) = a, b, c
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    if area == 0:
        return None
    w0 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) / area
    w1 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) / area
    return w0, w1


def _brute_force_depth(xy, z, triangles, size):
    """Largest depth of any triangle covering each pixel centre, -inf if none."""
    centres = np.arange(size) + 0.5
    px, py = np.meshgrid(centres, centres)  # (rows, cols)
    best = np.full((size, size), -np.inf)
    for a, b, c in triangles:
        weights = _barycentric(xy[a], xy[b], xy[c], px, py)
        if weights is None:
            continue
        w0, w1 = weights
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        depth = w0 * z[a] + w1 * z[b] + w2 * z[c]
        best = np.where(inside & (depth > best), depth, best)
    return best


def _overlapping_pixels(xy, triangles, size):
    """Pixel centres covered by triangles that share no vertex."""
    centres = np.arange(size) + 0.5
    px, py = np.meshgrid(centres, centres)
    owner = np.full((size, size), -1)
    overlaps = np.zeros((size, size), dtype=bool)
    for index, (a, b, c) in enumerate(triangles):
        weights = _barycentric(xy[a], xy[b], xy[c], px, py)
        if weights is None:
            continue
        w0, w1 = weights
        inside = (w0 > 0) & (w1 > 0) & (w0 + w1 < 1)
        seen = inside & (owner >= 0)
        for r, k in zip(*np.nonzero(seen)):
            if not set(triangles[owner[r, k]]) & {a, b, c}:
                overlaps[r, k] = True
        owner[inside] = index
    return int(overlaps.sum())


@pytest.mark.parametrize("n_frames", [0, 1, 3])
@pytest.mark.parametrize("size", [32, 112])
def test_shape_and_dtype(face, n_frames, size):
    coefficients = np.random.default_rng(0).uniform(0, 1, (n_frames, face.n_blendshapes))
    images = render_faces(face, coefficients=coefficients, size=size)
    assert images.shape == (n_frames, size, size, 3)
    assert images.dtype == np.uint8


def test_single_mesh_and_coefficients_agree(face):
    c = _expression(face, zygomaticus_major_L=1.0)
    from_vertices = render_faces(face, face.mesh(c), size=48)
    assert from_vertices.shape == (1, 48, 48, 3)
    np.testing.assert_array_equal(from_vertices, render_faces(face, coefficients=c, size=48))


def test_background_outside_face_and_not_inside(face):
    image = render_faces(face, face.vertices, size=64, background=BACKGROUND)[0]
    mask = _face_mask(image)
    assert not mask[[0, 0, -1, -1], [0, -1, 0, -1]].any()  # corners
    assert mask[32, 32] and mask[16, 32] and mask[48, 32]
    # The face (about 14 x 20 cm in a 21 cm square) fills a good part of the crop.
    assert 0.3 < mask.mean() < 0.7


def test_deterministic_and_batch_independent(face):
    rng = np.random.default_rng(1)
    coefficients = rng.uniform(0, 1, (5, face.n_blendshapes))
    pose = np.concatenate([rng.normal(0, 0.1, (5, 3)), rng.normal(0, 0.5, (5, 3))], axis=1)
    kwargs = dict(coefficients=coefficients, size=48, pose=pose)
    first = render_faces(face, **kwargs)
    np.testing.assert_array_equal(first, render_faces(face, **kwargs))
    # Depth is quantized per batch, which may only flip ties on shared edges.
    one_by_one = render_faces(face, **kwargs, batch_size=1)
    assert np.abs(first.astype(int) - one_by_one).max() <= 1


@pytest.mark.parametrize(
    "muscles, half",
    [
        (("frontalis_medialis_L",), "upper"),
        (BROW_RAISERS, "upper"),
        (("jaw_depressor",), "lower"),
        (("zygomaticus_major_L", "zygomaticus_major_R"), "lower"),
    ],
)
def test_expression_changes_the_expected_region(face, muscles, half):
    size = 64
    coefficients = np.stack([_expression(face), _expression(face, **dict.fromkeys(muscles, 1.0))])
    rest, moved = render_faces(face, coefficients=coefficients, size=size).astype(int)
    changed = np.any(np.abs(moved - rest) > 8, axis=-1)
    assert changed.sum() >= 5
    rows = np.nonzero(changed)[0]
    if half == "upper":
        assert np.all(rows < size // 2)
    else:
        assert np.all(rows >= size // 2)


def test_brow_raise_moves_the_dark_band_up(face):
    size = 112
    raise_ = _expression(face, **dict.fromkeys(BROW_RAISERS, 1.0))
    rest, raised = render_faces(face, coefficients=np.stack([_expression(face), raise_]), size=size)
    # Darkest row of the upper face, in the columns over the subject's left eye.
    columns = slice(int(0.62 * size), int(0.72 * size))
    rows = slice(int(0.15 * size), int(0.45 * size))

    def darkest(image):
        return np.argmin(image[rows, columns].astype(float).mean(axis=(1, 2)))

    assert darkest(raised) < darkest(rest)


@pytest.mark.parametrize("change", [{"ambient": 0.6}, {"diffuse": 0.9}])
def test_brighter_light_gives_brighter_face(face, change):
    base = render_faces(face, face.vertices, size=48, background=BACKGROUND)[0]
    bright = render_faces(face, face.vertices, size=48, background=BACKGROUND, **change)[0]
    mask = _face_mask(base)
    assert bright[mask].astype(float).mean() > base[mask].astype(float).mean() + 5


def test_light_direction_shades_the_lit_side(face):
    kwargs = dict(size=64, ambient=0.1, diffuse=0.9)
    left, right = (
        render_faces(face, face.vertices, light_direction=(x, 0, 0.5), **kwargs)[0].astype(float)
        for x in (-1, 1)
    )
    # Light toward -x lights the image's left half (the subject's right).
    assert left[:, :32].mean() > left[:, 32:].mean()
    assert right[:, 32:].mean() > right[:, :32].mean()


def test_skin_tone_changes_mean_colour(face):
    kwargs = dict(size=48, background=BACKGROUND)
    reddish = render_faces(face, face.vertices, skin_tone=(0.9, 0.5, 0.4), **kwargs)[0]
    bluish = render_faces(face, face.vertices, skin_tone=(0.4, 0.5, 0.9), **kwargs)[0]
    mask = _face_mask(reddish)
    red, blue = reddish[mask].astype(float).mean(0), bluish[mask].astype(float).mean(0)
    assert red[0] > blue[0] + 30 and blue[2] > red[2] + 30


def test_single_region_model_gets_uniform_skin_tone(face):
    plain = copy.copy(face)
    plain.vertex_regions = np.zeros(face.n_vertices, dtype=np.int64)
    plain.region_names = ("face",)
    tone = (0.8, 0.6, 0.4)
    flat = dict(size=48, skin_tone=tone, ambient=1.0, diffuse=0.0, background=BACKGROUND)
    image = render_faces(plain, plain.vertices, **flat)[0]
    inside = image[_face_mask(image)].astype(float)
    expected = np.broadcast_to(np.multiply(tone, 255), inside.shape)
    np.testing.assert_allclose(inside, expected, atol=0.6)
    # The default face's regions do colour it: lips and brows differ from skin.
    coloured = render_faces(face, face.vertices, **flat)[0]
    assert len(np.unique(coloured.reshape(-1, 3), axis=0)) > 10


@pytest.mark.parametrize("axis, sign", [(3, 1.0), (3, -1.0), (4, 1.0)])
def test_pose_translation_shifts_the_image(face, axis, sign):
    size, shift = 64, 0.8  # within the crop margin: nothing leaves the image
    pose = np.zeros((2, 6))
    pose[1, axis] = sign * shift
    meshes = np.stack([face.vertices] * 2)
    images = render_faces(face, meshes, size=size, pose=pose, background=BACKGROUND)
    (r0, c0), (r1, c1) = [np.mean(np.nonzero(_face_mask(image)), axis=1) for image in images]
    extent = face.vertices[:, :2].max(0) - face.vertices[:, :2].min(0)
    pixels = shift * size / (1.1 * extent.max())
    if axis == 3:  # +x is the subject's left, on the image's right
        assert c1 - c0 == pytest.approx(sign * pixels, abs=0.5)
        assert r1 == pytest.approx(r0, abs=0.5)
    else:  # +y is up, toward row 0
        assert r0 - r1 == pytest.approx(pixels, abs=0.5)


def test_pose_rotation_turns_the_head(face):
    pose = np.array([[0.0, 0.4, 0.0, 0.0, 0.0, 0.0]])
    straight = render_faces(face, face.vertices, size=64)
    turned = render_faces(face, face.vertices, size=64, pose=pose)
    assert np.any(straight != turned)


@pytest.mark.parametrize("yaw", [0.0, 0.6, -1.2])
def test_zbuffer_matches_brute_force(face, yaw):
    size = 40
    rotation = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    v = face.vertices @ rotation.T
    xy = np.stack([(v[:, 0] + 11.0) * size / 22.0, (9.0 - v[:, 1]) * size / 22.0], axis=1)
    expected = _brute_force_depth(xy, v[:, 2], np.asarray(face.triangles), size)
    xy_, z_ = (torch.as_tensor(a[None], dtype=torch.float32) for a in (xy, v[:, 2]))
    triangles = torch.tensor(np.asarray(face.triangles))
    winner, bary, first = _rasterize(xy_, z_, triangles, size)
    winner = winner[0].numpy()
    np.testing.assert_array_equal(winner >= 0, np.isfinite(expected))
    if abs(yaw) > 1:  # the far side of the face folds behind the near side
        assert _overlapping_pixels(xy, np.asarray(face.triangles), size) > 0
    # Depth of the winning triangle at each covered pixel centre.
    rows, cols = np.nonzero(winner >= 0)
    corners = np.asarray(face.triangles)[winner[rows, cols]]
    b = bary[0].numpy()[winner[rows, cols]]  # (P, 3 planes, 3 corners)
    f = first[0].numpy()[winner[rows, cols]]
    weights = b[:, 0] + b[:, 1] * (cols - f[:, 0])[:, None] + b[:, 2] * (rows - f[:, 1])[:, None]
    depth = np.sum(weights * v[corners, 2], axis=1)
    np.testing.assert_allclose(depth, expected[rows, cols], atol=1e-3)


def test_nose_in_front_hides_the_cheek_behind(face):
    # Move the nose 2.5 cm sideways and 4 cm forward so that it lies right in
    # front of the left cheek: a real occlusion in a frontal view.
    size = 64
    rest = np.asarray(face.vertices)
    nose = face.vertex_regions == face.region_names.index("nose")
    tip = int(np.argmax(np.where(nose, rest[:, 2], -np.inf)))
    front = rest.copy()
    front[nose] += (2.5, 0.0, 4.0)
    behind = front.copy()
    behind[nose, 2] -= 12.0  # the same nose, now behind the cheek
    cheek = ~nose & (np.abs(rest[:, 0] - 2.5) < 1.5) & (np.abs(rest[:, 1]) < 1.5)
    tilted = front.copy()
    tilted[cheek, 2] -= 0.6 * (rest[cheek, 0] - 1.0)  # changes the cheek's shading
    images = render_faces(face, np.stack([front, tilted, behind]), size=size)
    side = 1.1 * np.max(rest[:, :2].max(0) - rest[:, :2].min(0))
    centre = 0.5 * (rest.min(0) + rest.max(0))
    col = int((front[tip, 0] - centre[0] + side / 2) * size / side)
    row = int((centre[1] + side / 2 - front[tip, 1]) * size / side)
    # The pixel shows the nose whatever the hidden cheek does ...
    np.testing.assert_array_equal(images[0, row, col], images[1, row, col])
    assert np.any(images[0] != images[1])  # ... though the tilt shows elsewhere
    # ... and shows the cheek once the nose is behind it.
    assert np.any(images[2, row, col] != images[0, row, col])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda f: {"vertices": np.zeros((5, 3))}, "vertices must have shape"),
        (lambda f: {"vertices": np.zeros((f.n_vertices, 2))}, "vertices must have shape"),
        (lambda f: {"vertices": np.zeros((1, 1, f.n_vertices, 3))}, "vertices must have shape"),
        (lambda f: {"vertices": None, "coefficients": np.zeros((2, 3))}, "coefficients"),
        (lambda f: {"vertices": None}, "exactly one"),
        (lambda f: {"coefficients": np.zeros(f.n_blendshapes)}, "exactly one"),
        (lambda f: {"size": 31}, "size"),
        (lambda f: {"size": 64.0}, "size"),
        (lambda f: {"pose": np.zeros((1, 5))}, "pose must have shape"),
        (lambda f: {"pose": np.zeros((2, 6))}, "pose must have shape"),
        (lambda f: {"pose": np.full((1, 6), np.nan)}, "pose contains"),
        (lambda f: {"skin_tone": (1.2, 0.5, 0.5)}, "skin_tone"),
        (lambda f: {"background": (0.5, 0.5)}, "background"),
        (lambda f: {"light_direction": (0, 0, 0)}, "light_direction"),
        (lambda f: {"ambient": -0.1}, "ambient"),
        (lambda f: {"batch_size": 0}, "batch_size"),
    ],
)
def test_errors(face, make, match):
    arguments = {"vertices": face.vertices} | make(face)
    with pytest.raises(ValueError, match=match):
        render_faces(face, **arguments)


def test_nan_vertices_raise(face):
    vertices = np.array(face.vertices)
    vertices[3, 1] = np.nan
    with pytest.raises(ValueError, match="vertices contains 1 NaN"):
        render_faces(face, vertices)
