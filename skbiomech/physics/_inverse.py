"""The physics inverse: muscle activations from coefficient trajectories, no training.

Every frame of a coefficient trajectory ``c`` asks for the generalized force
that holds it, ``Q_t = M c''_t + D_B c'_t + K_B c_t`` (elastic) or
``Q_t = K_B c_t`` (quasi-static), and for the activations ``a_t >= 0`` whose
force ``G a_t`` comes closest to it. The residual is measured after
``K_B^-1``, in coefficient units: ``S a_t - y_t`` with ``S = K_B^-1 G`` (each
column a muscle's static response to unit activation) and
``y_t = K_B^-1 Q_t``. That is the maximum-likelihood metric for tracking
noise, which lives in coefficient units, and it makes the penalties
unit-free: the same ``smoothness`` and ``ridge`` suit any face model,
whatever its force units. The problem over all frames of a sequence,

    sum_t |S a_t - y_t|^2 + ridge |a_t|^2 + sparsity sum(a_t)
        + (smoothness / dt)^2 sum_t |a_t - a_{t-1}|^2,   a >= 0,

is one convex QP. Its Hessian ``(S^T S + ridge I) (x) I + lam I (x) L``
(``L`` the path Laplacian) is diagonalized once by the eigenvectors of
``S^T S`` along muscles and the DCT-II along time, so ADMM iterates with
two small matmuls and two DCTs, adapting its penalty parameter at no cost
(only a diagonal changes). ADMM's zero pattern then seeds primal-dual
active-set steps, each one banded Cholesky solve, that end at the exact
optimum. The coupling between frames decays geometrically, so long runs are
solved in overlapping windows with a margin past which an edge's influence
is below 1e-12: memory stays flat in the video's length.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import fft
from scipy.linalg import solveh_banded

from .._checks import as_float_array
from ._reduction import ReducedModel

__all__ = ["INVERSE_DYNAMICS", "invert_activations"]

INVERSE_DYNAMICS = ("quasistatic", "elastic")
# Runs longer than _WINDOW frames (plus margins) are solved in overlapping
# windows, and at most _CHUNK_FRAMES frames at once: memory stays flat
# (about 250 MB at M = 37) however long the video.
_WINDOW = 4096
_CHUNK_FRAMES = 8192
_INFLUENCE = 1e-12  # what a window's edge may change in its kept core, relatively


class _Factor:
    """``(S^T S + ridge I) (x) I + lam L (x) I + rho I`` and its inverse for one length T."""

    def __init__(self, eigenvalues, eigenvectors, n_frames, lam):
        self.vectors = eigenvectors
        # Path-Laplacian eigenvalues 2 - 2 cos(pi k / T), the DCT-II's frequencies.
        laplacian = 2.0 - 2.0 * np.cos(np.pi * np.arange(n_frames) / n_frames)
        self.base = eigenvalues[None, :] + lam * laplacian[:, None]  # (T, M)

    def to_spectral(self, x):
        return fft.dct(x @ self.vectors, type=2, norm="ortho", axis=-2)

    def from_spectral(self, x):
        return fft.idct(x, type=2, norm="ortho", axis=-2) @ self.vectors.T

    def solve(self, rhs, rho):
        """``(P + rho I)^-1 rhs`` for rhs (B, T, M) and one rho (B,) per sequence."""
        return self.from_spectral(self.to_spectral(rhs) / (self.base + rho[:, None, None]))


def _admm(factor, linear, tol, max_iter, relaxation=1.6):
    """Minimize ``1/2 a^T P a - linear^T a`` subject to ``a >= 0``, per sequence.

    Scaled ADMM on ``a = z, z >= 0`` with over-relaxation and residual
    balancing: ``rho`` doubles or halves per sequence when the primal and
    dual residuals drift apart by more than 10x. Returns ``z`` (exactly
    feasible), the iteration count and the per-sequence convergence flags.
    """
    batch = linear.shape[0]
    # Start from the unconstrained optimum, clipped, with rho at the geometric
    # mean of P's extreme eigenvalues (a standard ADMM heuristic).
    lo, hi = max(factor.base.min(), 1e-6 * factor.base.max()), factor.base.max()
    rho = np.full(batch, np.sqrt(lo * hi))
    spectral = factor.to_spectral(linear)
    z = np.maximum(factor.from_spectral(spectral / np.maximum(factor.base, 1e-12 * hi)), 0.0)
    u = np.zeros_like(z)
    converged = np.zeros(batch, dtype=bool)
    scale = np.sqrt(np.maximum(np.sum(linear**2, axis=(1, 2)), 1e-300))
    for iteration in range(1, max_iter + 1):
        a = factor.solve(linear + rho[:, None, None] * (z - u), rho)
        relaxed = relaxation * a + (1.0 - relaxation) * z
        z_new = np.maximum(relaxed + u, 0.0)
        u += relaxed - z_new
        primal = np.sqrt(np.sum((a - z_new) ** 2, axis=(1, 2)))
        dual = rho * np.sqrt(np.sum((z_new - z) ** 2, axis=(1, 2)))
        z = z_new
        size = np.maximum(np.sqrt(np.sum(z**2, axis=(1, 2))), 1e-300)
        # Dual residual relative to the size of the gradient term P z ~ linear.
        converged = (primal <= tol * size) & (dual <= tol * scale)
        if converged.all():
            break
        if iteration % 5 == 0:
            # Residual balancing; free here, since rho only shifts a diagonal.
            ratio = (primal / size) / np.maximum(dual / scale, 1e-300)
            change = np.where(ratio > 10, 2.0, np.where(ratio < 0.1, 0.5, 1.0))
            rho = rho * change
            u /= change[:, None, None]
    return z, iteration, converged


def _gradient(a, gram, lam, linear):
    """``P a - linear`` for a (B, L, M): the data Hessian plus the path Laplacian."""
    laplacian = np.zeros_like(a)
    step = np.diff(a, axis=1)  # a_{t+1} - a_t
    laplacian[:, :-1] -= step
    laplacian[:, 1:] += step
    return a @ gram + lam * laplacian - linear


def _solve_free(free, gram, lam, linear):
    """Minimize the QP with the variables outside ``free`` (B, L, M) held at 0.

    Ordered frame by frame, muscle by muscle, the Hessian is banded with
    bandwidth M (a frame couples to itself through ``gram`` and to the next
    frame through ``-lam``); the held variables get identity rows. LAPACK's
    banded Cholesky solves it in O(L M^3), with no sparse assembly.
    """
    n_batch, n_frames, m = free.shape
    mask = free.astype(float)
    # band[m - d, ..., j] holds P[(t, j - d), (t, j)]; band[0, ..., t, j] holds P[(t - 1, j), (t, j)].
    band = np.zeros((m + 1, n_batch, n_frames, m))
    for d in range(m):  # a loop over the M diagonals, never frames
        band[m - d, :, :, d:] = gram[np.arange(m - d), np.arange(d, m)] * mask[..., : m - d] * mask[..., d:]
    degree = np.full(n_frames, 2.0)
    degree[[0, -1]] = 1.0 if n_frames > 1 else 0.0
    band[m] += lam * degree[:, None] * mask + (1.0 - mask)
    band[0, :, 1:] = -lam * mask[:, :-1] * mask[:, 1:]
    rhs = np.where(free, linear, 0.0).reshape(-1)
    return solveh_banded(band.reshape(m + 1, -1), rhs, check_finite=False).reshape(free.shape)


def _polish(z, gram, lam, linear, rounds=8):
    """Exact solution from ADMM's estimate by primal-dual active-set steps.

    Guess the zero pattern from ``z``, solve the equality-constrained QP on
    the rest exactly, and move the variables whose value or gradient has
    the wrong sign; stop when the KKT conditions hold to rounding. Returns
    the polished solution and, per sequence, whether it satisfies them
    (sequences that do not keep ``z``).
    """
    free = z > 0
    scale = np.abs(linear).max(axis=(1, 2)) + 1e-300
    for _ in range(rounds):
        a = _solve_free(free, gram, lam, linear)
        gradient = _gradient(a, gram, lam, linear)
        # KKT: a >= 0 where free, gradient >= 0 where held at zero (multiplier).
        size = np.abs(a).max(axis=(1, 2))[:, None, None] + 1e-300
        wrong = (free & (a < -1e-9 * size)) | (~free & (gradient < -1e-9 * scale[:, None, None]))
        ok = ~wrong.any(axis=(1, 2))
        if ok.all():
            break
        free = (free & (a >= 0)) | (~free & (gradient < 0))
    return np.where(ok[:, None, None], np.maximum(a, 0.0), z), ok


def _equilibrium_targets(c, reduced, dt, dynamics):
    """``y = K_B^-1 Q`` for segments c (B, L, K): the coefficients that would hold Q statically."""
    if dynamics == "quasistatic" or c.shape[1] < 2:
        return c
    velocity = np.gradient(c, dt, axis=1, edge_order=2 if c.shape[1] >= 3 else 1)
    acceleration = np.zeros_like(c)
    if c.shape[1] >= 3:
        acceleration[:, 1:-1] = (c[:, 2:] - 2.0 * c[:, 1:-1] + c[:, :-2]) / dt**2
        # The three-point stencil has no end point: hold the neighbour's value.
        acceleration[:, 0], acceleration[:, -1] = acceleration[:, 1], acceleration[:, -2]
    inertial = acceleration @ reduced.mass.T + velocity @ reduced.damping.T
    return c + np.linalg.solve(reduced.stiffness, inertial.reshape(-1, c.shape[2]).T).T.reshape(c.shape)


def _segments(finite):
    """Runs of finite frames: (row, start, length) arrays for a mask (B, T)."""
    padded = np.pad(finite, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends - starts


def _margin(smallest, lam, longest):
    """Frames after which a change at a window's edge has decayed below _INFLUENCE.

    Along each eigenvector of ``S^T S`` (eigenvalue ``mu``) the Hessian is
    ``mu I + lam L``, whose inverse decays along time by ``exp(-theta)``
    per frame with ``cosh(theta) = 1 + mu / (2 lam)``; the smallest ``mu``
    decays slowest. Capped at ``longest``, beyond which nothing is split.
    """
    if lam == 0:
        return 0  # frames are independent
    theta = 2.0 * np.arcsinh(np.sqrt(smallest / (4.0 * lam)))  # accurate for tiny mu / lam
    return int(min(np.ceil(-np.log(_INFLUENCE) / theta), longest))


def _pieces(starts, lengths, margin):
    """Split each run longer than a window and its margins into overlapping pieces.

    All pieces of long runs have the same length (one batched solve); each
    keeps its core, which lies at least ``margin`` frames from any piece
    edge that is not the run's own edge. Returns per piece: its run, first
    frame, length, and the kept offsets ``[keep_from, keep_to)``.
    """
    # A piece length with small prime factors keeps the DCTs fast.
    span = fft.next_fast_len(max(_WINDOW, 2 * margin) + 2 * margin, real=True)
    window = span - 2 * margin
    long = lengths > span
    count = np.where(long, -(-lengths // window), 1)
    run = np.repeat(np.arange(len(starts)), count)
    number = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    first, end, long = starts[run], starts[run] + lengths[run], long[run]
    core_from = np.where(long, first + number * window, first)
    core_to = np.where(long, np.minimum(core_from + window, end), end)
    start = np.where(long, np.minimum(np.maximum(core_from - margin, first), end - span), first)
    length = np.where(long, span, end - first)
    return run, start, length, core_from - start, core_to - start


def invert_activations(
    coefficients,
    reduced,
    dt,
    *,
    dynamics="elastic",
    smoothness=0.03,
    ridge=1e-2,
    sparsity=0.0,
    shape_weights=None,
    tol=1e-4,
    max_iter=5000,
    return_info=False,
):
    """Muscle activations (non-negative, smooth in time) from coefficient trajectories.

    Solves, for every sequence, the convex problem

    ``min_{a >= 0} sum_t |S a_t - y_t|_W^2 + ridge |a_t|^2 + sparsity sum(a_t)
    + (smoothness / dt)^2 sum_t |a_t - a_{t-1}|^2``

    with ``S = K_B^-1 G`` the muscles' static responses and ``y_t = K_B^-1
    Q_t`` the coefficients that would hold the frame's generalized force
    ``Q_t`` statically: the force residual ``G a_t - Q_t`` measured in
    coefficient units (Notes), each shape weighted by ``shape_weights``
    (``W``, all 1 by default).

    Parameters
    ----------
    coefficients : array-like of shape (..., T, K)
        Blendshape-coefficient trajectories, frames consecutive at interval
        ``dt``; leading dimensions are independent sequences. Rows holding
        NaN (failed frames) split a sequence: each finite run is solved on
        its own and the failed rows come back NaN.
    reduced : ReducedModel
        From :func:`reduce_face_model`, for any face model: K blendshapes,
        M muscles, one scalar activation per muscle along its line of
        action (vector forces have no sign to constrain).
    dt : float
        Frame interval in seconds.
    dynamics : {"elastic", "quasistatic"}, default="elastic"
        ``"elastic"``: ``Q_t = M c''_t + D_B c'_t + K_B c_t`` with central
        finite differences (the acceleration held at the ends of a run;
        runs shorter than 3 frames get no acceleration, of 1 frame no
        velocity). ``"quasistatic"``: ``Q_t = K_B c_t``, which ignores the
        lag of the tissue behind its forces. The elastic inverse is the
        more accurate under tracking noise too (Notes).
    smoothness : float, default=0.03
        Time scale in seconds of the temporal penalty: its weight per frame
        pair is ``(smoothness / dt)^2``, so that one value means the same
        low-pass (cut-off near ``1 / (2 pi smoothness)`` Hz for a muscle of
        unit response) at any frame rate. 0 solves frames independently.
    ridge : float, default=1e-2
        Squared-norm penalty on the activations, relative to the squared
        coefficient residual; it keeps redundant muscles (near-collinear
        static responses) apart and must be > 0 when ``S`` is rank
        deficient.
    sparsity : float, default=0.0
        L1 penalty ``sparsity * sum(a)`` (linear, since ``a >= 0``), in
        squared-coefficient units per unit activation.
    shape_weights : array-like of shape (K,), default=None
        Non-negative weight of each blendshape's residual; 0 leaves a shape's
        residual out of the fit (its coefficient is explained by no muscle;
        under ``"elastic"`` its motion still enters the other shapes'
        targets through the mass and damping coupling). ``None``: every
        shape weighs 1. :func:`skbiomech.detect.detect` zeroes the gaze
        shapes (``eyeLook*``) and gives them weight 0: the eyeballs are
        turned by extraocular muscles that the face model does not have,
        and gaze must not read as eyelid or brow activity.
    tol : float, default=1e-4
        Relative primal and dual residual at which ADMM stops; the active
        set it finds is then polished to the exact optimum (Notes).
    max_iter : int, default=5000
        ADMM iterations at most; a :class:`RuntimeWarning` counts the runs
        neither converged nor polished.
    return_info : bool, default=False
        Also return a dict: ``n_iter`` (ADMM iterations, largest over the
        runs), ``exact`` (every run polished to the KKT conditions),
        ``converged`` (every run exact or converged to ``tol``),
        ``n_segments`` (finite runs solved).

    Returns
    -------
    activations : ndarray of shape (..., T, M)
        Non-negative; NaN on the rows where ``coefficients`` has NaN.
    info : dict
        Only when ``return_info`` is true.

    See Also
    --------
    au_intensities : AU intensity from the activations.
    rollout : The forward model this inverts.

    Notes
    -----
    *Why coefficient units.* In the quasi-static case ``|K_B^-1 (G a -
    Q)|^2`` is ``|S a - c|^2``: the least-squares fit of the muscles'
    static responses to the tracked coefficients, the maximum-likelihood
    estimate for independent tracking noise, with penalties comparable
    across faces. The raw force metric ``|G a - Q|^2`` would weight each
    shape by the square of its stiffness, in the face's own force units.

    *Solver.* The Hessian is ``(S^T S + ridge I) (x) I_T + lam I_M (x) L``
    with ``lam = (smoothness / dt)^2`` and ``L`` the path Laplacian, which
    the DCT-II diagonalizes exactly; with the eigenvectors of ``S^T S``
    (computed once for all frames and sequences), each ADMM iteration costs
    two M x M matmuls and two DCTs, and its penalty parameter adapts for
    free. From ADMM's zero pattern, primal-dual active-set steps solve the
    equality-constrained QP on the rest (banded: frames couple only to
    their neighbours) until the KKT conditions hold to rounding; ``info``
    says whether every run got there. Along the slowest eigenvector the
    coupling between frames decays by ``exp(-theta)`` per frame,
    ``cosh(theta) = 1 + mu_min / (2 lam)``, so runs longer than about 4096
    frames are solved in overlapping windows whose margins make the
    stitched result equal the single solve to 1e-12 relative: memory stays
    flat (about 250 MB at M = 37) in the length of the video. Pieces of
    equal length are solved as one batch.

    *Which dynamics.* Measured on the default face (resolution 21, lowest
    natural frequency 7 Hz) and on ICT-FaceKit (9 Hz), driven by AU-like
    pulses, observed at 25 or 30 fps with Gaussian tracking noise of
    0-0.1, the elastic inverse recovered the driven muscles with equal or
    higher correlation than the quasi-static one in every case (mean r
    0.983 vs 0.978 on the default face at noise 0.05, 0.963 for both on
    ICT-FaceKit), also with the tissue's mass and damping off by a factor
    of 0.5-2. Differencing amplifies the noise by only about
    ``1 / (omega dt)^2`` on tissue this stiff and the temporal penalty
    removes most of it, while the quasi-static model lags its forces.

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import invert_activations, reduce_face_model
    >>> reduced = reduce_face_model(default_face_model(resolution=21))
    >>> truth = np.zeros((30, reduced.n_muscles))
    >>> truth[10:20, 21] = 0.5  # zygomaticus_major_L held at half strength
    >>> c = np.linalg.solve(reduced.stiffness, reduced.force_activation @ truth.T).T
    >>> a = invert_activations(c, reduced, 1 / 30, dynamics="quasistatic", smoothness=0.0, ridge=0.0)
    >>> a.shape, bool(a.min() >= 0), round(float(a[15, 21]), 6)
    ((30, 37), True, 0.5)
    >>> c[5] = np.nan  # a failed frame
    >>> bool(np.isnan(invert_activations(c, reduced, 1 / 30)[5]).all())
    True
    """
    if not isinstance(reduced, ReducedModel):
        raise TypeError(
            f"reduced must be a ReducedModel from reduce_face_model(face); got {type(reduced).__name__}."
        )
    if dynamics not in INVERSE_DYNAMICS:
        raise ValueError(f"dynamics must be one of {INVERSE_DYNAMICS}; got {dynamics!r}.")
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not dt > 0:
        raise ValueError(f"dt must be a positive frame interval in seconds; got {dt!r}.")
    for name, value in (("smoothness", smoothness), ("ridge", ridge), ("sparsity", sparsity)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < np.inf:
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1); got {tol!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int; got {max_iter!r}.")
    c = as_float_array(coefficients, "coefficients")
    k, m = reduced.n_blendshapes, reduced.n_muscles
    weights = np.ones(k) if shape_weights is None else as_float_array(shape_weights, "shape_weights")
    if weights.shape != (k,) or not np.all(np.isfinite(weights) & (weights >= 0)) or not weights.any():
        raise ValueError(
            f"shape_weights must be {k} finite non-negative weights, one per blendshape of the reduced "
            f"model, not all 0; got {np.asarray(shape_weights).tolist() if weights.size <= 8 else weights.shape}."
        )
    if c.ndim < 2 or c.shape[-1] != k:
        raise ValueError(
            f"coefficients must have shape (..., T, K={k}) for this reduced model; got {c.shape}."
        )
    if np.isinf(c).any():
        raise ValueError("coefficients contains infinite values; mark failed frames with NaN instead.")
    batch, n_frames = c.shape[:-2], c.shape[-2]
    c = c.reshape(int(np.prod(batch)), n_frames, k)
    out = np.full((c.shape[0], n_frames, m), np.nan)

    response = np.linalg.solve(reduced.stiffness, reduced.force_activation)  # S, (K, M)
    weighted = weights[:, None] * response  # W S: the linear term and the Gram matrix of the weighted fit
    gram = response.T @ weighted + ridge * np.eye(m)
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    if eigenvalues.max() <= 0:
        raise ValueError("The reduced model's muscles produce no motion (G = 0); nothing to invert.")
    if eigenvalues.min() <= 1e-12 * eigenvalues.max():
        # The temporal penalty leaves a constant offset along a null direction free.
        raise ValueError(
            "The muscles are redundant (S^T S is singular) and ridge=0 leaves the "
            "problem without a unique solution: set ridge > 0."
        )
    lam = (smoothness / dt) ** 2

    rows, starts, lengths = _segments(np.isfinite(c).all(axis=-1))
    # Two more frames of margin: a piece's edge frames have one-sided finite differences.
    margin = _margin(eigenvalues.min(), lam, n_frames) + 2
    run, starts, lengths, keep_from, keep_to = _pieces(starts, lengths, margin)
    rows = rows[run]
    n_iter, exact, converged = 0, np.ones(len(run), dtype=bool), np.ones(len(run), dtype=bool)
    for length in np.unique(lengths):
        factor = _Factor(eigenvalues, eigenvectors, int(length), lam)
        same = np.flatnonzero(lengths == length)
        # Pieces of equal length share the factorization; chunks bound the memory.
        for pick in np.array_split(same, -(-len(same) * int(length) // _CHUNK_FRAMES)):
            frames = starts[pick, None] + np.arange(length)  # (S, L)
            target = _equilibrium_targets(c[rows[pick, None], frames], reduced, dt, dynamics)
            linear = target @ weighted - 0.5 * sparsity
            solution, iterations, done = _admm(factor, linear, tol, max_iter)
            solution, polished = _polish(solution, gram, lam, linear)
            keep = (np.arange(length) >= keep_from[pick, None]) & (np.arange(length) < keep_to[pick, None])
            out[np.broadcast_to(rows[pick, None], frames.shape)[keep], frames[keep]] = solution[keep]
            n_iter = max(n_iter, iterations)
            exact[pick], converged[pick] = polished, done | polished
    n_runs = int(run.max()) + 1 if len(run) else 0
    exact, converged = (np.bincount(run, ~flags, minlength=n_runs) == 0 for flags in (exact, converged))
    if not converged.all():
        warnings.warn(
            f"invert_activations: {int((~converged).sum())} of {len(converged)} runs neither reached "
            f"tol={tol:g} in max_iter={max_iter} ADMM iterations nor an exact active set; "
            "raise max_iter.",
            RuntimeWarning,
            stacklevel=2,
        )
    activations = out.reshape(*batch, n_frames, m)
    if return_info:
        info = {
            "n_iter": n_iter,
            "exact": bool(exact.all()),
            "converged": bool(converged.all()),
            "n_segments": n_runs,
        }
        return activations, info
    return activations
