"""``BiomechAUClassifier``: the paper's full model as a multilabel scikit-learn classifier."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, check_is_fitted

from ..face import au_name
from ..nn._network import HEAD_INPUTS
from ._base import BiomechEstimatorMixin
from ._force import _store, force_feature_names
from ._frames import align_labels, parse_labels
from ._persist import WeightsMixin

__all__ = ["BiomechAUClassifier"]

_THRESHOLD_GRID = np.linspace(0.05, 0.95, 19)


def _tune_thresholds(probabilities, labels):
    """Per-AU threshold maximizing F1 on the known training labels."""
    thresholds = np.full(labels.shape[1], 0.5)
    for j in range(labels.shape[1]):
        known = ~np.isnan(labels[:, j])
        truth = labels[known, j] == 1
        if not truth.any():
            continue
        predicted = probabilities[known, j][:, None] >= _THRESHOLD_GRID
        tp = (predicted & truth[:, None]).sum(0)
        f1 = 2 * tp / np.maximum(predicted.sum(0) + truth.sum(), 1)
        thresholds[j] = _THRESHOLD_GRID[np.argmax(f1)]
    return thresholds


class BiomechAUClassifier(WeightsMixin, BiomechEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Detect action units from muscle forces, positions and image features.

    The physics branch of :class:`BlendshapeODEForceEstimator` plus an AU
    head ``H`` on ``[F || c || z2d]``, trained jointly with Eq. 17. Each
    branch reaches the head standardized: ``c`` by the training
    coefficients' statistics, ``F`` by batch normalization (forces are
    learned, so their scale moves during training), ``z2d`` by its
    training statistics and principal axes (``image_components``). Labels are
    1/0/NaN per AU: NaN masks the AU loss while the physics losses use every
    frame (the paper's partial-label setting, Table 4).

    Parameters
    ----------
    face : "default", FaceModel or None, default="default"
    inputs : tuple of {"geometry", "force", "position", "image"}, default=("force", "position")
        What the AU head sees, so that each row of the paper's Table 1 is a
        setting: ``("geometry",)`` (encoder latent only), ``("force",)``,
        ``("position",)``, ``("force", "position")`` (physics),
        ``("image",)``, ``("force", "position", "image")``. ``"image"``
        needs ``z2d_*`` columns (an :class:`ImageFeatureTransformer` first).
    threshold : float, "tune" or array-like, default=0.5
        Decision threshold on each AU's probability; "tune" picks, per AU,
        the one maximizing F1 on the training data.
    head_hidden_size : int, default=64
        Width of the AU head's hidden layer.
    image_components : int or None, default=16
        The image features (``z2d_*``), standardized by their training
        statistics, are projected onto their top ``image_components``
        principal axes (computed on the training frames) before the AU head;
        None feeds all of them. Hundreds of frozen backbone features beside a
        few dozen physics features let the head memorize the training frames
        (on the demo's benchmark physics + image fell to 57.6 mean F1 from
        85.8 for physics alone); a few components keep what varies most.
    image_dropout : float, default=0.8
        Dropout on the (projected) image features during training.
    max_gap : int, default=0
        Gaps of up to ``max_gap`` missing or failed frames are filled by
        linear interpolation (those frames then get predictions); longer
        gaps split the sequence. As for :class:`BlendshapeODEForceEstimator`.
    **params
        Every parameter of :class:`BlendshapeODEForceEstimator` (encoder,
        dynamics, loss weights, training, device, ``module__*`` ...).

    Attributes
    ----------
    classes_ : ndarray
        ``arange(n_aus)`` for multilabel y (like MLPClassifier), or the two
        class labels for 1-D binary y.
    aus_ : list of str
        AU names (the label DataFrame's columns, or ``AU_0``, ...).
    thresholds_ : ndarray of shape (n_aus,)
    net_, face_, reduced_, history_, n_features_in_ : as for the force estimator.

    Examples
    --------
    >>> from skbiomech.datasets import make_synthetic_au_dataset
    >>> from skbiomech.estimators import BiomechAUClassifier
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=21)
    >>> data = make_synthetic_au_dataset(n_subjects=2, n_sequences=1, sequence_length=32, face=face, random_state=0)
    >>> clf = BiomechAUClassifier(face, max_epochs=2, random_state=0).fit(data.frames, data.labels)
    >>> clf.predict_proba(data.frames).shape, clf.predict(data.frames).shape
    ((64, 12), (64, 12))
    """

    _parameter_constraints = {
        **BiomechEstimatorMixin._common_constraints,
        "inputs": [tuple, list],
        "threshold": [Interval(numbers.Real, 0, 1, closed="neither"), StrOptions({"tune"}), "array-like"],
        "head_hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "image_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        face="default",
        *,
        inputs=("force", "position"),
        threshold=0.5,
        head_hidden_size=64,
        image_components=16,
        image_dropout=0.8,
        encoder="mlp",
        window=0,
        force_model="activation",
        dynamics="elastic",
        mass="fixed",
        horizon=16,
        max_gap=0,
        fps=25.0,
        lambda_3d=1.0,
        lambda_au=1.0,
        lambda_clean=1e-3,
        lambda_smooth=1e-3,
        hidden_size=128,
        latent_size=64,
        max_epochs=100,
        lr=1e-3,
        batch_size=32,
        optimizer=torch.optim.Adam,
        callbacks=None,
        validation_fraction=None,
        early_stopping=None,
        lr_schedule=None,
        checkpoint_dir=None,
        warm_start=False,
        resume=False,
        device="auto",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        params = dict(locals())
        params.pop("self"), params.pop("kwargs"), params.pop("__class__", None)
        _store(self, params, kwargs)

    def _head_config(self, n_aus):
        return dict(
            head_hidden_size=int(self.head_hidden_size),
            force_norm=True,
            image_components=None if self.image_components is None else int(self.image_components),
            image_dropout=float(self.image_dropout),
        )

    def _labels(self, y, n_frames):
        """Labels (n, A) as float32 with NaN; 1-D y without NaN is one binary target."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        name = "AU_0"
        if isinstance(y, pd.Series):
            # A named column of AU labels: NaN marks unknown frames.
            values, allow_nan = y.to_numpy(), True
            try:
                name = au_name(y.name)
            except ValueError:
                pass
        else:
            values, allow_nan = (None, False) if hasattr(y, "columns") else (np.asarray(y), False)
        if values is not None and values.ndim == 1:
            # A 1-D target is binary, as everywhere in scikit-learn; in a bare array
            # NaN is an error (use a Series or a 2-D array for unknown labels).
            known = ~pd.isna(values)
            if not allow_nan and values.dtype.kind == "f":
                _assert_all_finite(values, input_name="y")
            check_classification_targets(values[known])
            classes = np.unique(values[known])
            if len(classes) > 2:
                raise ValueError(
                    f"Only binary classification is supported. The type of the target is multiclass "
                    f"({len(classes)} classes); give AU labels as a 2-D array or DataFrame of 1 "
                    "(present), 0 (absent) or NaN (unknown), one column per AU."
                )
            if len(classes) < 2:
                raise ValueError(f"y has only one class ({classes.tolist()}); a classifier needs two.")
            if len(values) != n_frames:
                raise ValueError(f"y has {len(values)} rows but X has {n_frames} frames.")
            self._binary, self.classes_ = True, classes
            encoded = np.where(known, values == classes[1], np.nan).astype(np.float32)
            return encoded[:, None], [name]
        self._binary = False
        labels, names = parse_labels(y, n_frames)
        self.classes_ = np.arange(labels.shape[1])
        return labels, names

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on a frame table and AU labels (1/0/NaN).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)
            Frame table; failed frames (``success == False`` or every
            coefficient NaN) and their labels are skipped, and split their
            sequence.
        y : DataFrame or array-like of shape (n_frames, n_aus) or (n_frames,)
            When both X and y carry a pandas index, y is matched to X's
            rows by index (a mismatch is an error); otherwise by position.

        Returns
        -------
        self
        """
        unknown = set(self.inputs) - set(HEAD_INPUTS)
        if unknown or not self.inputs:
            raise ValueError(f"inputs must be a non-empty subset of {HEAD_INPUTS}; got {self.inputs!r}.")
        data = self._check_input(X, reset=True)
        labels, self.aus_ = self._labels(align_labels(X, y), data.n_rows)
        labels = data.labels_for(labels)
        self.n_image_features_ = 0
        if "image" in self.inputs:
            if data.features is None:
                raise ValueError(
                    "inputs include 'image' but X has no 'z2d_*' image-feature columns: put an "
                    "ImageFeatureTransformer before the classifier in the Pipeline."
                )
            self.n_image_features_ = data.features.shape[1]
        self._fit_network(data, labels, labels.shape[1], tuple(self.inputs))
        self.thresholds_ = self._thresholds(data, labels)
        return self

    def _thresholds(self, data, labels):
        n_aus = labels.shape[1]
        if isinstance(self.threshold, str):
            return _tune_thresholds(self._probabilities(data), labels)
        thresholds = np.broadcast_to(np.asarray(self.threshold, dtype=float), (n_aus,)).copy()
        if np.any((thresholds <= 0) | (thresholds >= 1)):
            raise ValueError(f"threshold values must lie in (0, 1); got {thresholds.tolist()}.")
        return thresholds

    def _probabilities(self, data):
        logits = self._working_outputs(data, "logits")
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def predict_proba(self, X):
        """Probability of each AU per frame.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)

        Returns
        -------
        ndarray of shape (n_frames, n_aus), or (n_frames, 2) for 1-D binary y
            NaN in the rows of failed frames (unless ``max_gap`` filled them).
        """
        logits = self._table_outputs(X, ["logits"])
        probabilities = np.exp(np.negative(logits, out=logits), out=logits)  # in place: no full-size copy
        probabilities += 1.0
        np.reciprocal(probabilities, out=probabilities)
        if self._binary:
            return np.column_stack([1 - probabilities[:, 0], probabilities[:, 0]])
        return probabilities

    def predict(self, X):
        """AU presence per frame.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)

        Returns
        -------
        ndarray of shape (n_frames, n_aus), or (n_frames,) for 1-D binary y
            0/1 ints (class labels for 1-D binary y). When some frames
            failed (see :meth:`predict_proba`), integers cannot say so: the
            array is then float, or object for non-numeric class labels,
            with NaN in the failed frames' rows.
        """
        check_is_fitted(self, "net_")
        probabilities = self.predict_proba(X)
        failed = np.isnan(probabilities).any(axis=1)
        if self._binary:
            predicted = self.classes_[(probabilities[:, 1] >= self.thresholds_[0]).astype(int)]
        else:
            predicted = (probabilities >= self.thresholds_).astype(int)
        if failed.any():
            predicted = predicted.astype(float if predicted.dtype.kind in "biuf" else object)
            predicted[failed] = np.nan
        return predicted

    def predict_forces(self, X):
        """Muscle forces per frame: the physics branch's ``F``, which the AU head reads.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)

        Returns
        -------
        forces : DataFrame of shape (n_frames, n_forces)
            Columns ``force_<muscle>`` (``_x/_y/_z`` for vector forces), X's
            index for a DataFrame; NaN in the rows of failed frames.

        Examples
        --------
        >>> from skbiomech.datasets import make_synthetic_au_dataset
        >>> from skbiomech.estimators import BiomechAUClassifier
        >>> from skbiomech.face import default_face_model
        >>> face = default_face_model(resolution=21)
        >>> data = make_synthetic_au_dataset(n_subjects=2, n_sequences=1, sequence_length=32, face=face, random_state=0)
        >>> clf = BiomechAUClassifier(face, max_epochs=1, random_state=0).fit(data.frames, data.labels)
        >>> clf.predict_forces(data.frames).columns[0]
        'force_frontalis_medialis_L'
        """
        check_is_fitted(self, "net_")
        forces = self._table_outputs(X, ["forces"])
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(forces, columns=force_feature_names(self.reduced_.muscle_names, self.force_model), index=index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags

