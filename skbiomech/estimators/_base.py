"""Shared machinery of the physics estimators: parameters, skorch training, inference.

The public estimators are scikit-learn estimators whose ``fit`` builds a
skorch ``NeuralNet`` (``net_``) around :class:`~skbiomech.nn.BiomechNetwork`.
Inner torch objects are reached through ``__`` parameters, as in skorch:
``module__hidden_size``, ``optimizer__weight_decay``, ``iterator_train__num_workers``.
"""

from __future__ import annotations

import numbers
import tempfile
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
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .._device import resolve_device
from ..face import FaceModel, default_face_model
from ..nn._losses import BiomechLoss
from ..nn._network import ENCODERS, MASS_MODELS, BiomechNetwork
from ..physics import DYNAMICS, reduce_face_model, unit_reduced_model
from ._frames import FrameData, check_horizon, context_index, make_windows, parse_frames

__all__ = ["BiomechEstimatorMixin"]

_PER_FRAME_OUTPUTS = {"forces", "positions", "logits"}  # what inference keeps of the network's outputs
_ROUTED = ("module__", "optimizer__", "iterator_train__", "iterator_valid__", "callbacks__", "criterion__")


_REDUCED = weakref.WeakKeyDictionary()  # FaceModel -> ReducedModel (face arrays are read-only)


@lru_cache(maxsize=1)
def _default_face():
    return default_face_model()


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
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [type],
        "callbacks": [list, None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "early_stopping": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_schedule": [StrOptions({"cosine", "plateau"}), None],
        "checkpoint_dir": [str, Path, None],
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
            _check_feature_names(self, X, reset=reset)
            if reset:
                self.n_features_in_ = X.shape[1]
        else:
            # Arrays get scikit-learn's own validation and messages; NaN is left to
            # parse_frames, where a row of NaN is a failed frame.
            X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
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

    def _batches(self, data, labels=None, *, training):
        """Window tensors (a dict for skorch) and window-shaped labels."""
        if training:
            # Segments shorter than the horizon train as padded windows (masked in
            # the losses, as at inference), so no labelled frame is lost.
            check_horizon(data.sequence_ids, self.horizon)
        index, valid, owner = make_windows(data.sequence_ids, self.horizon, allow_short=True)
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

    def _frame_outputs(self, data):
        """Per-row network outputs for the table behind ``data``: NaN for rows without one.

        Failed frames outside every segment (not interpolated) get NaN; so do
        all rows when every frame failed.
        """
        if len(data.coefficients):
            outputs = self._infer(data)
        else:
            # Nothing to run: one placeholder frame gives the output shapes.
            features = None if data.features is None else np.zeros((1, data.features.shape[1]), np.float32)
            placeholder = FrameData(
                np.zeros((1, len(data.coefficient_names)), np.float32), features,
                np.zeros(1, dtype=np.int64), None, None, data.coefficient_names,
            )  # fmt: skip
            outputs = {key: values[:0] for key, values in self._infer(placeholder).items()}
        return {key: data.to_rows(values) for key, values in outputs.items()}

    # -- training -------------------------------------------------------------
    def _callbacks(self, checkpoint_dir):
        callbacks = list(self.callbacks or [])
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        if self.early_stopping is not None:
            callbacks.append(("early_stopping", EarlyStopping(patience=self.early_stopping, load_best=True)))
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_schedule", LRScheduler("CosineAnnealingLR", T_max=max(self.max_epochs, 1))))
        elif self.lr_schedule == "plateau":
            callbacks.append(("lr_schedule", LRScheduler("ReduceLROnPlateau", patience=3)))
        if checkpoint_dir is not None:
            monitor = "valid_loss_best" if self.validation_fraction else "train_loss_best"
            callbacks.append(("checkpoint", Checkpoint(dirname=checkpoint_dir, monitor=monitor)))
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
        self.module_config_ = dict(
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
        )
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
        split = self._train_split(data, batch, y, index)
        train_split = None
        if split is not None:
            (batch, y), train_split = split
        checkpoint_dir = None
        if self.checkpoint_dir is not None:
            Path(self.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            # One folder per fit: parallel GridSearchCV fits never share files.
            checkpoint_dir = tempfile.mkdtemp(prefix="fit-", dir=self.checkpoint_dir)
        self.checkpoint_dir_ = checkpoint_dir
        net = self._build_net(standardization, train_split, checkpoint_dir)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            net.fit(batch, y)
        self.net_ = net
        self.history_ = net.history
        return self

    def _build_net(self, standardization, train_split=None, checkpoint_dir=None):
        """The skorch net around a BiomechNetwork configured by ``module_config_``."""
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
            callbacks=self._callbacks(checkpoint_dir),
            device=self.device_,
            verbose=int(self.verbose),
            iterator_train__shuffle=True,
            **{f"module__{k}": v for k, v in module_params.items()},
            **routed,
        )

    # -- inference ------------------------------------------------------------
    def _infer(self, data):
        """Per-frame network outputs (numpy), stitched back from windows."""
        batch, _, index, owner = self._batches(data, training=False)
        outputs = {}
        self.net_.module_.eval()
        # DataLoader iteration draws a seed from the global RNG: leave the user's untouched.
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            for part in self.net_.forward_iter(batch, training=False, device="cpu"):
                for key in _PER_FRAME_OUTPUTS.intersection(part):
                    outputs.setdefault(key, []).append(part[key].numpy())
        result = {}
        rows = index[owner]
        for key, chunks in outputs.items():
            values = np.concatenate(chunks)
            per_frame = np.empty((len(data.coefficients), *values.shape[2:]), dtype=values.dtype)
            per_frame[rows] = values[owner]
            result[key] = per_frame
        return result

    def __getstate__(self):
        state = super().__getstate__()  # keeps scikit-learn's version stamp
        state.pop("_seed", None)
        return state
