"""``BlendshapeODEForceEstimator``: the physics branch as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._base import BiomechEstimatorMixin
from ._frames import align_labels, parse_labels
from ._persist import WeightsMixin

__all__ = ["BlendshapeODEForceEstimator"]


def force_feature_names(muscle_names, force_model):
    """``force_<muscle>``, or ``force_<muscle>_x/_y/_z`` for vector forces."""
    if force_model == "vector":
        return [f"force_{m}_{axis}" for m in muscle_names for axis in "xyz"]
    return [f"force_{m}" for m in muscle_names]


def _store(estimator, params, kwargs):
    """``__init__``'s only job: keep the parameters (checked in ``fit``)."""
    for name, value in params.items():
        setattr(estimator, name, value)
    vars(estimator).update(kwargs)


class BlendshapeODEForceEstimator(WeightsMixin, BiomechEstimatorMixin, TransformerMixin, BaseEstimator):
    """Estimate muscle forces from blendshape coefficients through the facial ODE.

    An encoder maps each frame (with ``window`` neighbours on each side) to a
    latent code; a regressor turns it into muscle forces; the weightless
    decoder rolls the reduced dynamics over windows of ``horizon`` frames
    from the observed first frame, and the reconstruction loss ties the
    forces to the observed motion (the paper's physics branch). With labels
    and ``lambda_au > 0`` an internal AU head adds the AU loss.

    Parameters
    ----------
    face : "default", FaceModel or None, default="default"
        The face model whose blendshapes name the coefficient columns.
        ``None`` treats every input column as a unit-mass oscillator driven
        by its own force (for plain arrays with no face behind them).
    encoder : {"mlp", "meshconv"}, default="mlp"
        MLP on the coefficients, or mesh convolution on the mesh rebuilt
        from them.
    window : int, default=0
        Neighbouring frames on each side the encoder sees.
    force_model : {"activation", "vector"}, default="activation"
        One scalar >= 0 per muscle along its line of action, or the paper's
        3-vector per muscle.
    dynamics : {"elastic", "quasistatic", "paper"}, default="elastic"
    mass : {"fixed", "region"}, default="fixed"
        The face's masses, or positive per-region mass scales regressed per window.
    horizon : int, default=16
        Frames per training window. At least one training sequence (without
        gaps or failed frames) must be this long; shorter ones train as one
        padded window whose padding the losses ignore.
    max_gap : int, default=0
        Gaps of up to ``max_gap`` frames inside a sequence (frame numbers
        missing from the table, or failed frames) are filled by linear
        interpolation of the coefficients, so the sequence runs on across
        them and interpolated failed frames get outputs (their labels are
        not used). Longer gaps, and failed frames at the start or end of a
        sequence, split the sequence: each part is rolled as a sequence of
        its own. See :ref:`failed-frames`.
    fps : float, default=25.0
        Frame rate of the data.
    lambda_3d, lambda_au, lambda_clean, lambda_smooth : float, default=(1.0, 1.0, 1e-3, 1e-3)
        Loss weights (Eq. 17); ``lambda_au`` only acts when ``y`` is given.
    hidden_size, latent_size : int, default=(128, 64)
    max_epochs : int, default=100
    lr : float, default=1e-3
    batch_size : int, default=32
        Windows per batch.
    optimizer : torch optimizer class, default=torch.optim.Adam
    callbacks : list of skorch callbacks, default=None
    validation_fraction : float, default=None
        Hold out this fraction of subjects (or sequences) for validation.
    early_stopping : int, default=None
        Patience in epochs on the validation loss (needs ``validation_fraction``).
    lr_schedule : {"cosine", "plateau"}, default=None
    checkpoint_dir : str or Path, default=None
        Each fit checkpoints into its own new subfolder (``checkpoint_dir_``):
        the best epoch's weights and, after every epoch, all it needs to
        continue (written atomically: a killed fit loses at most one epoch).
    warm_start : bool, default=False
        When fitted already, ``fit`` trains the fitted network for
        ``max_epochs`` more epochs (the history goes on; the optimizer starts
        anew, as in scikit-learn) instead of a new network. The columns, the
        AUs, ``inputs`` and the network parameters must stay the same.
    resume : bool, default=False
        When ``checkpoint_dir`` holds an unfinished fit (killed, or stopped
        with Ctrl-C) with the same parameters and the same data, ``fit``
        continues it after its last completed epoch, restoring the weights,
        optimizer, LR schedule, early stopping, history and random state, and
        trains the remaining epochs; otherwise it starts over (see Examples).
    device : str, default="auto"
        "auto" (cuda when available), "cpu" or "cuda".
    random_state : int, RandomState or None, default=None
        Seeds initialization and shuffling: CPU fits are reproducible.
    verbose : int, default=0
        1 prints one plain line per epoch: epoch/total, train (and
        validation) loss with ``*`` at the best so far, duration, elapsed
        time and an estimate of the time left.
    **kwargs
        ``module__*``, ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``callbacks__*``: passed to skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
    face_ : FaceModel or None
    reduced_ : ReducedModel
    coefficient_names_ : list of str
    history_ : skorch History
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string columns.

    Examples
    --------
    >>> from skbiomech.datasets import make_synthetic_au_dataset
    >>> from skbiomech.estimators import BlendshapeODEForceEstimator
    >>> from skbiomech.face import default_face_model
    >>> face = default_face_model(resolution=21)
    >>> data = make_synthetic_au_dataset(n_subjects=2, n_sequences=1, sequence_length=32, face=face, random_state=0)
    >>> forces = BlendshapeODEForceEstimator(face, max_epochs=2, random_state=0).fit(data.frames)
    >>> forces.transform(data.frames).shape
    (64, 74)
    >>> forces.get_feature_names_out()[:2].tolist()
    ['force_frontalis_medialis_L', 'force_frontalis_medialis_R']

    Training goes on where it stopped. ``warm_start`` trains the fitted
    network further; with ``checkpoint_dir`` and ``resume=True``, running the
    same script again after a crash or ``kill`` trains only the epochs the
    killed fit had left (a finished fit, as here, is not resumed):

    >>> import tempfile
    >>> more = BlendshapeODEForceEstimator(face, max_epochs=2, warm_start=True, random_state=0)
    >>> len(more.fit(data.frames).fit(data.frames).history_)
    4
    >>> folder = tempfile.mkdtemp()
    >>> model = BlendshapeODEForceEstimator(face, max_epochs=2, checkpoint_dir=folder, resume=True, random_state=0)
    >>> len(model.fit(data.frames).history_)
    2
    """

    _parameter_constraints = dict(BiomechEstimatorMixin._common_constraints)

    def __init__(
        self,
        face="default",
        *,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the physics branch on a frame table (and AU labels, optionally).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)
            Frame table; failed frames (``success == False`` or every
            coefficient NaN) are skipped, and split their sequence.
        y : DataFrame or array-like of shape (n_frames, n_aus), default=None
            1/0/NaN; used through an internal AU head when ``lambda_au > 0``.
            When both X and y carry a pandas index, y is matched to X's
            rows by index (a mismatch is an error); otherwise by position.

        Returns
        -------
        self
        """
        data = self._check_input(X, reset=True)
        labels, n_aus = None, 0
        if y is not None and self.lambda_au > 0:
            labels, self.aus_ = parse_labels(align_labels(X, y), data.n_rows)
            labels = data.labels_for(labels)
            n_aus = labels.shape[1]
        return self._fit_network(data, labels, n_aus, ("force", "position"))

    def transform(self, X):
        """Per-frame muscle forces and reconstructed blendshape coefficients.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_frames, n_blendshapes)
            Frame table with the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_frames, n_forces + n_blendshapes)
            Columns named by :meth:`get_feature_names_out`
            (``set_output(transform="pandas")`` gives a DataFrame). Rows of
            failed frames are NaN, unless ``max_gap`` filled them; every
            other row is what it would be with each part of a split
            sequence given alone.
        """
        return self._table_outputs(X, ["forces", "positions"])

    def get_feature_names_out(self, input_features=None):
        """``force_<muscle>`` (``_x/_y/_z`` for vector forces) then ``position_<blendshape>``."""
        check_is_fitted(self, "net_")
        forces = force_feature_names(self.reduced_.muscle_names, self.force_model)
        return np.asarray(forces + [f"position_{c}" for c in self.coefficient_names_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags
