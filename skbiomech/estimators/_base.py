"""Shared machinery of the physics estimators: parameters, skorch training, inference.

The public estimators are scikit-learn estimators whose ``fit`` builds a
skorch ``NeuralNet`` (``net_``) around :class:`~skbiomech.nn.BiomechNetwork`.
Inner torch objects are reached through ``__`` parameters, as in skorch:
``module__hidden_size``, ``optimizer__weight_decay``, ``iterator_train__num_workers``.
"""

from __future__ import annotations

import copy
import numbers
import tempfile
import warnings
import weakref
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names, check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .._device import resolve_device
from ..face import FaceModel, default_face_model
from ..nn._losses import BiomechLoss
from ..nn._network import ENCODERS, MASS_MODELS, BiomechNetwork
from ..physics import DYNAMICS, reduce_face_model, unit_reduced_model
from ._frames import (
    FrameData,
    check_horizon,
    context_index,
    is_bookkeeping_column,
    make_windows,
    parse_frames,
    sequence_pieces,
)
from ._training import (
    AtomicCheckpoint,
    EpochLog,
    ResumePoint,
    TrainingInterruptedWarning,
    TrainingRun,
    check_warm_start,
    find_resumable,
    fit_key,
    fit_signature,
    restore_module_and_history,
    training_finished,
)

__all__ = ["BiomechEstimatorMixin"]

_ROUTED = ("module__", "optimizer__", "iterator_train__", "iterator_valid__", "callbacks__", "criterion__")


_REDUCED = weakref.WeakKeyDictionary()  # FaceModel -> ReducedModel (face arrays are read-only)


@lru_cache(maxsize=1)
def _default_face():
    return default_face_model()


def _plan_windows(bounds, horizon, per_chunk, margin):
    """``make_windows``' windows, ``per_chunk`` at a time, without building them all.

    ``bounds`` are the segment starts (and the frame count) in frame order.
    Yields ``(spots, valid, owner, (low, high))``: the frame positions (W, H)
    of the chunk's windows, their masks, and the positions ``[low, high)``
    they reach with ``margin`` frames of context, within their segments.
    """
    begins, lengths = bounds[:-1], np.diff(bounds)
    full = lengths // horizon  # regular windows; one more overlaps the end when the length is not a multiple
    counts = np.where(lengths < horizon, 1, full + (lengths % horizon > 0))
    first_window = np.r_[0, np.cumsum(counts)]
    steps = np.arange(horizon)
    for start in range(0, int(first_window[-1]), per_chunk):
        j = np.arange(start, min(start + per_chunk, int(first_window[-1])))
        g = np.searchsorted(first_window, j, side="right") - 1  # segment of each window
        i, length = j - first_window[g], lengths[g][:, None]
        offset = np.where(i < full[g], i * horizon, np.maximum(lengths[g] - horizon, 0))[:, None] + steps
        valid = offset < length
        owner = valid & (offset >= (np.minimum(i, full[g]) * horizon)[:, None])
        spots = begins[g][:, None] + np.minimum(offset, length - 1)  # short windows repeat their last frame
        low = max(int(spots[0, 0]) - margin, int(begins[g[0]]))
        high = min(int(spots[-1].max()) + 1 + margin, int(begins[g[-1]] + lengths[g[-1]]))
        yield spots, valid, owner, (low, high)


def _same_model_columns(estimator, X):
    """Whether X's model columns (all but metadata and ignored ones) are those seen in fit, in order.

    A model trained on one kind of frame table (simulated frames, say)
    then reads another (a :class:`~skbiomech.video.FaceTracker` table, with
    time, pose and landmark columns) as long as the coefficients and image
    features agree; scikit-learn's check of every column name would refuse it.
    """
    seen = getattr(estimator, "feature_names_in_", None)
    if seen is None:
        return False

    def model(columns):
        return [c for c in columns if not is_bookkeeping_column(c)]

    return model(X.columns) == model(seen)


