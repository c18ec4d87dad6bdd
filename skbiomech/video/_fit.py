"""Fit a face model's blendshape coefficients, head pose and identity to 3D landmarks.

Pure NumPy functions, batched over frames. The face model enters through a
:class:`LandmarkBasis`: its neutral shape, expression shapes and identity
modes sampled at the points the landmarks correspond to, computed once per
face model (see :mod:`skbiomech.video._correspondence`). Per frame the fit
alternates a weighted similarity alignment (closed form) with a bounded least
squares for the expression coefficients in ``[0, 1]``; the bounded problem
has the same matrix for every frame, so one factorization serves them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import check_shape

__all__ = [
    "LandmarkBasis",
    "FitResult",
    "similarity_align",
    "solve_box_qp",
    "fit_expressions",
    "fit_identity",
    "landmarks_to_points",
    "rotation_to_euler",
    "euler_to_rotation",
]


@dataclass(frozen=True)
class LandmarkBasis:
    """A face model sampled at the landmark points, ready for fitting.

    Parameters
    ----------
    template : ndarray of shape (L, 3)
        Neutral face at the L landmark points (cm).
    expressions : ndarray of shape (K, L, 3)
        Expression shapes (offsets) at the landmarks, for the K fitted shapes.
    identities : ndarray of shape (I, L, 3)
        Identity modes (offsets) at the landmarks; I may be 0.
    weights : ndarray of shape (L,)
        Confidence of each landmark's correspondence (0 leaves it out).
    expression_names : list of str
        Names of the K fitted shapes.
    """

    template: np.ndarray
    expressions: np.ndarray
    identities: np.ndarray
    weights: np.ndarray
    expression_names: list = field(default_factory=list)

    def __post_init__(self):
        n = self.template.shape[0]
        check_shape(self.template, ((n, "L"), 3), "template")
        check_shape(self.expressions, (None, (n, "L"), 3), "expressions")
        check_shape(self.identities, (None, (n, "L"), 3), "identities")
        check_shape(self.weights, ((n, "L"),), "weights")
        if len(self.expression_names) != len(self.expressions):
            raise ValueError(
                f"{len(self.expression_names)} expression names for {len(self.expressions)} expression shapes."
            )
        if not np.any(self.weights > 0) or np.any(self.weights < 0):
            raise ValueError("Landmark weights must be >= 0 with at least one positive.")

    @property
    def n_landmarks(self):
        return self.template.shape[0]

    def neutral(self, identity=None):
        """The neutral face (L, 3) of ``identity`` (I,) (``None``: the template)."""
        if identity is None or len(self.identities) == 0:
            return self.template
        return self.template + np.tensordot(identity, self.identities, axes=1)


@dataclass
class FitResult:
    """Per-frame result of :func:`fit_expressions` (T frames)."""

    coefficients: np.ndarray  # (T, K) in [0, 1]
    rotation: np.ndarray  # (T, 3, 3), model -> observation frame
    scale: np.ndarray  # (T,)
    translation: np.ndarray  # (T, 3)
    residual: np.ndarray  # (T,) weighted RMS landmark error in model units (cm)


def landmarks_to_points(landmarks, width, height):
    """MediaPipe's normalized landmarks to right-handed 3D points in pixels.

    MediaPipe reports x and y as fractions of the image width and height
    (y down) and z in units of the image width, smaller toward the camera.
    The points returned have x to the right, y up and z toward the camera,
    the axes of ICT-FaceKit and of MediaPipe's canonical mesh.

    Parameters
    ----------
    landmarks : ndarray of shape (..., L, 3)
    width, height : int or ndarray broadcastable to ``landmarks[..., 0]``
        Image size in pixels (per frame: shape (T, 1)).

    Returns
    -------
    points : ndarray of shape (..., L, 3), float64

    Examples
    --------
    >>> import numpy as np
    >>> landmarks_to_points(np.array([[0.5, 0.25, -0.1]]), width=640, height=480)
    array([[ 320., -120.,   64.]])
    """
    points = np.array(landmarks, dtype=np.float64)
    if points.shape[-1] != 3:
        raise ValueError(f"landmarks must end in a dimension of 3 (x, y, z); got shape {points.shape}.")
    points[..., 0] *= width
    points[..., 1] *= -np.asarray(height, dtype=np.float64)
    points[..., 2] *= -np.asarray(width, dtype=np.float64)
    return points


def similarity_align(source, target, weights):
    """Weighted least-squares similarity ``target ~ s R source + t``, batched (Umeyama).

    Parameters
    ----------
    source, target : ndarray of shape (T, L, 3)
    weights : ndarray of shape (L,)

    Returns
    -------
    scale : ndarray of shape (T,)
    rotation : ndarray of shape (T, 3, 3)
        Proper rotations (determinant +1).
    translation : ndarray of shape (T, 3)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1, 10, 3))
    >>> s, R, t = similarity_align(x, 2.0 * x + 1.0, np.ones(10))
    >>> np.round(s, 6), np.allclose(R, np.eye(3)), np.round(t, 6)
    (array([2.]), True, array([[1., 1., 1.]]))
    """
    w = weights / weights.sum()
    mean_source = w @ source  # matmul rather than einsum: several times faster here
    mean_target = w @ target
    centred_source = source - mean_source[:, None]
    centred_target = target - mean_target[:, None]
    covariance = np.swapaxes(centred_target * w[:, None], 1, 2) @ centred_source
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    u[:, :, 2] *= sign[:, None]  # reflections become rotations
    rotation = u @ vt
    variance = (centred_source**2).sum(axis=2) @ w
    singular[:, 2] *= sign
    scale = singular.sum(axis=1) / np.maximum(variance, 1e-300)
    translation = mean_target - scale[:, None] * (rotation @ mean_source[:, :, None])[:, :, 0]
    return scale, rotation, translation


def solve_box_qp(hessian, linear, *, lower=0.0, upper=1.0, initial=None, n_iter=60, solver=None):
    """Minimize ``1/2 c^T H c - b^T c`` subject to ``lower <= c <= upper``, for many ``b``.

    ADMM with one factorization of ``H + rho I`` shared by every problem of
    the batch (the fit solves one such problem per frame with the same H).

    Parameters
    ----------
    hessian : ndarray of shape (K, K)
        Symmetric positive definite.
    linear : ndarray of shape (T, K)
    lower, upper : float
    initial : ndarray of shape (T, K), default=None
        Warm start.
    n_iter : int, default=60
    solver : tuple, default=None
        ``(rho, inverse)`` from a previous call with the same ``hessian``
        (see :func:`box_qp_solver`).

    Returns
    -------
    solution : ndarray of shape (T, K)

    Examples
    --------
    >>> import numpy as np
    >>> H = np.eye(2)
    >>> solve_box_qp(H, np.array([[0.5, 3.0], [-1.0, 0.2]]), n_iter=200).round(4)
    array([[0.5, 1. ],
           [0. , 0.2]])
    """
    rho, inverse = box_qp_solver(hessian) if solver is None else solver
    z = np.clip(np.zeros_like(linear) if initial is None else initial, lower, upper)
    u = np.zeros_like(linear)
    for _ in range(n_iter):
        x = (linear + rho * (z - u)) @ inverse  # inverse is symmetric
        z = np.clip(x + u, lower, upper)
        u += x - z
    return z


def box_qp_solver(hessian):
    """``(rho, (H + rho I)^-1)`` for :func:`solve_box_qp`; ``rho`` balances the spectrum."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    if not eigenvalues[0] > 0:
        raise ValueError("The fit's normal matrix is not positive definite; raise the regularization.")
    rho = float(np.sqrt(eigenvalues[0] * eigenvalues[-1]))
    return rho, np.linalg.inv(hessian + rho * np.eye(len(hessian)))


