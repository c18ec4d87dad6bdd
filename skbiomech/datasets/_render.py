"""Render face meshes into aligned frontal face crops.

A small vectorized software rasterizer (torch on the CPU): orthographic view
along ``-z``, a z-buffer, per-pixel interpolated normals with Lambertian
shading, and a per-vertex albedo from the face's region names. The crop
window depends on the face model only, so every frame of every subject is
aligned the same way and expressions are the only thing that moves pixels
(besides an optional rigid pose).

Why a rasterizer of its own: the triangles of the face models are about a
pixel wide, so rasterizing each triangle over its own small pixel window and
resolving visibility with one ``scatter_reduce`` per batch is fast without a
GPU or a graphics dependency.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import as_float_array, check_finite

__all__ = ["render_faces"]

#: Albedo of known regions relative to the skin tone (RGB multipliers).
_REGION_ALBEDO = {
    "lips": (1.0, 0.55, 0.58),
    "brows": (0.32, 0.25, 0.22),
    "eyes": (0.78, 0.76, 0.80),
}
_MARGIN = 0.05  # of the face's larger extent, on each side of the crop
_EDGE_TOLERANCE = 1e-4  # px²: closes cracks between triangles sharing an edge
_DEPTH_LEVELS = 2**22  # depth quantization of the z-buffer keys


def render_faces(
    face,
    vertices=None,
    *,
    coefficients=None,
    size=112,
    skin_tone=(0.80, 0.62, 0.50),
    light_direction=(0.3, 0.4, 1.0),
    ambient=0.35,
    diffuse=0.65,
    background=(0.5, 0.5, 0.5),
    pose=None,
    batch_size=16,
):
    """Render meshes of ``face`` as aligned, shaded frontal face crops.

    Parameters
    ----------
    face : FaceModel
        Gives the topology, the crop window (the rest mesh's x/y bounding
        box, squared, with a 5 % margin) and the regions for the albedo.
    vertices : array-like of shape (T, N, 3) or (N, 3), default=None
        Deformed meshes in the face's units and frame. Give this or
        ``coefficients``.
    coefficients : array-like of shape (T, K) or (K,), default=None
        Blendshape coefficients, turned into meshes with ``face.mesh``.
    size : int, default=112
        Side of the square output images in pixels, at least 32.
    skin_tone : tuple of 3 floats in [0, 1], default=(0.80, 0.62, 0.50)
        RGB albedo of the skin; region colours (lips, brows, eyes) are
        multiples of it, other regions get it unchanged.
    light_direction : tuple of 3 floats, default=(0.3, 0.4, 1.0)
        Direction toward a distant light, in the camera frame (``z`` toward
        the viewer); normalized here.
    ambient, diffuse : float, default=0.35, 0.65
        Non-negative ambient and Lambertian light intensities.
    background : tuple of 3 floats in [0, 1], default=(0.5, 0.5, 0.5)
        RGB colour of pixels that no triangle covers.
    pose : array-like of shape (T, 6) or (6,), default=None
        Rigid head motion per frame, ``(rx, ry, rz, tx, ty, tz)``: right-handed
        rotations in radians about axes through the rest mesh's bounding-box
        centre, applied x first, then y, then z, followed by a translation in
        the mesh's units. ``None`` renders the meshes as given.
    batch_size : int, default=16
        Frames rasterized together; bounds the memory used.

    Returns
    -------
    images : ndarray of uint8 of shape (T, size, size, 3)
        One image for a single mesh too: ``(1, size, size, 3)``.

    Notes
    -----
    Each pixel shows the front-most surface (largest ``z``) whose triangle
    covers the pixel's centre; there is no anti-aliasing. Rows run from the
    top of the face down, columns from the subject's right to their left
    (``+x``), as in a photograph of the subject. Regions named ``"lips"``,
    ``"brows"`` (kept to the span above each eye when there is an
    ``"eyes"`` region) and ``"eyes"`` get their own colours, softened over
    one ring of neighbours; any other region gets the plain skin tone.

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.datasets._render import render_faces
    >>> face = default_face_model(resolution=21)
    >>> smile = np.zeros((2, face.n_blendshapes))
    >>> smile[1, face.blendshape_names.index("zygomaticus_major_L")] = 1.0
    >>> images = render_faces(face, coefficients=smile, size=64)
    >>> images.shape, images.dtype
    ((2, 64, 64, 3), dtype('uint8'))
    >>> bool(np.any(images[0] != images[1]))
    True
    """
    vertices = _check_meshes(face, vertices, coefficients)
    n_frames = len(vertices)
    size = _integer(size, "size", 32, "an int of at least 32 pixels")
    batch_size = _integer(batch_size, "batch_size", 1, "a positive int")
    skin_tone = _colour(skin_tone, "skin_tone")
    background = _colour(background, "background")
    light = _vector3(light_direction, "light_direction")
    if not np.linalg.norm(light) > 0:
        raise ValueError("light_direction must be a non-zero vector.")
    light = light / np.linalg.norm(light)
    for value, name in ((ambient, "ambient"), (diffuse, "diffuse")):
        if not (np.ndim(value) == 0 and np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite non-negative number; got {value!r}.")
    if pose is not None:
        pose = check_finite(as_float_array(pose, "pose"), "pose")
        pose = pose.reshape(1, -1) if pose.shape == (6,) else pose
        if pose.shape != (n_frames, 6):
            raise ValueError(
                f"pose must have shape (T={n_frames}, 6) as (rx, ry, rz, tx, ty, tz); "
                f"got {pose.shape}."
            )

    rest = np.asarray(face.vertices, dtype=np.float64)
    low, high = rest.min(axis=0), rest.max(axis=0)
    centre = 0.5 * (low + high)
    side = float(max(high[0] - low[0], high[1] - low[1])) * (1.0 + 2.0 * _MARGIN)
    # Pixel coordinates: column = (x - left) * scale, row = (top - y) * scale.
    scale = size / side
    origin = (centre[0] - 0.5 * side, centre[1] + 0.5 * side)
    # Flip every normal when the model's triangles wind clockwise seen from +z.
    orientation = 1.0 if np.sum(face.normals[:, 2]) >= 0 else -1.0

    triangles = torch.tensor(np.asarray(face.triangles), dtype=torch.long)
    albedo = torch.as_tensor(_albedo(face) * skin_tone, dtype=torch.float32)
    shade = dict(light=light, ambient=float(ambient), diffuse=float(diffuse))
    images = np.empty((n_frames, size, size, 3), dtype=np.uint8)
    with torch.inference_mode():
        for start in range(0, n_frames, batch_size):
            batch = vertices[start : start + batch_size]
            if pose is not None:
                batch = _apply_pose(batch, pose[start : start + batch_size], centre)
            v = torch.tensor(batch, dtype=torch.float32)
            xy = torch.stack(
                [(v[..., 0] - origin[0]) * scale, (origin[1] - v[..., 1]) * scale], dim=-1
            )
            winner, bary, first = _rasterize(xy, v[..., 2], triangles, size)
            normals = _vertex_normals(v, triangles) * orientation
            attributes = torch.cat([normals, albedo.expand(len(v), -1, -1)], -1)
            rgb = _shade(winner, bary, first, attributes, triangles, background, **shade)
            images[start : start + batch_size] = rgb.numpy()
    return images


def _check_meshes(face, vertices, coefficients):
    """The meshes to render as a float64 array of shape (T, N, 3)."""
    if (vertices is None) == (coefficients is None):
        raise ValueError("Give exactly one of vertices and coefficients.")
    n = face.n_vertices
    if coefficients is not None:
        coefficients = check_finite(as_float_array(coefficients, "coefficients"), "coefficients")
        if coefficients.ndim not in (1, 2) or coefficients.shape[-1] != face.n_blendshapes:
            raise ValueError(
                f"coefficients must have shape (T, K={face.n_blendshapes}) or (K,); "
                f"got {coefficients.shape}."
            )
        return face.mesh(coefficients.reshape(-1, face.n_blendshapes))
    vertices = check_finite(as_float_array(vertices, "vertices"), "vertices")
    if vertices.ndim == 2:
        vertices = vertices[None]
    if vertices.ndim != 3 or vertices.shape[1:] != (n, 3):
        raise ValueError(
            f"vertices must have shape (T, N={n}, 3) or (N, 3); got {vertices.shape}."
        )
    return vertices


def _integer(value, name, minimum, expected):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be {expected}; got {value!r}.")
    return int(value)


def _vector3(value, name):
    array = check_finite(as_float_array(value, name), name)
    if array.shape != (3,):
        raise ValueError(f"{name} must have 3 components; got shape {array.shape}.")
    return array


def _colour(value, name):
    array = _vector3(value, name)
    if np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"{name} must be RGB values in [0, 1]; got {tuple(array)}.")
    return array


def _albedo(face):
    """Per-vertex RGB multipliers of the skin tone from the region names, (N, 3)."""
    names = list(face.region_names)
    regions = np.asarray(face.vertex_regions)
    rest = np.asarray(face.vertices)
    albedo = np.ones((face.n_vertices, 3))
    for name, colour in _REGION_ALBEDO.items():
        if name not in names:
            continue
        weight = (regions == names.index(name)).astype(float)
        if name == "brows" and "eyes" in names:
            # A "brows" region may be a band across the whole forehead; keep
            # the hair to the span above each eye, thinning toward its ends.
            eyes = rest[regions == names.index("eyes"), 0]
            midline = 0.5 * (rest[:, 0].min() + rest[:, 0].max())
            span = np.zeros(face.n_vertices)
            for side in (eyes[eyes < midline], eyes[eyes >= midline]):
                if side.size:
                    lo, hi = side.min(), side.max()
                    t = np.clip((rest[:, 0] - lo) / max(hi - lo, 1e-12), 0, 1)
                    span = np.maximum(span, np.minimum(1.0, 3.0 * np.sin(np.pi * t)))
            weight *= span
        albedo -= weight[:, None] * (1.0 - np.asarray(colour))
    # One step of neighbour averaging softens region borders into a
    # gradient one triangle wide instead of a jagged staircase.
    triangles = np.asarray(face.triangles)
    total = albedo.copy()
    counts = np.ones(face.n_vertices)
    for a, b in ((0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)):
        np.add.at(total, triangles[:, a], albedo[triangles[:, b]])
        np.add.at(counts, triangles[:, a], 1.0)
    return total / counts[:, None]


def _apply_pose(vertices, pose, centre):
    """Rotate (x, then y, then z) about ``centre`` and translate, per frame."""
    cx, cy, cz = (np.cos(pose[:, j]) for j in range(3))
    sx, sy, sz = (np.sin(pose[:, j]) for j in range(3))
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).reshape(-1, 3, 3)
    rotation = rz @ ry @ rx
    moved = np.einsum("tij,tnj->tni", rotation, vertices - centre)
    return moved + centre + pose[:, None, 3:]


def _vertex_normals(v, triangles):
    """Area-weighted vertex normals of a batch of meshes, (B, N, 3), unit length."""
    a, b, c = (v[:, triangles[:, j]] for j in range(3))
    face_normals = torch.linalg.cross(b - a, c - a)
    normals = torch.zeros_like(v)
    for j in range(3):
        normals.index_add_(1, triangles[:, j], face_normals)
    return torch.nn.functional.normalize(normals, dim=-1)


def _rasterize(xy, z, triangles, size):
    """Index of the front-most triangle covering each pixel centre.

    Parameters
    ----------
    xy : Tensor of shape (B, N, 2)
        Vertex positions in pixels (column, row); pixel ``(r, c)`` has its
        centre at ``(c + 0.5, r + 0.5)``.
    z : Tensor of shape (B, N)
        Depth, larger is nearer the viewer.
    triangles : Tensor of long of shape (F, 3)
    size : int

    Returns
    -------
    winner : Tensor of long of shape (B, size, size)
        Triangle index, -1 where no triangle covers the pixel.
    bary : Tensor of shape (B, F, 3, 3)
        Barycentric coordinates of each triangle's corners as affine
        functions of the pixel: ``bary[..., 0, :]`` at the pixel ``first``,
        ``bary[..., 1, :]`` and ``bary[..., 2, :]`` their steps per column
        and per row.
    first : Tensor of shape (B, F, 2)
        (column, row) of the first pixel of each triangle's bounding box.
    """
    n_batch, n_triangles = xy.shape[0], triangles.shape[0]
    corners = xy[:, triangles]  # (B, F, 3, 2)
    depth = z[:, triangles]  # (B, F, 3)
    first = torch.ceil(corners.amin(2) - 0.5).clamp_(0, size)  # first pixel centre
    last = torch.floor(corners.amax(2) - 0.5).clamp_(-1, size - 1)
    count = (last - first + 1).clamp_(min=0).long()  # (B, F, 2) pixels per axis
    # Edge k is opposite corner k; its edge function is that corner's
    # unnormalized barycentric coordinate, evaluated relative to the first
    # pixel centre so that float32 keeps its precision.
    start, end = corners[:, :, [1, 2, 0]], corners[:, :, [2, 0, 1]]
    d = end - start
    area = (d[..., 0, 0] * d[..., 1, 1] - d[..., 0, 1] * d[..., 1, 0]).unsqueeze(-1)
    sign = torch.sign(area)
    count[area[..., 0] == 0] = 0
    ex, ey = -d[..., 1] * sign, d[..., 0] * sign  # (B, F, 3)
    base = first.unsqueeze(2) + 0.5 - start
    e0 = (d[..., 0] * base[..., 1] - d[..., 1] * base[..., 0]) * sign
    # Normalized, they are the barycentric coordinates as affine functions
    # of the pixel offset (i, j) from the first pixel centre; so is depth.
    bary = torch.stack([e0, ex, ey], 2) / area.abs().clamp(min=1e-12).unsqueeze(-1)
    zs = (bary * depth.unsqueeze(2)).sum(-1)  # (B, F, 3): z0, zx, zy
    z_low, z_high = float(z.min()), float(z.max())
    z_scale = (_DEPTH_LEVELS - 1) / max(z_high - z_low, 1e-12)
    bits = max(1, int(n_triangles).bit_length())
    pixel0 = (
        torch.arange(n_batch).view(-1, 1) * size * size
        + first[..., 1].long() * size
        + first[..., 0].long()
    )
    # One gather per chunk of triangles: edge and depth planes, window
    # extent and first pixel.
    planes = torch.cat([e0, ex, ey, zs], -1)  # (B, F, 12)
    extent = torch.cat([count, pixel0.unsqueeze(-1)], -1)  # (B, F, 3)
    # Keys pack quantized depth above the triangle index, so one amax
    # reduction both resolves visibility and records the winner.
    keys = torch.full(((n_batch + 2) * size * size,), -1, dtype=torch.long)
    # Triangles go in groups sharing a window shape so each group is one
    # dense (B, F_g, rows, cols) evaluation with little wasted work.
    shape = count.amax(0)  # (F, 2): window (cols, rows) over the batch
    covered = (shape > 0).all(1)
    groups = shape[covered, 0] * (size + 1) + shape[covered, 1]
    index = torch.nonzero(covered)[:, 0]
    for group in torch.unique(groups):
        members = index[groups == group]
        cols, rows = divmod(int(group), size + 1)
        step = max(1, 2**21 // (n_batch * rows * cols))
        i = torch.arange(cols, dtype=torch.float32)
        j = torch.arange(rows, dtype=torch.float32).view(-1, 1)
        offset = (torch.arange(rows).view(-1, 1) * size + torch.arange(cols)).view(-1)
        for chunk in members.split(step):
            p = planes.index_select(1, chunk)[..., None, None]  # (B, C, 12, 1, 1)
            x = extent.index_select(1, chunk)
            inside = (i.long() < x[..., 0, None, None]) & (j.long() < x[..., 1, None, None])
            for k in range(3):
                e = p[:, :, k] + p[:, :, 3 + k] * i + p[:, :, 6 + k] * j
                inside &= e >= -_EDGE_TOLERANCE
            zq = (p[:, :, 9] - z_low) + p[:, :, 10] * i + p[:, :, 11] * j
            zq = zq.mul_(z_scale).clamp_(0, _DEPTH_LEVELS - 1).long()
            key = zq.bitwise_left_shift_(bits).bitwise_or_(chunk.view(1, -1, 1, 1))
            key = torch.where(inside, key, -1)
            target = (x[..., 2, None] + offset).view(-1)
            keys.scatter_reduce_(0, target, key.view(-1), "amax")
    keys = keys[: n_batch * size * size].view(n_batch, size, size)
    return torch.where(keys >= 0, keys & ((1 << bits) - 1), -1), bary, first


def _shade(winner, bary, first, attributes, triangles, background, *, light, ambient, diffuse):
    """Lambertian colour of each pixel from its winning triangle, uint8 (B, S, S, 3).

    ``winner``, ``bary`` and ``first`` come from :func:`_rasterize`;
    ``attributes`` are the per-vertex unit normals and albedo, (B, N, 6).
    """
    n_batch, size = winner.shape[:2]
    n_triangles = bary.shape[1]
    # Each attribute is affine over a triangle: tabulate its value at the
    # first pixel centre and its steps per column and per row, so that each
    # pixel needs one gather and two multiply-adds.
    corners = attributes[:, triangles]  # (B, F, 3, 6)
    table = torch.cat([(bary @ corners).flatten(2), first], -1).view(-1, 20)
    winner = winner.view(-1)
    where = torch.nonzero(winner >= 0)[:, 0]  # covered pixels, flat over the batch
    frame, pixel = where // (size * size), where % (size * size)
    row = table.index_select(0, winner.index_select(0, where) + frame * n_triangles)
    i = (pixel % size).float().sub_(row[:, 18]).unsqueeze(1)
    j = (pixel // size).float().sub_(row[:, 19]).unsqueeze(1)
    value = row[:, :6] + row[:, 6:12] * i + row[:, 12:18] * j
    normal = torch.nn.functional.normalize(value[:, :3], dim=-1)
    lambert = (normal @ torch.as_tensor(light, dtype=torch.float32)).clamp_(min=0)
    colour = value[:, 3:] * (ambient + diffuse * lambert).unsqueeze(1)
    image = torch.empty((n_batch * size * size, 3), dtype=torch.float32)
    image[:] = torch.as_tensor(background, dtype=torch.float32)
    image.index_copy_(0, where, colour)
    return image.clamp_(0, 1).mul_(255).round_().to(torch.uint8).view(n_batch, size, size, 3)
