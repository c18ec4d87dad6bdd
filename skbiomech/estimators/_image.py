"""Frozen torchvision backbone features of face images: the paper's 2D branch.

Cui et al. concatenate the pooled features of an ImageNet ResNet50 (2048-d,
frozen) to the physics branch's output. Features are a pure function of the
image and the backbone, so they are cached on disk by content: the folds of a
cross-validation and the candidates of a grid search clone and refit this
transformer, yet each image goes through the network once.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data
from torchvision.models import WeightsEnum
from tqdm.auto import tqdm

from .._device import resolve_device
from .._io import atomic_write
from ._backbones import build_backbone, check_backbone
from ._frames import _plain, _success

__all__ = ["ImageFeatureTransformer", "default_cache_dir"]

_CACHE_FORMAT = 1  # bump when preprocessing changes, so old entries are never read


def default_cache_dir():
    """``$SKBIOMECH_CACHE/image_features``, else ``~/.cache/skbiomech/image_features``."""
    root = os.environ.get("SKBIOMECH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "skbiomech"
    return Path(root).expanduser() / "image_features"


def _image_cell(value, row):
    """A cell of the image column as an HxWxC uint8 array, or a path (unread)."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    if type(value).__module__.startswith("PIL."):
        return np.asarray(value.convert("RGB"))
    if not isinstance(value, np.ndarray):
        raise TypeError(f"image at row {row!r} must be a path or an HxWx3 uint8 array; got {type(value).__name__}.")
    if value.dtype != np.uint8 or not (value.ndim == 2 or (value.ndim == 3 and value.shape[2] in (1, 3, 4))):
        raise ValueError(
            f"image at row {row!r} must be an HxWx3 (or HxW, HxWx1, HxWx4) uint8 array; got shape "
            f"{value.shape} and dtype {value.dtype}. Convert floats in [0, 1] with "
            "(image * 255).round().astype(np.uint8)."
        )
    return value


def _image_key(cell, row):
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(cell, Path):
        digest.update(_read_bytes(cell, row))
    else:
        digest.update(f"{cell.shape}{cell.dtype}".encode())
        digest.update(np.ascontiguousarray(cell).data)
    return digest.hexdigest()


def _read_bytes(path, row):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {str(path)!r} (row {row!r}) does not exist.") from None


def _decode(cell, row):
    """RGB uint8 array (H, W, 3)."""
    if isinstance(cell, Path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(_read_bytes(cell, row))) as image:
                return np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValueError(f"image file {str(cell)!r} (row {row!r}) is not a readable image: {exc}") from None
    if cell.ndim == 2:
        cell = cell[:, :, None]
    return np.repeat(cell, 3, axis=2) if cell.shape[2] == 1 else cell[:, :, :3]  # RGBA: drop alpha, as PIL does


class _FeatureCache:
    """One ``.npy`` per image under ``folder/<key[:2]>/``; misses and damage read as None."""

    def __init__(self, folder, spec, width):
        self.folder, self.spec, self.width, self.writable, self.described = folder, spec, width, True, False

    def get(self, key):
        try:
            value = np.load(self.folder / key[:2] / f"{key}.npy", allow_pickle=False)
        except Exception:  # absent, truncated or garbage: recompute and overwrite
            return None
        ok = value.shape == (self.width,) and value.dtype == np.float32 and np.isfinite(value).all()
        return value if ok else None

    def put(self, key, value):
        if not self.writable:
            return
        try:
            (self.folder / key[:2]).mkdir(parents=True, exist_ok=True)
            if not self.described:  # spec.json says what the folder's features are
                with atomic_write(self.folder / "spec.json", "w") as handle:
                    json.dump(self.spec, handle)
                self.described = True
            with atomic_write(self.folder / key[:2] / f"{key}.npy") as handle:
                np.save(handle, value)
        except OSError as exc:  # read-only or full disk: features are still good
            warnings.warn(f"Image feature cache not written ({exc}); features are still returned.", stacklevel=4)
            self.writable = False