def _principal_axes(features, n_components):
    """The top ``n_components`` principal axes (D, k) of standardized training features (n, D)."""
    features = np.asarray(features, dtype=np.float64)
    n_components = min(int(n_components), features.shape[1])
    covariance = features.T @ features / max(len(features) - 1, 1)
    values, vectors = np.linalg.eigh(covariance)
    axes = vectors[:, np.argsort(values)[::-1][:n_components]]
    # A deterministic sign: each axis's largest loading is positive.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(n_components)])
    return (axes * np.where(signs == 0, 1.0, signs)).astype(np.float32)


class _BiomechNet(NeuralNet):
    """skorch net whose criterion sees the batch (for masks and targets)."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, y_true, X)


class BiomechEstimatorMixin:
    """Parameters, ``__`` routing, training and windowed inference shared by the estimators."""

    _common_constraints = {
        "face": [StrOptions({"default"}), FaceModel, None],
        "encoder": [StrOptions(set(ENCODERS))],
        "window": [Interval(numbers.Integral, 0, None, closed="left")],
        "force_model": [StrOptions({"activation", "vector"})],
        "dynamics": [StrOptions(set(DYNAMICS))],
        "mass": [StrOptions(set(MASS_MODELS))],
        "horizon": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_gap": [Interval(numbers.Integral, 0, None, closed="left")],
        "fps": [Interval(numbers.Real, 0, None, closed="neither")],
        "lambda_3d": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_au": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_clean": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_smooth": [Interval(numbers.Real, 0, None, closed="left")],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "latent_size": [Interval(numbers.Integral, 1, None, closed="left")],
        # An untrained model is never returned: 0 epochs is refused, as MLPClassifier refuses max_iter=0.
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [type],
        "callbacks": [list, None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "early_stopping": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_schedule": [StrOptions({"cosine", "plateau"}), None],
        "checkpoint_dir": [str, Path, None],
        "warm_start": ["boolean"],
        "resume": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- __ routing, as in skorch -------------------------------------------
    def _routed_params(self):
        return {k: v for k, v in vars(self).items() if k.startswith(_ROUTED)}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params):
        known = set(self._get_param_names())
        # Like __init__, keep routed and unknown keys; fit rejects the unknown ones.
        extra = {
            k: params.pop(k) for k in list(params) if k.startswith(_ROUTED) or (k not in known and "__" not in k)
        }
        vars(self).update(extra)
        return super().set_params(**params) if params else self

    # -- data -----------------------------------------------------------------
    def _face_and_reduced(self):
        if self.face is None:
            return None, None
        face = _default_face() if isinstance(self.face, str) else self.face
        # Grid searches fit the same face many times: reduce it once.
        if face not in _REDUCED:
            _REDUCED[face] = reduce_face_model(face)
        return face, _REDUCED[face]

    def _check_unexpected_params(self):
        known = set(self._get_param_names())
        unknown = [
            key for key in vars(self)
            if key not in known and not key.startswith(_ROUTED) and not key.startswith("_") and not key.endswith("_")
        ]  # fmt: skip
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameters {unknown}; inner torch objects "
                f"take prefixed parameters {list(_ROUTED)}."
            )

    def _check_input(self, X, *, reset):
        """Parse X; on ``reset`` also record feature names, count and the physics."""
        if reset:
            self._check_unexpected_params()
            self.face_, self.reduced_ = self._face_and_reduced()
        else:
            check_is_fitted(self, "net_")
        if hasattr(X, "columns"):
            if reset or not _same_model_columns(self, X):
                _check_feature_names(self, X, reset=reset)
            if reset:
                self.n_features_in_ = X.shape[1]
        else:
            # Arrays get scikit-learn's own validation and messages; NaN is left to
            # parse_frames, where a row of NaN is a failed frame.
            X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32), ensure_all_finite="allow-nan")
        max_gap = getattr(self, "max_gap", 0)  # models pickled before max_gap existed
        if not reset:
            return parse_frames(
                X, self.coefficient_names_, n_features=getattr(self, "n_image_features_", 0), max_gap=max_gap
            )
        names = None if self.face_ is None else list(self.face_.blendshape_names)
        data = parse_frames(X, names, max_gap=max_gap)
        if not len(data.coefficients):
            raise ValueError(
                "Every frame of X failed (success=False or every coefficient NaN): there is no frame to "
                "train on."
            )
        self.coefficient_names_ = data.coefficient_names
        if self.reduced_ is None:
            self.reduced_ = unit_reduced_model(self.coefficient_names_)
        return data

    def _batches(self, data, labels=None, *, training, windows=None):
        """Window tensors (a dict for skorch) and window-shaped labels.

        ``windows``: ``(index, valid, owner)`` of some windows of ``data``
        (``make_windows``'s output by default), for inference in chunks.
        """
        if training:
            # Segments shorter than the horizon train as padded windows (masked in
            # the losses, as at inference), so no labelled frame is lost.
            check_horizon(data.sequence_ids, self.horizon)
        if windows is None:
            windows = make_windows(data.sequence_ids, self.horizon, allow_short=True)
        index, valid, owner = windows
        context = context_index(data.sequence_ids, self.window)  # (n, C)
        coefficients = data.coefficients[context[index]]  # (W, H, C, K)
        center = coefficients[:, :, self.window]
        # Initial velocity from a central difference around each window's first frame.
        first = index[:, 0]
        neighbours = context_index(data.sequence_ids, 1)[first]
        # Frames apart: 2 inside a sequence, 1 at an end, 0 for a one-frame sequence.
        span = np.maximum((neighbours[:, 0] != first).astype(int) + (neighbours[:, 2] != first), 1)
        velocity = (data.coefficients[neighbours[:, 2]] - data.coefficients[neighbours[:, 0]]) * (
            self.fps / span[:, None]
        )
        batch = {
            "coefficients": torch.as_tensor(coefficients),
            "initial_state": torch.as_tensor(np.concatenate([center[:, 0], velocity], axis=1).astype(np.float32)),
            "mask": torch.as_tensor(valid),
        }
        if data.features is not None and getattr(self, "n_image_features_", 0):
            batch["features"] = torch.as_tensor(data.features[index])
        y = None if labels is None else torch.as_tensor(np.where(valid[..., None], labels[index], np.nan))
        return batch, y, index, owner

    def _table_outputs(self, X, keys):
        """:meth:`_frame_outputs` of the frame table ``X``, parsed and run in pieces of whole sequences.

        Long tables go through :func:`sequence_pieces` of about
        ``_infer_chunk_rows`` rows, so the working copies (float32
        coefficients, segment bookkeeping, window batches) stay bounded at
        any table length; only the returned array grows with it.
        """
        pieces = sequence_pieces(X, self._infer_chunk_rows) if hasattr(X, "columns") else None
        if pieces is None or len(pieces) == 1:
            return self._frame_outputs(self._check_input(X, reset=False), keys)
        out = None
        for low, high in pieces:
            part = self._frame_outputs(self._check_input(X.iloc[low:high], reset=False), keys)
            if out is None:
                out = np.empty((len(X), part.shape[1]))
            out[low:high] = part
        return out

    def _frame_outputs(self, data, keys):
        """The network outputs ``keys`` per row of the table behind ``data``, side by side.

        Returns one float64 array (n_rows, width): each key's per-frame
        output flattened, in the order of ``keys``, written batch by batch
        into its rows, so no full-size intermediate copy is ever held. Rows
        without an output (failed frames outside every segment, or all rows
        when every frame failed) are NaN.
        """
        if not len(data.coefficients):
            # Nothing to run: one placeholder frame gives the output widths.
            features = None if data.features is None else np.zeros((1, data.features.shape[1]), np.float32)
            placeholder = FrameData(
                np.zeros((1, len(data.coefficient_names)), np.float32), features,
                np.zeros(1, dtype=np.int64), None, None, data.coefficient_names,
            )  # fmt: skip
            width = self._frame_outputs(placeholder, keys).shape[1]
            return np.full((data.n_rows, width), np.nan)
        out = None

        def write(frames, block):
            nonlocal out
            if out is None:
                out = np.full((data.n_rows, block.shape[1]), np.nan)
            rows = data.rows[frames]
            shown = rows >= 0
            out[rows[shown]] = block[shown]

        self._infer(data, keys, write)
        return out

    def _working_outputs(self, data, key):
        """The network output ``key`` (n, ...) per working frame of ``data``."""
        out = None

        def write(frames, block):
            nonlocal out
            if out is None:
                out = np.empty((len(data.coefficients), block.shape[1]), dtype=block.dtype)
            out[frames] = block

        self._infer(data, [key], write)
        return out

    # -- training -------------------------------------------------------------
    def _callbacks(self, run):
        # Order matters: the log before early stopping (which ends an epoch by raising),
        # the resume point last (it saves the scheduler and early-stopping state).
        callbacks = list(self.callbacks or [])
        if self.verbose:
            callbacks.append(("epoch_log", EpochLog(run.target_epochs, header=run.header)))
        if self.early_stopping is not None:
            callbacks.append(("early_stopping", EarlyStopping(patience=self.early_stopping, load_best=True)))
        if self.lr_schedule == "cosine":
            # last_epoch=-1: each fit (a warm start too) runs its own cycle; skorch would count the
            # epochs of the history. A resumed fit restores the scheduler's state instead.
            cosine = LRScheduler("CosineAnnealingLR", T_max=max(self.max_epochs, 1), last_epoch=-1)
            callbacks.append(("lr_schedule", cosine))
        elif self.lr_schedule == "plateau":
            callbacks.append(("lr_schedule", LRScheduler("ReduceLROnPlateau", patience=3)))
        if run.folder is not None:
            monitor = "valid_loss_best" if self.validation_fraction else "train_loss_best"
            callbacks.append(("checkpoint", AtomicCheckpoint(dirname=str(run.folder), monitor=monitor)))
            callbacks.append(("resume_point", ResumePoint(str(run.folder), run.key, run.target_epochs)))
        return callbacks

    def _train_split(self, data, batch, y, index):
        if self.validation_fraction is None:
            if self.early_stopping is not None:
                raise ValueError("early_stopping needs a validation split: set validation_fraction.")
            return None
        groups = data.subjects if data.subjects is not None else data.sequence_ids
        window_groups = np.asarray(groups)[index[:, 0]]
        if len(np.unique(window_groups)) < 2:
            raise ValueError("validation_fraction needs at least two subjects (or sequences) to split by subject.")
        splitter = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=self._seed)
        train, valid = next(splitter.split(index, groups=window_groups))
        valid_batch = {k: v[valid] for k, v in batch.items()}
        valid_y = None if y is None else y[valid]
        train_batch = {k: v[train] for k, v in batch.items()}
        return (train_batch, None if y is None else y[train]), predefined_split(Dataset(valid_batch, valid_y))

    def _fit_network(self, data, labels, n_aus, inputs):
        self._seed = int(check_random_state(self.random_state).randint(2**31))
        self.device_ = resolve_device(self.device)
        if self.force_model == "vector" and self.face_ is None:
            raise ValueError("force_model='vector' needs a face model (3-vector forces act on its vertices).")
        if self.encoder == "meshconv" and self.face_ is None:
            raise ValueError("encoder='meshconv' needs a face model (face='default' or a FaceModel).")
        batch, y, index, _ = self._batches(data, labels, training=True)
        module_config = dict(
            n_aus=int(n_aus),
            inputs=list(inputs),
            n_image_features=int(getattr(self, "n_image_features_", 0)),
            encoder=self.encoder,
            context=2 * self.window + 1,
            hidden_size=int(self.hidden_size),
            latent_size=int(self.latent_size),
            force_model=self.force_model,
            dynamics=self.dynamics,
            mass=self.mass,
            dt=1.0 / self.fps,
            **self._head_config(n_aus),
        )
        # warm_start continues the fitted net; a model loaded or pickled without a signature cannot.
        warm = bool(self.warm_start) and hasattr(self, "net_") and hasattr(self, "_fit_signature_")
        if warm:
            check_warm_start(self._fit_signature_, fit_signature(self, module_config))
        elif self.warm_start and hasattr(self, "net_"):
            warnings.warn(
                "warm_start=True, but this model was fitted by an older version of skbiomech, which did not "
                "record what a warm start must keep: training a new network. Refit it once with this version.",
                UserWarning,
                stacklevel=3,
            )
        self.module_config_ = module_config
        scale = data.coefficients.std(axis=0)
        standardization = dict(
            coefficient_mean=data.coefficients.mean(axis=0),
            coefficient_scale=np.where(scale > 1e-6, scale, 1.0),
        )
        if data.features is not None and self.module_config_["n_image_features"]:
            fscale = data.features.std(axis=0)
            standardization.update(
                feature_mean=data.features.mean(axis=0), feature_scale=np.where(fscale > 1e-6, fscale, 1.0)
            )
            if module_config.get("image_components") is not None:
                standardization["feature_projection"] = _principal_axes(
                    (data.features - standardization["feature_mean"]) / standardization["feature_scale"],
                    module_config["image_components"],
                )
        split = self._train_split(data, batch, y, index)
        train_split = None
        if split is not None:
            (batch, y), train_split = split
        run = self._training_run(data, labels, warm, n_windows=len(batch["mask"]))
        self.checkpoint_dir_ = None if run.folder is None else str(run.folder)
        net = self._build_net(standardization, train_split, run)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            net.initialize()  # as net.fit would: the same random draws
            if warm:
                # Like scikit-learn's warm_start: the fitted weights and history, a new optimizer.
                try:
                    net.module_.load_state_dict(self.net_.module_.state_dict())
                except RuntimeError as exc:
                    raise ValueError(f"warm_start=True: the fitted network does not fit this one ({exc}).") from None
                net.history = copy.deepcopy(self.net_.history)
            elif run.state is not None:
                restore_module_and_history(net, run.state)
                dict(net.callbacks_)["resume_point"].pending_state_ = run.state
            net.partial_fit(batch, y, epochs=max(run.target_epochs - len(net.history), 0))
        if not training_finished(net, run.target_epochs):
            hint = " Fit again with resume=True to continue from the last epoch." if run.folder is not None else ""
            warnings.warn(
                f"Training was interrupted after epoch {len(net.history)} of {run.target_epochs}: the model is "
                f"only partly trained.{hint}",
                TrainingInterruptedWarning,
                stacklevel=3,
            )
        self.net_ = net
        self.history_ = net.history
        self._fit_signature_ = fit_signature(self, module_config)
        return self

    def _head_config(self, n_aus):
        """Network settings of the AU head (the classifier's); none for the force estimator."""
        return {}

    def _training_run(self, data, labels, warm, *, n_windows):
        """The epochs this fit ends at and its checkpoint folder: a new one, or the one it resumes."""
        start = len(self.net_.history) if warm else 0
        run = TrainingRun(target_epochs=start + int(self.max_epochs))
        if self.checkpoint_dir is None:
            if self.resume:
                raise ValueError("resume=True continues a fit from its checkpoint folder: set checkpoint_dir.")
        else:
            root = Path(self.checkpoint_dir)
            root.mkdir(parents=True, exist_ok=True)
            run.key = fit_key(self, data, labels)
            if self.resume and not warm:
                run.folder, run.state = find_resumable(root, run.key)
            if run.state is not None:
                run.target_epochs = int(run.state["target_epochs"])
                start = len(run.state["history"])
            else:
                # One folder per fit: parallel GridSearchCV fits never share files.
                run.folder = Path(tempfile.mkdtemp(prefix="fit-", dir=root))
        resumed = f", resumed from {run.folder} after epoch {start}" if run.state is not None else ""
        run.header = (
            f"{type(self).__name__}: {n_windows} windows of {self.horizon} frames, "
            f"epochs {start + 1}-{run.target_epochs}{resumed}"
        )
        return run

    def _build_net(self, standardization, train_split=None, run=None):
        """The skorch net around a BiomechNetwork configured by ``module_config_``."""
        run = TrainingRun(target_epochs=int(self.max_epochs)) if run is None else run
        module_params = dict(
            self.module_config_,
            reduced=self.reduced_,
            face=self.face_ if self.encoder == "meshconv" else None,
            **standardization,
        )
        routed = self._routed_params()
        for key in list(routed):
            if key.startswith("module__"):
                module_params[key[len("module__"):]] = routed.pop(key)
        return _BiomechNet(
            module=BiomechNetwork,
            criterion=BiomechLoss,
            criterion__lambda_3d=self.lambda_3d,
            criterion__lambda_au=self.lambda_au if self.module_config_["n_aus"] else 0.0,
            criterion__lambda_clean=self.lambda_clean,
            criterion__lambda_smooth=self.lambda_smooth,
            criterion__center=self.window,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=self._callbacks(run),
            callbacks__print_log=None,  # its table has colour codes; EpochLog prints plain lines
            device=self.device_,
            verbose=int(self.verbose),
            iterator_train__shuffle=True,
            **{f"module__{k}": v for k, v in module_params.items()},
            **routed,
        )

    # -- inference ------------------------------------------------------------
    #: About how many frames of windows inference builds at once (memory stays flat at any length).
    _infer_chunk_frames = 1 << 15
    #: About how many rows of a long frame table are parsed at once (see ``_table_outputs``).
    _infer_chunk_rows = 1 << 17

    def _infer(self, data, keys, write):
        """Run the network over every frame of ``data`` in bounded chunks.

        The windows (those of ``make_windows``, in its order) are planned
        and built a chunk at a time: a whole number of batches of consecutive
        windows, from the frames they reach (their own, plus ``window`` or 1
        frames of context on each side, within their segment). The batches
        are those of one run over every window, so the results are identical
        at any chunk size. After each batch, ``write(frames, block)`` gets
        the working frames that batch owns and their outputs ``keys``,
        flattened and side by side (float32, (len(frames), width)): memory
        beyond what ``write`` keeps does not grow with the number of frames.
        """
        n = len(data.coefficients)
        ids = data.sequence_ids
        ordered = bool(np.all(ids[1:] >= ids[:-1]))  # FrameData keeps segments in order: no sort needed
        order = None if ordered else np.lexsort((np.arange(n), ids))  # make_windows' frame order
        sorted_ids = ids if ordered else ids[order]
        bounds = np.r_[0, np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1, n]  # segment starts, and n
        batch_size = int(self.net_.batch_size)
        per_chunk = batch_size * max(1, self._infer_chunk_frames // (self.horizon * batch_size))  # windows
        margin = max(self.window, 1)  # encoder context, and the neighbours of the initial velocity
        self.net_.module_.eval()
        # DataLoader iteration draws a seed from the global RNG: leave the user's untouched.
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            for spots, valid, owner, (low, high) in _plan_windows(bounds, self.horizon, per_chunk, margin):
                rows = slice(low, high) if ordered else order[low:high]
                part = FrameData(
                    data.coefficients[rows], None if data.features is None else data.features[rows],
                    ids[rows], None, None, data.coefficient_names,
                )  # fmt: skip
                batch, _, _, _ = self._batches(part, training=False, windows=(spots - low, valid, owner))
                self._run_windows(batch, spots if ordered else order[spots], owner, keys, write)

    def _run_windows(self, batch, index, owner, keys, write):
        """Run ``batch`` and hand each batch's owned frames and outputs ``keys`` to ``write``."""
        start = 0
        for part in self.net_.forward_iter(batch, training=False, device="cpu"):
            stop = start + len(part[keys[0]])  # windows in this batch
            owned = owner[start:stop]
            count = int(owned.sum())
            block = np.concatenate([part[key].numpy()[owned].reshape(count, -1) for key in keys], axis=1)
            write(index[start:stop][owned], block)
            start = stop

    def __getstate__(self):
        state = super().__getstate__()  # keeps scikit-learn's version stamp
        state.pop("_seed", None)
        return state
