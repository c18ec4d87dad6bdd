"""Training machinery of the physics estimators: checkpoints, resumption, warm starts, progress.

A fit with ``checkpoint_dir`` works in its own folder ``checkpoint_dir/fit-*``:

* ``fit.json``: what the fit is (estimator, a key over its parameters and its
  data, the epoch it ends at) and whether it finished;
* ``resume.pt``: the state after the last completed epoch (module, optimizer,
  LR scheduler, early stopping, history, random generator), rewritten
  atomically after every epoch, so a killed fit loses at most one epoch;
* ``params.pt``, ``optimizer.pt``, ``criterion.pt``, ``history.json``: skorch's
  :class:`~skorch.callbacks.Checkpoint` of the best epoch, also written atomically.

``resume=True`` makes ``fit`` look for an unfinished folder of the same key
and continue it (:func:`find_resumable`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch.callbacks import Callback, Checkpoint
from skorch.history import History

from .._io import atomic_write
from ._persist import _plain, read_torch_file

__all__ = [
    "AtomicCheckpoint",
    "EpochLog",
    "ResumePoint",
    "TrainingInterruptedWarning",
    "TrainingRun",
    "check_warm_start",
    "find_resumable",
    "fit_key",
    "fit_signature",
]

_FORMAT = 1
_STATE_FILE = "resume.pt"
_INFO_FILE = "fit.json"
# Parameters that change neither the model nor the data it sees: a fit resumes across them.
_NOT_IN_KEY = {"verbose", "device", "checkpoint_dir", "resume", "warm_start", "callbacks"}


class TrainingInterruptedWarning(UserWarning):
    """``fit`` returned before its last epoch (KeyboardInterrupt): the model is only partly trained."""


@dataclass
class TrainingRun:
    """What one call of ``fit`` trains: the epochs it ends at and where it checkpoints."""

    target_epochs: int  # history length when the fit is done
    folder: Path | None = None  # this fit's checkpoint folder
    key: str | None = None  # fit_key of the parameters and data
    state: dict | None = None  # resume.pt content when continuing an interrupted fit
    header: str = ""  # first line of the verbose log


# -- keys and signatures --------------------------------------------------------
def _digest_array(digest, array):
    if array is None:
        digest.update(b"none")
        return
    array = np.asarray(array)
    if array.dtype.kind == "O" or array.dtype.kind in "US":
        array = pd.util.hash_array(array.astype(object))  # strings and mixed ids, hashed per element
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())


def _param_value(value):
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    try:
        return _plain(value)
    except TypeError:
        return type(value).__qualname__  # an object (a RandomState): only its kind can be compared


def fit_key(estimator, data, labels):
    """SHA-256 over what decides a fit's result: class, parameters, face and data.

    Two fits with the same key train the same model from the same frames, so
    one may continue the other's checkpoint. ``verbose``, ``device``,
    ``callbacks`` and the checkpoint settings are left out.
    """
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in _NOT_IN_KEY}
    face = params.pop("face", None)
    params = {k: _param_value(v) for k, v in sorted(params.items())}
    face_id = None if estimator.face_ is None else estimator.face_.fingerprint
    digest = hashlib.sha256()
    digest.update(json.dumps([type(estimator).__name__, params, face_id, face is None], sort_keys=True).encode())
    for array in (data.coefficients, data.features, data.sequence_ids, data.subjects, labels):
        _digest_array(digest, array)
    digest.update(json.dumps(list(data.coefficient_names)).encode())
    return digest.hexdigest()


def fit_signature(estimator, module_config):
    """What a warm start must keep: the network, the columns, the AUs and the face."""
    n_aus = module_config["n_aus"]
    return {
        "coefficient names": list(estimator.coefficient_names_),
        "AUs": list(getattr(estimator, "aus_", [])) if n_aus else [],
        "classes": _param_value(getattr(estimator, "classes_", None)),
        "face": None if estimator.face_ is None else estimator.face_.fingerprint,
        **{f"network {key}": _param_value(value) for key, value in module_config.items()},
    }


def check_warm_start(previous, current):
    """Raise a ValueError naming what changed between the fitted model and this fit."""
    changed = [key for key in current if previous.get(key) != current[key]]
    if not changed:
        return
    details = "; ".join(f"{key}: {_short(previous.get(key))} -> {_short(current[key])}" for key in changed)
    raise ValueError(
        f"warm_start=True continues training the fitted network, but this fit differs from the one "
        f"it was fitted with ({details}). Give the same columns, AUs, inputs and network parameters, "
        "or set warm_start=False to train a new model."
    )


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- checkpoint folders -----------------------------------------------------------
def _read_info(folder):
    try:
        return json.loads((Path(folder) / _INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_info(folder, info):
    with atomic_write(Path(folder) / _INFO_FILE, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=1)


def find_resumable(root, key):
    """The newest unfinished fit of ``key`` under ``root``: ``(folder, state)`` or ``(None, None)``.

    Warns when ``root`` holds unfinished fits, none of them of this key
    (other parameters or other data), since ``fit`` then starts over.
    """
    candidates, others = [], 0
    for folder in sorted(Path(root).glob("fit-*")):
        info = _read_info(folder)
        state_file = folder / _STATE_FILE
        if info is None or info.get("finished") or not state_file.is_file():
            continue
        if info.get("key") != key:
            others += 1
            continue
        candidates.append((state_file.stat().st_mtime, folder))
    for _, folder in sorted(candidates, reverse=True):
        try:
            state = read_torch_file(folder / _STATE_FILE, "checkpoint", "a fit with checkpoint_dir")
        except ValueError as exc:
            warnings.warn(f"Skipping an unreadable checkpoint: {exc}", RuntimeWarning, stacklevel=3)
            continue
        if isinstance(state, dict) and state.get("format") == _FORMAT and state.get("key") == key:
            return folder, state
    if others:
        warnings.warn(
            f"resume=True: {root} holds {others} unfinished fit(s), none with these parameters and "
            "this data; training starts from epoch 1.",
            UserWarning,
            stacklevel=3,
        )
    return None, None


def restore_module_and_history(net, state):
    """Before training: the module weights and history of a checkpoint (the rest at on_train_begin)."""
    net.module_.load_state_dict(state["module"])
    net.history = History(state["history"])


# -- callbacks ----------------------------------------------------------------------
class AtomicCheckpoint(Checkpoint):
    """skorch's :class:`~skorch.callbacks.Checkpoint`, writing each file atomically.

    skorch writes in place, so a kill during a write leaves a half file;
    here each file is written beside its target and renamed over it. A file
    that cannot be written gives a warning, and training goes on.
    """

    def _save_params(self, f, net, f_name, log_name):
        if not isinstance(f, (str, os.PathLike)):
            return super()._save_params(f, net, f_name, log_name)
        try:
            with atomic_write(f, "w" if f_name == "f_history" else "wb") as handle:
                net.save_params(**{f_name: handle})
        except Exception as exc:  # a full disk must not end a long training
            warnings.warn(f"Could not write the checkpoint file {f} ({type(exc).__name__}: {exc}).", RuntimeWarning)


def _callback(net, name):
    return dict(getattr(net, "callbacks_", [])).get(name)


class ResumePoint(Callback):
    """Writes, after every epoch, all a fit needs to continue; restores it when resuming.

    Must come after the LR scheduler and early stopping callbacks, so that it
    saves their state after their own epoch-end step.

    Parameters
    ----------
    folder : str or Path
    key : str
        :func:`fit_key` of the fit.
    target_epochs : int
        History length at which the fit is done.
    """

    def __init__(self, folder, key, target_epochs):
        self.folder = folder
        self.key = key
        self.target_epochs = target_epochs

    def initialize(self):
        self.pending_state_ = getattr(self, "pending_state_", None)
        return self

    def on_train_begin(self, net, **kwargs):
        state, self.pending_state_ = self.pending_state_, None  # restore once; do not pickle it with the net
        if state is not None:
            scheduler = _callback(net, "lr_schedule")
            if scheduler is not None and state.get("lr_scheduler") is not None:
                scheduler.lr_scheduler_.load_state_dict(state["lr_scheduler"])
            # After the scheduler, whose construction reset the learning rate.
            net.optimizer_.load_state_dict(state["optimizer"])
            stopping = _callback(net, "early_stopping")
            if stopping is not None and state.get("early_stopping") is not None:
                vars(stopping).update(state["early_stopping"])
            torch.random.set_rng_state(state["rng"])
        _write_info(self.folder, self._info(finished=False))

    def on_epoch_end(self, net, **kwargs):
        scheduler = _callback(net, "lr_schedule")
        stopping = _callback(net, "early_stopping")
        state = {
            "format": _FORMAT,
            "key": self.key,
            "target_epochs": int(self.target_epochs),
            "module": {k: v.detach().cpu() for k, v in net.module_.state_dict().items()},
            "optimizer": net.optimizer_.state_dict(),
            "history": _plain(net.history.to_list()),
            "rng": torch.random.get_rng_state(),
            "lr_scheduler": None if scheduler is None else scheduler.lr_scheduler_.state_dict(),
            "early_stopping": None if stopping is None else {
                "misses_": int(stopping.misses_),
                "dynamic_threshold_": float(stopping.dynamic_threshold_),
                "best_epoch_": int(stopping.best_epoch_),
                "best_model_weights_": stopping.best_model_weights_,
            },
        }  # fmt: skip
        target = Path(self.folder) / _STATE_FILE
        try:
            with atomic_write(target) as handle:
                torch.save(state, handle)
        except Exception as exc:  # as for AtomicCheckpoint: the previous epoch's file stays, training goes on
            message = f"Could not write the checkpoint file {target} ({type(exc).__name__}: {exc})."
            warnings.warn(message, RuntimeWarning)

    def on_train_end(self, net, **kwargs):
        _write_info(self.folder, self._info(finished=training_finished(net, self.target_epochs)))

    def _info(self, *, finished):
        return {"format": _FORMAT, "key": self.key, "target_epochs": int(self.target_epochs), "finished": finished}


def training_finished(net, target_epochs):
    """True when the net trained all its epochs or early stopping ended it."""
    stopping = _callback(net, "early_stopping")
    stopped = stopping is not None and getattr(stopping, "misses_", 0) >= stopping.patience
    return len(net.history) >= target_epochs or stopped


class EpochLog(Callback):
    """``verbose=1``: one plain line per epoch (no colours), flushed at once.

    ``epoch 3/100  train_loss 0.1234*  valid_loss 0.2345   0.52 s  elapsed 1.6 s  eta 51 s``;
    ``*`` marks the best loss so far.

    Parameters
    ----------
    total_epochs : int
    header : str, default=""
        Printed when training begins.
    """

    def __init__(self, total_epochs, header=""):
        self.total_epochs = total_epochs
        self.header = header

    def on_train_begin(self, net, **kwargs):
        self.start_, self.first_epoch_ = time.perf_counter(), len(net.history)
        if self.header:
            print(self.header, file=sys.stdout, flush=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        width = len(str(self.total_epochs))
        parts = [f"epoch {row['epoch']:>{width}}/{self.total_epochs}"]
        for key in ("train_loss", "valid_loss"):
            if key in row:
                parts.append(f"{key} {row[key]:<9.4g}{'*' if row.get(key + '_best') else ' '}")
        elapsed = time.perf_counter() - self.start_
        done = len(net.history) - self.first_epoch_
        eta = elapsed / max(done, 1) * max(self.total_epochs - len(net.history), 0)
        parts += [f"{row.get('dur', 0.0):6.2f} s", f"elapsed {_seconds(elapsed)}", f"eta {_seconds(eta)}"]
        print("  ".join(parts), file=sys.stdout, flush=True)


def _seconds(value):
    return f"{value:.1f} s" if value < 60 else f"{int(value // 60)} min {int(value % 60):02d} s"
