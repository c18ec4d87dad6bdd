"""Headless torchvision backbones and their weights: pretrained, random or a local file.

Everything here runs once per ``fit``: it resolves the device, builds the
model, loads its weights (with an actionable error when torchvision's
cannot be downloaded) and names them, so that the feature cache can key on
exactly the weights that produced a feature.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import numbers
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from sklearn.utils import check_random_state
from torchvision.models import WeightsEnum, get_model, get_model_weights, list_models

__all__ = ["build_backbone", "check_backbone"]

_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def check_backbone(name):
    """Raise a ValueError naming close valid names for an unknown backbone."""
    valid = list_models(module=torchvision.models)
    if name not in valid:
        close = difflib.get_close_matches(name, valid, n=3) or ["resnet50", "resnet18", "efficientnet_b0"]
        raise ValueError(
            f"backbone={name!r} is not a torchvision classification model; did you mean {close}? "
            f"{len(valid)} are available: torchvision.models.list_models(module=torchvision.models)."
        )


def _remove_head(model):
    """Replace the classifier by Identity; return its prefix and input width."""
    linear = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    # SqueezeNet classifies with a 1x1 convolution followed by pooling.
    convolutions = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    name, head = linear[-1] if linear else convolutions[-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], torch.nn.Identity())
    return name, head.in_features if isinstance(head, torch.nn.Linear) else head.in_channels


def _file_digest(path):
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_state_dict(model, path, head, backbone):
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # torchvision's reference checkpoints
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"weights={str(path)!r} is not a readable PyTorch state_dict file ({type(exc).__name__}: {exc}); "
            "save one with torch.save(model.state_dict(), path)."
        ) from None
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"weights={str(path)!r} does not hold a state_dict of tensors.")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    state = {k: v for k, v in state.items() if not k.startswith(head + ".")}  # any head fits: it is dropped
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"weights={str(path)!r} is not a state_dict of backbone={backbone!r}: {str(exc)[:600]}"
        ) from None


def _torchvision_weights(backbone, weights, progress):
    """The pretrained model; a clear error when it is neither cached nor downloadable."""
    filename = os.path.basename(urlparse(weights.url).path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    try:
        return get_model(backbone, weights=weights, progress=progress)
    except Exception as exc:
        if cached.is_file():
            raise ValueError(
                f"The cached weights {cached} could not be loaded ({type(exc).__name__}: {exc}); "
                "delete the file to download it again."
            ) from exc
        raise OSError(
            f"Could not download the {weights} weights of backbone={backbone!r} "
            f"({type(exc).__name__}: {exc}). Without internet access, supply them in one of three ways: "
            f"copy {filename} (from {weights.url}) into torch hub's checkpoint folder, as {cached}; "
            f"or pass weights='/path/to/{filename}' (a local state_dict file); "
            "or pass weights=None for randomly initialized (untrained) features, for tests."
        ) from exc


def build_backbone(backbone, weights, random_state, progress):
    """(model without head, feature width, weights identity or None, mean, std)."""
    enum = get_model_weights(backbone)
    if isinstance(weights, str) and weights.removeprefix(enum.__name__ + ".") in enum.__members__:  # DEFAULT too
        weights = enum[weights.removeprefix(enum.__name__ + ".")]
    if isinstance(weights, WeightsEnum) and not isinstance(weights, enum):
        raise ValueError(f"weights={weights} belongs to another model than backbone={backbone!r}; use {list(enum)}.")
    preset = weights if isinstance(weights, WeightsEnum) else enum.DEFAULT
    preset = preset.transforms()
    mean, std = getattr(preset, "mean", _IMAGENET_MEAN), getattr(preset, "std", _IMAGENET_STD)
    if isinstance(weights, WeightsEnum):
        model = _torchvision_weights(backbone, weights, progress)
        head, width = _remove_head(model)
        return model, width, f"torchvision:{weights}", mean, std
    if weights is None:
        seed = random_state if isinstance(random_state, numbers.Integral) else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_random_state(random_state).randint(2**31 - 1) if seed is None else seed)
            model = get_model(backbone, weights=None)
        head, width = _remove_head(model)
        # Only an int seed names the same weights in every process, so only it may key the cache.
        return model, width, None if seed is None else f"random-init:seed={seed}", mean, std
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ValueError(
            f"weights={str(weights)!r} is neither 'DEFAULT', a weights name of {backbone!r} "
            f"({list(enum.__members__)}), None, nor an existing file."
        )
    model = get_model(backbone, weights=None)
    head, width = _remove_head(model)
    _load_state_dict(model, path, head, backbone)
    return model, width, f"file:{_file_digest(path)}", mean, std