def _to_model_frame(points, scale, rotation, translation):
    """Observations (T, L, 3) brought back into the model's frame: ``R^T (p - t) / s``."""
    return (points - translation[:, None]) @ rotation / scale[:, None, None]


def _normal_matrix(basis, regularization):
    flat = basis.expressions.reshape(len(basis.expressions), -1)  # (K, 3L)
    w3 = np.repeat(basis.weights, 3)
    hessian = (flat * w3) @ flat.T
    # Relative to the shapes' own scale, so one default serves cm or mm models.
    return hessian + regularization * np.trace(hessian) / len(hessian) * np.eye(len(hessian))


def fit_expressions(basis, points, *, identity=None, initial=None, regularization=1e-2, n_iter=5, qp_iter=40):
    """Head pose and expression coefficients in [0, 1] for each frame.

    Minimizes ``sum_l w_l |s R (n_l + E_l c) + t - p_l|^2`` over a similarity
    ``(s, R, t)`` and coefficients ``c`` for each frame, with ``n`` the
    neutral face of ``identity``. The residual is measured in the model's
    frame (divided by ``s``), so the cost does not depend on image size.

    Parameters
    ----------
    basis : LandmarkBasis
    points : ndarray of shape (T, L, 3)
        Observed 3D landmark points (e.g. :func:`landmarks_to_points`).
    identity : ndarray of shape (I,), default=None
        Identity weights of the subject (``None``: the template face).
    initial : ndarray of shape (T, K), default=None
        Coefficients to start from (``None``: zeros, the neutral face).
    regularization : float, default=1e-2
        Ridge on ``c``, relative to the mean diagonal of the normal matrix:
        shapes that barely move the landmarks (``eyeWide``) are held near 0
        unless the data insist.
    n_iter : int, default=5
        Alternations of alignment and coefficient fit.
    qp_iter : int, default=40
        ADMM iterations per alternation (warm-started).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> basis = LandmarkBasis(rng.normal(size=(30, 3)), rng.normal(size=(2, 30, 3)) * 0.3,
    ...                       np.zeros((0, 30, 3)), np.ones(30), ["a", "b"])
    >>> truth = np.array([[0.3, 0.7]])
    >>> points = 5.0 * (basis.template + np.tensordot(truth, basis.expressions, axes=1)) + 2.0
    >>> fit_expressions(basis, points, regularization=1e-8, n_iter=20, qp_iter=100).coefficients.round(3)
    array([[0.3, 0.7]])
    """
    points = np.asarray(points, dtype=np.float64)
    check_shape(points, (None, (basis.n_landmarks, "L"), 3), "points")
    n_frames, n_shapes = len(points), len(basis.expressions)
    neutral = basis.neutral(identity)
    flat = basis.expressions.reshape(n_shapes, 3 * basis.n_landmarks)
    w3 = np.repeat(basis.weights, 3)
    coefficients = np.zeros((n_frames, n_shapes)) if initial is None else np.array(initial, dtype=np.float64)
    check_shape(coefficients, ((n_frames, "T"), (n_shapes, "K")), "initial")
    if n_shapes:
        hessian = _normal_matrix(basis, regularization)
        solver = box_qp_solver(hessian)
    for _ in range(n_iter if n_shapes else 0):
        model = neutral + (coefficients @ flat).reshape(n_frames, -1, 3)
        scale, rotation, translation = similarity_align(model, points, basis.weights)
        # The observations brought back into the model's frame.
        local = _to_model_frame(points, scale, rotation, translation)
        linear = ((local - neutral).reshape(n_frames, -1) * w3) @ flat.T
        coefficients = solve_box_qp(hessian, linear, initial=coefficients, n_iter=qp_iter, solver=solver)
    model = neutral + (coefficients @ flat).reshape(n_frames, -1, 3)
    scale, rotation, translation = similarity_align(model, points, basis.weights)
    local = _to_model_frame(points, scale, rotation, translation)
    residual = np.sqrt(((local - model) ** 2).sum(axis=2) @ basis.weights / basis.weights.sum())
    return FitResult(coefficients, rotation, scale, translation, residual)


def fit_identity(basis, points, *, prior=1.0, n_rounds=20, max_frames=300, **fit_params):
    """One identity for a subject, fitted robustly over many frames of them.

    Alternates :func:`fit_expressions` at the current identity with a
    ridge-regularized least squares for the identity weights on the
    frames' residuals, each frame weighted down when its residual is large
    (Huber weights), so that a few mistracked frames do not bend the face.
    Because the expression coefficients are bounded below by 0, the neutral
    shape that the identity explains is the person's resting face.

    Parameters
    ----------
    basis : LandmarkBasis
        With at least one identity mode.
    points : ndarray of shape (T, L, 3)
        Observed landmark points of one subject (failed frames removed).
    prior : float, default=1.0
        Ridge on the identity weights, in the units of the per-landmark
        squared residual (cm^2) summed over the landmark weights: ICT's
        identity modes are scaled PCA modes, so weights of order 1 are
        typical faces.
    n_rounds : int, default=20
        Alternations; each refines the previous round's coefficients with
        two alignment steps, so rounds are cheap.
    max_frames : int, default=300
        Frames used (evenly spaced); the identity needs no more.
    **fit_params
        Passed to :func:`fit_expressions`.

    Returns
    -------
    identity : ndarray of shape (I,)
    """
    points = np.asarray(points, dtype=np.float64)
    check_shape(points, (None, (basis.n_landmarks, "L"), 3), "points")
    if len(basis.identities) == 0:
        return np.zeros(0)
    if len(points) == 0:
        raise ValueError("fit_identity needs at least one frame with landmarks.")
    if len(points) > max_frames:
        points = points[np.linspace(0, len(points) - 1, max_frames).round().astype(int)]
    modes = basis.identities.reshape(len(basis.identities), -1)  # (I, 3L)
    w3 = np.repeat(basis.weights, 3)
    normal = (modes * w3) @ modes.T
    identity = np.zeros(len(basis.identities))
    fit_params = {"n_iter": 2, **fit_params}
    coefficients = None
    for _ in range(n_rounds):
        fit = fit_expressions(basis, points, identity=identity, initial=coefficients, **fit_params)
        coefficients = fit.coefficients
        local = _to_model_frame(points, fit.scale, fit.rotation, fit.translation)
        expressed = basis.template + np.tensordot(fit.coefficients, basis.expressions, axes=1)
        residual = (local - expressed).reshape(len(points), -1)  # what identity must explain
        error = np.sqrt(((residual - identity @ modes) ** 2 * w3).sum(1) / basis.weights.sum())
        cutoff = 1.5 * np.median(error) + 1e-12
        frame_weight = np.minimum(1.0, cutoff / np.maximum(error, 1e-12))
        total = frame_weight.sum()
        rhs = modes @ (w3 * (frame_weight @ residual))
        identity = np.linalg.solve(total * normal + prior * np.eye(len(normal)), rhs)
    return identity


def euler_to_rotation(angles):
    """Rotation matrices ``Rx(a) @ Ry(b) @ Rz(c)`` from angles (..., 3) in radians."""
    angles = np.asarray(angles, dtype=np.float64)
    a, b, c = np.moveaxis(angles, -1, 0)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    one, zero = np.ones_like(a), np.zeros_like(a)
    rx = np.stack([one, zero, zero, zero, ca, -sa, zero, sa, ca], -1).reshape(*a.shape, 3, 3)
    ry = np.stack([cb, zero, sb, zero, one, zero, -sb, zero, cb], -1).reshape(*a.shape, 3, 3)
    rz = np.stack([cc, -sc, zero, sc, cc, zero, zero, zero, one], -1).reshape(*a.shape, 3, 3)
    return rx @ ry @ rz


def rotation_to_euler(rotation):
    """Angles (..., 3) in radians with ``rotation = Rx(a) @ Ry(b) @ Rz(c)`` (OpenFace's order).

    Examples
    --------
    >>> import numpy as np
    >>> angles = np.array([0.1, -0.4, 0.25])
    >>> np.allclose(rotation_to_euler(euler_to_rotation(angles)), angles)
    True
    """
    r = np.asarray(rotation, dtype=np.float64)
    b = np.arcsin(np.clip(r[..., 0, 2], -1.0, 1.0))
    a = np.arctan2(-r[..., 1, 2], r[..., 2, 2])
    c = np.arctan2(-r[..., 0, 1], r[..., 0, 0])
    return np.stack([a, b, c], axis=-1)
