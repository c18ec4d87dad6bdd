"""Where MediaPipe's landmarks sit on a face model's mesh, built once per face model.

MediaPipe's 478 landmarks are the vertices of its canonical face mesh (468)
plus 10 iris points. The correspondence with a face model is anchored by
the 68 Multi-PIE landmarks, whose indices are known on both meshes, and
completed by closest points on the model's surface after aligning the
canonical mesh to it (similarity, then identity shape). Each landmark gets
a triangle, barycentric coordinates and a weight: anchors weigh 1, points
that land far from the surface weigh 0, and the face's outer contour, which
MediaPipe places least reliably, is down-weighted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._fit import LandmarkBasis, fit_identity, similarity_align

__all__ = [
    "LandmarkCorrespondence",
    "closest_points_on_mesh",
    "build_correspondence",
    "landmark_basis",
    "GAZE_SHAPES",
    "gaze_mask",
]

# Gaze rotates the eyeballs, which a face-region mesh does not hold: the
# eyeLook shapes barely move its vertices (reduced mass condition 2e5), so
# landmarks cannot tell them apart from noise. They are left to MediaPipe.
GAZE_SHAPES = ("eyeLook",)


def gaze_mask(names):
    """Which blendshapes are gaze (``eyeLook*``): eyeball turns, by muscles the face model lacks."""
    return np.array([str(name).startswith(GAZE_SHAPES) for name in names], dtype=bool)
_CONTOUR_WEIGHT = 0.2
_MAX_DISTANCE = 0.6  # cm: farther from the model's surface, a point is not on it
_ANCHOR_CONTOUR = 17  # iBUG points 0-16 are the jaw contour


@dataclass(frozen=True)
class LandmarkCorrespondence:
    """Landmark ``l`` sits at ``sum_k barycentric[l, k] * vertices[triangles[l, k]]``."""

    triangles: np.ndarray  # (L, 3) vertex indices
    barycentric: np.ndarray  # (L, 3)
    weights: np.ndarray  # (L,)
    distance: np.ndarray  # (L,) cm, canonical point to the model's surface after alignment
    canonical: np.ndarray  # (L, 3) the canonical landmarks in the model's frame (cm)

    def sample(self, values):
        """``values`` (..., N, 3) at the landmarks: (..., L, 3)."""
        values = np.asarray(values)
        return np.einsum("...lkc,lk->...lc", values[..., self.triangles, :], self.barycentric)


def _closest_on_segment(points, a, b):
    ab = b - a
    t = np.clip(np.einsum("...c,...c->...", points - a, ab) / np.maximum(np.einsum("...c,...c->...", ab, ab), 1e-30), 0, 1)
    return a + t[..., None] * ab, t


def closest_points_on_mesh(points, vertices, triangles, *, candidates=32):
    """Closest point on a triangle mesh to each query point.

    Exact among the ``candidates`` triangles whose centroids are nearest to
    each point (a KD-tree query), which holds the true closest triangle on
    any mesh whose triangles are small next to their distance to the query.

    Parameters
    ----------
    points : ndarray of shape (P, 3)
    vertices : ndarray of shape (N, 3)
    triangles : ndarray of shape (F, 3)
    candidates : int, default=32
        Triangles examined per point (all of them when the mesh has fewer).

    Returns
    -------
    triangle : ndarray of shape (P,)
        Index of the closest triangle.
    barycentric : ndarray of shape (P, 3)
        Coordinates of the closest point in that triangle (>= 0, sum 1).
    distance : ndarray of shape (P,)

    Examples
    --------
    >>> import numpy as np
    >>> vertices = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> tri, bary, dist = closest_points_on_mesh(np.array([[0.25, 0.25, 2.0], [2.0, 0, 0]]),
    ...                                          vertices, np.array([[0, 1, 2]]))
    >>> bary.round(3), dist.round(3)
    (array([[0.5 , 0.25, 0.25],
           [0.  , 1.  , 0.  ]]), array([2., 1.]))
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    triangles = np.asarray(triangles)
    corners = np.asarray(vertices, dtype=np.float64)[triangles]  # (F, 3, 3)
    k = min(int(candidates), len(triangles))
    _, near = cKDTree(corners.mean(axis=1)).query(points, k=k)
    near = np.asarray(near).reshape(len(points), k)  # (P, k)
    a, b, c = corners[near, 0], corners[near, 1], corners[near, 2]  # (P, k, 3)
    q = points[:, None, :]
    normal = np.cross(b - a, c - a)
    area2 = np.maximum(np.einsum("pkc,pkc->pk", normal, normal), 1e-30)
    # Barycentric coordinates of the projection onto each triangle's plane.
    l1 = np.einsum("pkc,pkc->pk", np.cross(c - b, q - b), normal) / area2
    l2 = np.einsum("pkc,pkc->pk", np.cross(a - c, q - c), normal) / area2
    l3 = 1.0 - l1 - l2
    inside = (l1 >= 0) & (l2 >= 0) & (l3 >= 0)
    options = [l1[..., None] * a + l2[..., None] * b + l3[..., None] * c]
    coords = [np.stack([l1, l2, l3], -1)]
    for (i, j), (u, v) in (((0, 1), (a, b)), ((1, 2), (b, c)), ((2, 0), (c, a))):
        point, t = _closest_on_segment(q, u, v)
        edge = np.zeros((*t.shape, 3))
        edge[..., i], edge[..., j] = 1.0 - t, t
        options.append(point)
        coords.append(edge)
    options, coords = np.stack(options), np.stack(coords)  # (5, P, k, ...)
    dist = np.linalg.norm(options - q[None], axis=-1)
    dist[0][~inside] = np.inf
    which = dist.argmin(axis=0)  # (P, k): best of plane and edges, per triangle
    per_triangle = np.take_along_axis(dist, which[None], 0)[0]
    best = per_triangle.argmin(axis=1)
    rows = np.arange(len(points))
    barycentric = coords[which[rows, best], rows, best]
    return near[rows, best], np.clip(barycentric, 0.0, 1.0), per_triangle[rows, best]


