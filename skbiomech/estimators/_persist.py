"""Weights-only persistence: save and load a fitted estimator without pickled code.

``joblib.dump`` stores the whole estimator but loading it runs arbitrary
code from the file. ``save_weights`` writes only tensors and plain values
(``torch.save``), and ``load_weights`` reads them back with
``torch.load(weights_only=True)``, which refuses anything else.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch

from .._device import resolve_device
from .._io import atomic_write
from ..physics import unit_reduced_model

__all__ = ["WeightsMixin", "read_torch_file"]

_FORMAT = 1
_PLAIN = (bool, int, float, str, type(None))
_FITTED = ("coefficient_names_", "module_config_", "n_features_in_", "aus_", "thresholds_", "n_image_features_")


def _plain(value):
    """``value`` as plain Python (lists, numbers, strings), or raise TypeError."""
    if isinstance(value, np.generic):  # before _PLAIN: np.float64 subclasses float
        return value.item()
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _checksum(state_dict):
    """SHA-256 (hex) over a state dict's names, shapes, dtypes and bytes."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _face_summary(face):
    return {
        "fingerprint": face.fingerprint,
        "name": face.name,
        "n_vertices": int(face.n_vertices),
        "n_blendshapes": int(face.n_blendshapes),
        "n_muscles": int(face.n_muscles),
    }


def _describe(summary):
    return (
        f"{summary['name']!r} ({summary['n_vertices']} vertices, {summary['n_blendshapes']} blendshapes, "
        f"{summary['n_muscles']} muscles, fingerprint {summary['fingerprint'][:12]})"
    )


def _same_physics(trained_on, face, stored, built, rtol=1e-5):
    """Whether ``face`` is the trained-on face up to floating-point noise.

    Fingerprints hash the exact bytes, but a face derived by computation (the
    ICT-FaceKit calibration's least squares) differs in the last bits
    between machines and BLAS builds. The network's decoder holds the
    reduced physics (mass, stiffness, damping, force operator) the face
    gives: the one stored with the weights and the one ``face`` gives now
    must agree to ``rtol`` of each matrix's largest entry.
    """
    summary = _face_summary(face)
    if any(summary[key] != trained_on[key] for key in ("n_vertices", "n_blendshapes", "n_muscles")):
        return False
    physics = [key for key in stored if key.startswith("decoder.")]
    if not physics:
        return False
    for key in physics:
        a, b = stored[key].double(), built.get(key)
        if b is None or a.shape != b.shape:
            return False
        if float((a - b.double().cpu()).abs().max()) > rtol * max(float(a.abs().max()), 1e-12):
            return False
    return True