class ImageFeatureTransformer(TransformerMixin, BaseEstimator):
    """Frozen torchvision backbone features of face crops, added to the frame table.

    Parameters
    ----------
    backbone : str, default="resnet50"
        Any torchvision classification model (``torchvision.models.list_models
        (module=torchvision.models)``). Its classifier is replaced by
        ``Identity``: features are the pooled penultimate activations (2048
        for resnet50, 512 for resnet18).
    weights : "DEFAULT", str, path-like, WeightsEnum or None, default="DEFAULT"
        ``"DEFAULT"`` or a weights name (``"IMAGENET1K_V1"``): torchvision's
        pretrained weights, from torch hub's cache or downloaded; a path to a
        local ``state_dict`` file (or a checkpoint holding one under ``"model"``
        or ``"state_dict"``); or ``None``: random initialization seeded by
        ``random_state`` (for tests and offline use).
    image_size : int, default=224
        Images are resized (bilinear, antialiased) to this square size.
    batch_size : int, default=32
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    cache_dir : str, path-like, None or False, default=None
        Folder of the feature cache; ``None`` is :func:`default_cache_dir`;
        ``False`` disables it. Nothing is ever written beside the images.
    feature_prefix : str, default="z2d_"
        Feature columns are named ``{feature_prefix}0`` ... ``{feature_prefix}{D-1}``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random weights of ``weights=None``; features of random
        weights are cached only for an int seed.
    verbose : int, default=0
        Above 0, a progress bar over batches.

    Attributes
    ----------
    backbone_ : torch.nn.Module
        The headless backbone, in eval mode, on ``device_``.
    device_ : str
    n_features_out_ : int
        Width D of the features.
    feature_names_out_ : ndarray of str
        Names of the D feature columns (``get_feature_names_out`` adds the
        passed-through columns before them).
    mean_, std_ : tuple of float
        Per-channel normalization of the weights' preset (ImageNet's).
    weights_id_ : str or None
        What keys the cache: the torchvision weights name, the random seed or
        the local file's content hash; ``None`` when features are not cached.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    Input is a frame table (DESIGN §3): a DataFrame with an ``image`` column
    of paths or HxWx3 uint8 arrays (HxW grayscale and HxWx4 RGBA are
    converted). ``transform`` returns a DataFrame with every other column of
    X unchanged, in X's index, followed by the float32 features, whatever the
    ``set_output`` configuration: passed-through metadata columns are not
    numbers, so there is no useful ndarray output.

    A row whose image is missing (None or NaN) gets NaN features, as
    scikit-learn's scalers keep NaN: the video front end gives failed frames
    (``success=False``) no crop, and the physics estimators give those frames
    NaN outputs whatever their features. ``fit`` reads no image, so such rows
    change nothing there. A row marked ``success=True`` without an image is an
    error, since a tracked frame always has its crop; without a ``success``
    column a missing image cannot be told apart from a lost one, so the
    physics estimators then refuse NaN features on any frame that has
    coefficients.

    Cache entries are one ``.npy`` per image, keyed by the image's content
    (the file's bytes, or the array's bytes, shape and dtype), the backbone,
    ``weights_id_`` and ``image_size``. A corrupt entry is recomputed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skbiomech.estimators import ImageFeatureTransformer
    >>> rng = np.random.default_rng(0)
    >>> frames = pd.DataFrame({"subject": ["S1", "S1"],
    ...                        "image": [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(2)]})
    >>> extractor = ImageFeatureTransformer("resnet18", weights=None, image_size=32,
    ...                                     cache_dir=False, random_state=0)
    >>> features = extractor.fit_transform(frames)
    >>> features.shape, list(features.columns[:3])
    ((2, 513), ['subject', 'z2d_0', 'z2d_1'])
    """

    _parameter_constraints = {
        "backbone": [str],
        "weights": [str, os.PathLike, WeightsEnum, None],
        "image_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "cache_dir": [str, os.PathLike, Options(bool, {False}), None],
        "feature_prefix": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="resnet50",
        *,
        weights="DEFAULT",
        image_size=224,
        batch_size=32,
        device="auto",
        cache_dir=None,
        feature_prefix="z2d_",
        random_state=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.batch_size = batch_size
        self.device = device
        self.cache_dir = cache_dir
        self.feature_prefix = feature_prefix
        self.random_state = random_state
        self.verbose = verbose

    def _check_frames(self, X, reset):
        if not isinstance(X, pd.DataFrame) or "image" not in X.columns:
            raise ValueError(
                "X must be a frame table: a pandas DataFrame with an 'image' column of paths or HxWx3 "
                f"uint8 arrays; got {type(X).__name__}"
                + (f" with columns {list(X.columns)[:8]}" if isinstance(X, pd.DataFrame) else "")
                + ". Wrap a list of images with pd.DataFrame({'image': images})."
            )
        prefix = self.feature_prefix
        clash = [c for c in X.columns if str(c).startswith(prefix) and str(c)[len(prefix) :].isdigit()]
        if clash:
            raise ValueError(f"X already has feature columns {clash[:3]}...; drop them or choose another feature_prefix.")
        validate_data(self, X, reset=reset, skip_check_array=True)
        missing = X["image"].isna().to_numpy()
        if missing.any() and "success" in X.columns:
            # The tracker writes a crop for every frame it tracks: a tracked frame without
            # one is a bug upstream, not a failed frame, and NaN features would hide it.
            lost = missing & _success(X)
            if lost.any():
                raise ValueError(
                    f"{int(lost.sum())} tracked frame(s) (success=True) have no image (first rows "
                    f"{[_plain(v) for v in X.index[lost][:5]]}): only failed frames (success=False) may "
                    "lack one. Give those frames their face crops, or drop them (X[X['image'].notna()])."
                )
        return missing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the frame table's columns and load the backbone; no image is read.

        Parameters
        ----------
        X : DataFrame of shape (n_frames, n_columns)
            Frame table with an ``image`` column; rows without an image
            (failed frames) are allowed.
        y : ignored

        Returns
        -------
        self : ImageFeatureTransformer
        """
        check_backbone(self.backbone)
        self.device_ = resolve_device(self.device)
        self._check_frames(X, reset=True)
        built = build_backbone(self.backbone, self.weights, self.random_state, progress=self.verbose > 0)
        model, width, self.weights_id_, mean, std = built
        self.backbone_ = model.eval().requires_grad_(False).to(self.device_)
        self.mean_, self.std_ = tuple(mean), tuple(std)
        self.n_features_out_ = width
        self.feature_names_out_ = np.array([f"{self.feature_prefix}{i}" for i in range(width)], dtype=object)
        return self

    def _cache(self):
        if self.cache_dir is False or self.weights_id_ is None:
            return None
        root = default_cache_dir() if self.cache_dir is None else Path(self.cache_dir).expanduser()
        spec = dict(format=_CACHE_FORMAT, backbone=self.backbone, weights=self.weights_id_, image_size=self.image_size)
        digest = hashlib.blake2b(json.dumps(spec, sort_keys=True).encode(), digest_size=8).hexdigest()
        return _FeatureCache(root / digest, spec, self.n_features_out_)

    def _forward(self, images):
        device, size = self.device_, self.image_size
        if len({image.shape for image in images}) == 1:  # the usual case: aligned crops of one size
            groups = [np.stack(images)]
        else:
            groups = [image[None] for image in images]
        batch = []
        for group in groups:
            x = torch.from_numpy(np.require(group, requirements="CW")).to(device).permute(0, 3, 1, 2).float().div_(255)
            if x.shape[-2:] != (size, size):
                x = torch.nn.functional.interpolate(x, (size, size), mode="bilinear", antialias=True, align_corners=False)
            batch.append(x)
        mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in (self.mean_, self.std_))
        batch = (torch.cat(batch) - mean) / std
        try:
            with torch.inference_mode():
                out = self.backbone_(batch)
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as exc:
            raise ValueError(
                f"backbone={self.backbone!r} failed on {size}x{size} images ({exc}); some backbones need "
                "image_size=224 (vit_*, swin_*, maxvit_t) or at least 32."
            ) from exc
        return out.reshape(len(images), -1).float().cpu().numpy()

    def transform(self, X):
        """Add the image features to the frame table.

        Parameters
        ----------
        X : DataFrame of shape (n_frames, n_columns)
            Frame table with an ``image`` column, with the columns seen in ``fit``.

        Returns
        -------
        frames : DataFrame of shape (n_frames, n_columns - 1 + n_features_out_)
            X without ``image``, in X's index, followed by the float32
            features (NaN on rows without an image).
        """
        check_is_fitted(self)
        missing = self._check_frames(X, reset=False)
        rows = X.index.tolist()  # Python scalars, for messages
        cells = [None if missing[i] else _image_cell(value, rows[i]) for i, value in enumerate(X["image"])]
        features = np.full((len(X), self.n_features_out_), np.nan, dtype=np.float32)
        cache = self._cache()
        todo = {}  # image key (row position without a cache) -> positions of the rows showing it
        for i, cell in enumerate(cells):
            if cell is None:  # no image: the row keeps NaN features and never reaches the cache
                continue
            if cache is None:
                if isinstance(cell, Path) and not cell.is_file():
                    _read_bytes(cell, rows[i])  # fail now rather than after hours of features
                todo[i] = [i]
                continue
            key = _image_key(cell, rows[i])
            if key in todo:
                todo[key].append(i)
            elif (cached := cache.get(key)) is not None:
                features[i] = cached
            else:
                todo[key] = [i]
        keys = list(todo)
        batches = range(0, len(keys), self.batch_size)
        progress = dict(disable=self.verbose <= 0 or not keys, unit="batch", desc=f"{self.backbone} features")
        for start in tqdm(batches, **progress):
            chunk = keys[start : start + self.batch_size]
            out = self._forward([_decode(cells[todo[k][0]], rows[todo[k][0]]) for k in chunk])
            for key, value in zip(chunk, out):
                features[todo[key]] = value
                if cache is not None:
                    cache.put(key, value)
        table = X.drop(columns="image")
        return pd.concat([table, pd.DataFrame(features, index=X.index, columns=self.feature_names_out_)], axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: X's columns but ``image``, then the features.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Must equal ``feature_names_in_`` when given.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        return np.concatenate([[n for n in names if n != "image"], self.feature_names_out_]).astype(object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A frame table with an image column, not a numeric matrix: sklearn's own text and
        # dict vectorizers declare their non-numeric input the same way.
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []  # features are float32 whatever the input
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("backbone_")
        if module is not None and any(p.device.type != "cpu" for p in module.parameters()):
            state["backbone_"] = copy.deepcopy(module).cpu()  # so that a machine without a GPU can unpickle it
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "backbone_") and self.device_ != "cpu":
            try:
                self.backbone_.to(resolve_device(self.device_))
            except ValueError:
                warnings.warn(f"Fitted on {self.device_!r}, which is not available here; using the CPU.", stacklevel=2)
                self.device_ = "cpu"