def _outer_boundary(triangles, n_vertices):
    """Vertices on the longest boundary loop of a triangle mesh (its outer rim)."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = unique[counts == 1]
    # Connected components of the boundary edges: the largest is the rim.
    parent = np.arange(n_vertices)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in boundary:
        parent[find(i)] = find(j)
    on_boundary = np.unique(boundary)
    roots = np.array([find(i) for i in on_boundary])
    values, sizes = np.unique(roots, return_counts=True)
    return on_boundary[roots == values[sizes.argmax()]]


def build_correspondence(face, identities, canonical_vertices, canonical_triangles, mediapipe_68, face_68, *, n_rounds=3):
    """Place MediaPipe's canonical landmarks on ``face``'s mesh.

    Parameters
    ----------
    face : FaceModel
        Its vertices in the canonical mesh's axes (x to the subject's left,
        y up, z toward the viewer) and units (cm), like ICT-FaceKit.
    identities : ndarray of shape (I, N, 3)
        Identity modes of ``face`` (offsets; I may be 0), used to bend the
        model toward the canonical face's shape before taking closest points.
    canonical_vertices : ndarray of shape (468, 3)
    canonical_triangles : ndarray of shape (F, 3)
    mediapipe_68, face_68 : sequence of 68 ints
        The Multi-PIE landmarks on the canonical mesh and on ``face``.
    n_rounds : int, default=3
        Alternations of shape fit and closest points.

    Returns
    -------
    LandmarkCorrespondence
        For the 468 canonical landmarks (the iris points have none).
    """
    canonical = np.asarray(canonical_vertices, dtype=np.float64)
    mediapipe_68, face_68 = np.asarray(mediapipe_68), np.asarray(face_68)
    if len(mediapipe_68) != 68 or len(face_68) != 68:
        raise ValueError("mediapipe_68 and face_68 must each list 68 landmark indices.")
    if face_68.max() >= face.n_vertices:
        raise ValueError(
            f"The Multi-PIE landmark vertices go up to {face_68.max()} but {face.name!r} has "
            f"{face.n_vertices} vertices: the landmark fit needs an ICT-FaceKit face model."
        )
    anchor_weight = np.where(np.arange(68) < _ANCHOR_CONTOUR, _CONTOUR_WEIGHT, 1.0)
    identities = np.asarray(identities, dtype=np.float64).reshape(-1, face.n_vertices, 3)
    vertices = face.vertices
    # Anchors only: the canonical mesh brought into the model's frame.
    s, r, t = similarity_align(canonical[None, mediapipe_68], vertices[None, face_68], anchor_weight)
    aligned = s[0] * canonical @ r[0].T + t[0]
    rim = _outer_boundary(np.asarray(canonical_triangles), len(canonical))
    weights = np.ones(len(canonical))
    weights[rim] = _CONTOUR_WEIGHT
    shape = vertices
    for _ in range(n_rounds):
        tri, bary, dist = closest_points_on_mesh(aligned, shape, face.triangles)
        corr = LandmarkCorrespondence(face.triangles[tri], bary, weights * (dist < _MAX_DISTANCE), dist, aligned)
        corr = _pin_anchors(corr, face, mediapipe_68, face_68)
        if len(identities) == 0:
            break
        basis = LandmarkBasis(
            corr.sample(vertices), np.zeros((0, len(canonical), 3)), corr.sample(identities), corr.weights, []
        )
        identity = fit_identity(basis, aligned[None], prior=1.0, n_rounds=1)
        shape = vertices + np.tensordot(identity, identities, axes=1)
        s, r, t = similarity_align(aligned[None], corr.sample(shape)[None], corr.weights)
        aligned = s[0] * aligned @ r[0].T + t[0]
    tri, bary, dist = closest_points_on_mesh(aligned, shape, face.triangles)
    corr = LandmarkCorrespondence(face.triangles[tri], bary, weights * (dist < _MAX_DISTANCE), dist, aligned)
    return _pin_anchors(corr, face, mediapipe_68, face_68)


def _pin_anchors(corr, face, mediapipe_68, face_68):
    """The 68 anchors sit exactly on their known vertices (the contour keeps its closest point)."""
    triangles, barycentric, weights = corr.triangles.copy(), corr.barycentric.copy(), corr.weights.copy()
    for k in range(_ANCHOR_CONTOUR, 68):
        vertex, landmark = face_68[k], mediapipe_68[k]
        triangles[landmark] = vertex
        barycentric[landmark] = (1.0, 0.0, 0.0)
        weights[landmark] = 1.0
    return LandmarkCorrespondence(triangles, barycentric, weights, corr.distance, corr.canonical)


def landmark_basis(face, identities, correspondence, *, exclude=GAZE_SHAPES, neutral="canonical"):
    """The :class:`LandmarkBasis` of ``face`` at the landmarks, without the shapes in ``exclude``.

    Parameters
    ----------
    face : FaceModel
    identities : ndarray of shape (I, N, 3)
    correspondence : LandmarkCorrespondence
    exclude : tuple of str, default=GAZE_SHAPES
        Prefixes of blendshape names left out of the fit.
    neutral : {"canonical", "model"}, default="canonical"
        The neutral face at the landmarks. ``"canonical"``: MediaPipe's own
        canonical face, brought into the model's frame. MediaPipe places the
        landmarks of an average neutral face there, so the small systematic
        differences between its mesh and the model's (the eye opening, the
        lips' thickness) are not read as expressions. ``"model"``: the face
        model's neutral mesh.

    Returns
    -------
    LandmarkBasis
    """
    names = list(face.blendshape_names)
    kept = [j for j, name in enumerate(names) if not name.startswith(tuple(exclude))]
    if not kept:
        raise ValueError(f"Every blendshape of {face.name!r} is excluded from the fit ({exclude}).")
    if neutral not in ("canonical", "model"):
        raise ValueError(f"neutral must be 'canonical' or 'model'; got {neutral!r}.")
    identities = np.asarray(identities, dtype=np.float64).reshape(-1, face.n_vertices, 3)
    template = correspondence.canonical if neutral == "canonical" else correspondence.sample(face.vertices)
    return LandmarkBasis(
        np.array(template, dtype=np.float64),
        correspondence.sample(face.blendshapes[kept]),
        correspondence.sample(identities),
        correspondence.weights,
        [names[j] for j in kept],
    )