def read_torch_file(path, kind, writer):
    """``torch.load(path, weights_only=True)`` with errors that name the file and the problem.

    torch's own messages are replaced: for pickled objects they advise
    ``weights_only=False``, which would run code from the file.

    Parameters
    ----------
    path : str or path-like
    kind : str
        What the file should be, for messages ("weights file").
    writer : str
        What writes such files, for messages ("save_weights").
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a skbiomech {kind}.")
    if not path.is_file():
        raise FileNotFoundError(f"No skbiomech {kind} at {path}.")
    try:
        with warnings.catch_warnings():
            # torch warns about the protocol of bare pickles before refusing them.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, OSError, EOFError, KeyError, UnpicklingError ...
        with open(path, "rb") as handle:
            head = handle.read(4)
        weights_only_refusal = "weights only" in str(exc).lower()
        if head == b"PK\x03\x04" and weights_only_refusal:  # torch files are zip archives
            problem = (
                "it holds pickled Python objects besides tensors and plain values; skbiomech never "
                f"runs code from a {kind}, and {writer} never writes such objects"
            )
        elif head == b"PK\x03\x04":
            problem = (
                f"it is truncated or damaged ({type(exc).__name__}); an interrupted copy or download? "
                f"Copy it again or write it again with {writer}"
            )
        elif head[:1] == b"\x80":
            problem = f"it is a bare Python pickle, not a file written by {writer}; skbiomech never runs code from one"
        else:
            problem = f"it is not a file written by {writer} (torch cannot read it: {type(exc).__name__})"
        raise ValueError(f"{path} is not a readable skbiomech {kind}: {problem}.") from None


class WeightsMixin:
    """``save_weights`` / ``load_weights`` for the physics estimators."""

    def save_weights(self, path):
        """Save the fitted weights and configuration to ``path`` (no pickled code).

        Parameters that are objects (a custom face, callbacks, the optimizer
        class) are not stored: pass the face again to :meth:`load_weights`;
        the optimizer is stored by name when it is one of ``torch.optim``.

        Examples
        --------
        >>> import tempfile, os
        >>> from skbiomech.estimators import BlendshapeODEForceEstimator
        >>> from skbiomech.datasets import make_synthetic_au_dataset
        >>> from skbiomech.face import default_face_model
        >>> face = default_face_model(resolution=21)
        >>> data = make_synthetic_au_dataset(n_subjects=1, n_sequences=1, sequence_length=20, face=face, random_state=0)
        >>> model = BlendshapeODEForceEstimator(face, max_epochs=1, random_state=0).fit(data.frames)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     model.save_weights(os.path.join(folder, "forces.pt"))
        ...     again = BlendshapeODEForceEstimator.load_weights(os.path.join(folder, "forces.pt"), face=face)
        >>> bool((again.transform(data.frames) == model.transform(data.frames)).all())
        True
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "net_")
        params = {}
        for key, value in self.get_params(deep=False).items():
            if key == "face":
                continue
            if key == "optimizer":
                value = value.__name__ if getattr(torch.optim, value.__name__, None) is value else None
            try:
                params[key] = _plain(value)
            except TypeError:
                continue  # objects (callbacks): not stored, defaults on load
        fitted = {key: _plain(getattr(self, key)) for key in _FITTED if hasattr(self, key)}
        if hasattr(self, "classes_"):
            fitted["classes_"] = _plain(self.classes_)
            fitted["_binary"] = bool(self._binary)
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = _plain(self.feature_names_in_)
        payload = {
            "format": _FORMAT,
            "estimator": type(self).__name__,
            "face_free": self.face_ is None,
            "face": None if self.face_ is None else _face_summary(self.face_),
            "params": params,
            "fitted": fitted,
            "state_dict": {k: v.detach().cpu() for k, v in self.net_.module_.state_dict().items()},
        }
        payload["checksum"] = _checksum(payload["state_dict"])
        with atomic_write(path) as handle:
            torch.save(payload, handle)

    @classmethod
    def load_weights(cls, path, *, face="default", device="cpu"):
        """Rebuild a fitted estimator from :meth:`save_weights` output.

        Parameters
        ----------
        path : str or path-like
        face : "default" or FaceModel, default="default"
            The face model it was trained with (ignored for face-free models).
            The file stores that face's :attr:`~skbiomech.face.FaceModel.fingerprint`:
            another face is refused.
        device : str, default="cpu"

        Returns
        -------
        estimator : fitted estimator of this class

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ValueError
            The file is truncated or damaged, is not a weights file, holds
            another estimator, or was trained on another face model; the
            message names the file and the problem.
        """
        payload = read_torch_file(path, "weights file", "save_weights")
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a skbiomech weights file (format {_FORMAT}).")
        if "checksum" in payload and _checksum(payload["state_dict"]) != payload["checksum"]:
            # torch does not check the bytes of tensor data: a damaged file loads silently.
            raise ValueError(
                f"{path} is damaged: its weights do not match the checksum written with them (an "
                "interrupted or corrupted copy?). Copy it again or write it again with save_weights."
            )
        if payload["estimator"] != cls.__name__:
            raise ValueError(f"{path} holds a {payload['estimator']}, not a {cls.__name__}.")
        params = dict(payload["params"], device=device)
        if isinstance(params.get("optimizer"), str):
            params["optimizer"] = getattr(torch.optim, params["optimizer"])
        else:
            params.pop("optimizer", None)
        for key in ("inputs",):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        estimator = cls(face=None if payload["face_free"] else face, **params)
        fitted = payload["fitted"]
        for key, value in fitted.items():
            setattr(estimator, key, np.asarray(value) if key in ("classes_", "thresholds_", "feature_names_in_") else value)
        estimator.face_, estimator.reduced_ = estimator._face_and_reduced()
        if estimator.face_ is None:
            estimator.reduced_ = unit_reduced_model(estimator.coefficient_names_)
        elif list(estimator.face_.blendshape_names) != list(estimator.coefficient_names_):
            raise ValueError(
                f"{path} was trained on a face with {len(estimator.coefficient_names_)} blendshapes "
                f"({estimator.coefficient_names_[:3]}...); pass that face model as face=."
            )
        trained_on = payload.get("face")  # absent from files written before fingerprints
        other_print = estimator.face_ is not None and trained_on and trained_on["fingerprint"] != estimator.face_.fingerprint
        estimator.device_ = resolve_device(device)
        estimator._seed = 0
        net = estimator._build_net({})
        net.initialize()
        if other_print and not _same_physics(trained_on, estimator.face_, payload["state_dict"], net.module_.state_dict()):
            raise ValueError(
                f"{path} was trained on another face model than the one given: it was trained on "
                f"{_describe(trained_on)}, and face= is {_describe(_face_summary(estimator.face_))}. "
                "Weights only make sense on their own face (same mesh, blendshapes and muscles): "
                "pass that face model as face=."
            )
        try:
            net.module_.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{path} does not fit this estimator's network: {exc}") from None
        estimator.net_, estimator.history_, estimator.checkpoint_dir_ = net, net.history, None
        from ._training import fit_signature  # _training imports this module

        estimator._fit_signature_ = fit_signature(estimator, estimator.module_config_)  # warm_start can go on
        return estimator
