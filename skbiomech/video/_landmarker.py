"""MediaPipe's Face Landmarker, following one face through a video.

A thin wrapper over ``mediapipe.tasks.python.vision.FaceLandmarker`` (the
Tasks API): it checks the model bundle before MediaPipe sees it, validates
the images, makes VIDEO-mode timestamps strictly increasing, returns NumPy
arrays in a fixed layout, picks one face when several are found, and closes
the MediaPipe task explicitly.
"""

from __future__ import annotations

import threading
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._arkit import ARKIT_NAMES

__all__ = ["Landmarker", "Detection", "check_landmarker_file", "FACE_LANDMARKER_URL"]

FACE_LANDMARKER_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
_ENV = "SKBIOMECH_FACE_LANDMARKER"
_INSTALL = 'MediaPipe is needed to detect faces: pip install "skbiomech[video]"'
# Members of the official bundle (face_landmarker.task, float16/1). The
# geometry metadata holds the canonical mesh behind the transformation matrix.
_MODELS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")
_GEOMETRY = "geometry_pipeline_metadata"
_TFLITE_MAGIC = b"TFL3"  # FlatBuffer file identifier, bytes 4-8 of a .tflite
_MODES = ("video", "image")
_N_LANDMARKS = 478
# Following one face among several (max_faces > 1): a face whose centroid is
# more than one face size from the last pick's is someone else, unless the
# followed face has been missing for about a second at 30 frames/s.
_MAX_JUMP = 1.0
_REACQUIRE_FRAMES = 30


def _fix_hint():
    return (
        "Get MediaPipe's Face Landmarker model (face_landmarker.task, 3.9 MB, Apache-2.0) with "
        "skbiomech.video.fetch_face_landmarker(), or download "
        f"{FACE_LANDMARKER_URL} and pass its path (or set the environment variable {_ENV} to it)."
    )


def check_landmarker_file(path):
    """Check that ``path`` is MediaPipe's Face Landmarker model bundle.

    The bundle is a zip of TFLite models (face detector, landmarks detector,
    blendshapes) and the geometry metadata. Checking it here turns a wrong
    file into an error that names it, instead of MediaPipe's "Unable to
    open zip archive".

    Parameters
    ----------
    path : str or path-like
        A ``face_landmarker.task`` file.

    Returns
    -------
    path : Path

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message says where to get the file).
    ValueError
        If it is not a zip, is truncated, or is another MediaPipe bundle.

    Examples
    --------
    >>> check_landmarker_file("face_landmarker.task")  # doctest: +SKIP
    PosixPath('face_landmarker.task')
    """
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"{path} is a folder, not a face_landmarker.task file. {_fix_hint()}")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist. {_fix_hint()}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a MediaPipe model bundle (.task files are zip archives); "
            f"it may be a partial download or another kind of file. {_fix_hint()}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            lacking = [m for m in _MODELS if m not in names]
            if not any(n.startswith(_GEOMETRY) for n in names):
                lacking.append(f"{_GEOMETRY}*.binarypb")
            if lacking:
                raise ValueError(
                    f"{path} is a zip but not MediaPipe's Face Landmarker: it lacks {lacking} "
                    f"(it holds {sorted(names)}). {_fix_hint()}"
                )
            for member in _MODELS:
                with archive.open(member) as handle:
                    if handle.read(8)[4:8] != _TFLITE_MAGIC:
                        raise ValueError(f"{path}: its member {member} is not a TFLite model. {_fix_hint()}")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path} is a damaged zip archive ({exc}). {_fix_hint()}") from None
    return path


@dataclass(frozen=True)
class Detection:
    """The followed face in one frame.

    Attributes
    ----------
    landmarks : ndarray of shape (478, 3), float32
        MediaPipe's normalized landmarks: x and y as fractions of the image
        width and height (y down), z in image-width units relative to the
        face's centre, smaller toward the camera. 0-467 are the vertices of
        the canonical face mesh, 468-477 the irises.
    blendshapes : ndarray of shape (52,), float32
        Scores in [0, 1] in :data:`ARKIT_NAMES` order (``_neutral`` first).
    transform : ndarray of shape (4, 4), float64
        Facial transformation matrix: canonical mesh (cm) to MediaPipe's
        metric camera frame (cm; x right, y up, the camera looking down -z).
    n_faces : int
        How many faces MediaPipe found in the frame (the followed one among them).
    timestamp_ms : int
        The timestamp given to MediaPipe (VIDEO mode), else -1.
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    n_faces: int
    timestamp_ms: int


def _release(task):
    try:
        task.close()
    except Exception:  # noqa: BLE001 - MediaPipe's worker thread is gone at interpreter exit
        # Its own __del__ would retry and print a traceback; the process frees the handle.
        task._handle = None


_OPEN = weakref.WeakSet()  # Landmarkers not closed yet
_EXIT_HOOK = []


def _close_all():
    for landmarker in list(_OPEN):
        landmarker.close()


def _register_exit_hook():
    # MediaPipe calls its C library through a thread pool that Python shuts
    # down before atexit handlers run: close what is left just before that.
    if not _EXIT_HOOK:
        try:
            threading._register_atexit(_close_all)
        except (AttributeError, RuntimeError):  # private API; _release still keeps exit quiet
            pass
        _EXIT_HOOK.append(True)


def _import_mediapipe():
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as exc:
        raise ImportError(f"{_INSTALL} ({exc}).") from None
    return mediapipe, BaseOptions, vision


def _as_rgb(image):
    image = np.asarray(image)
    shape = image.shape
    if image.ndim == 2 or (image.ndim == 3 and shape[2] == 1):
        fix = "a grayscale image: stack it to RGB with np.repeat(image.reshape(h, w, 1), 3, axis=2)"
    elif image.ndim == 3 and shape[2] == 4:
        fix = "an RGBA image: drop the alpha channel with image[..., :3]"
    elif image.ndim != 3 or shape[2] != 3:
        fix = "not an image"
    else:
        fix = None
    if fix is not None:
        raise ValueError(f"image must be an (height, width, 3) RGB array; got shape {shape}, {fix}.")
    if image.dtype != np.uint8:
        hint = " For floats in [0, 1]: (image * 255).round().astype(np.uint8)." if image.dtype.kind == "f" else ""
        raise ValueError(f"image must be uint8 RGB (0-255); got dtype {image.dtype}.{hint}")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"image is empty: shape {shape}.")
    # MediaPipe reads the buffer as packed rows; a strided view would be garbled.
    return np.ascontiguousarray(image)


def _check_confidence(name, value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {value}.")
    return value


class Landmarker:
    """MediaPipe's Face Landmarker on RGB frames: one face, as NumPy arrays.

    Parameters
    ----------
    model_path : str or path-like
        MediaPipe's ``face_landmarker.task`` (see :func:`check_landmarker_file`).
    mode : {"video", "image"}, default="video"
        ``"video"``: consecutive frames of one video; MediaPipe tracks the
        face from frame to frame and needs timestamps. ``"image"``:
        independent photos, each detected from scratch. The two modes give
        slightly different landmarks and scores.
    max_faces : int, default=1
        Faces MediaPipe looks for. With one, MediaPipe keeps tracking the
        face it found first in VIDEO mode; asking for a few more keeps a
        bystander who comes closer from taking over the track (see Notes).
    min_detection_confidence, min_presence_confidence, min_tracking_confidence : float, default=0.5
        MediaPipe's thresholds for the face detector, the landmark model's
        face-presence score, and keeping a track without re-detecting.

    Notes
    -----
    **Timestamps.** VIDEO mode needs strictly increasing integer-millisecond
    timestamps, and MediaPipe raises otherwise. ``time_s`` is rounded to
    the millisecond; when it is ``None`` or NaN (a folder of images without
    a frame rate), or not later than the previous frame's millisecond (two
    frames within 1 ms, a variable-frame-rate glitch), the previous
    timestamp plus 1 ms is used instead. MediaPipe has no reset: use one
    Landmarker per video.

    **Which face.** MediaPipe gives faces no identity and no stable order.
    With ``max_faces=1`` the face is whichever MediaPipe tracks. With more,
    the first frame's pick is the largest face (area of its landmarks'
    bounding box in pixels); on each later frame, the face whose landmark
    centroid is nearest the previous pick's, measured in the previous face's
    size (square root of that area). If even that face is more than one
    face size away, it is someone else: the frame gets ``None`` rather than
    a switch of person, until the followed face comes back or has been
    missing for 30 frames (about a second), when the largest face is picked
    again. In IMAGE mode each photo is independent: the largest face.

    MediaPipe's short-range face detector misses faces. In
    ``multi_face.jpg`` (five people, 1000 x 667 pixels) it finds two of the
    five at the default confidences (up to four with both at 0.3), and none
    at all with ``max_faces=1``; in VIDEO mode the set it finds changes from frame to
    frame when the image moves by a few pixels. Ask for a few faces when
    several people may be in view.

    The task is closed by :meth:`close`, by leaving a ``with`` block, or at
    interpreter exit; closing is needed because MediaPipe's own finalizer
    fails once the interpreter shuts down.

    Examples
    --------
    >>> import av  # doctest: +SKIP
    >>> with Landmarker("face_landmarker.task") as landmarker:  # doctest: +SKIP
    ...     for frame in av.open("single_face.mp4").decode(video=0):
    ...         found = landmarker.detect(frame.to_ndarray(format="rgb24"), frame.time)
    >>> found.landmarks.shape, found.blendshapes.shape  # doctest: +SKIP
    ((478, 3), (52,))
    """

    def __init__(
        self,
        model_path,
        *,
        mode="video",
        max_faces=1,
        min_detection_confidence=0.5,
        min_presence_confidence=0.5,
        min_tracking_confidence=0.5,
    ):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}; got {mode!r}.")
        if isinstance(max_faces, bool) or not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
            raise ValueError(f"max_faces must be an integer >= 1; got {max_faces!r}.")
        confidences = {
            name: _check_confidence(name, value)
            for name, value in [
                ("min_detection_confidence", min_detection_confidence),
                ("min_presence_confidence", min_presence_confidence),
                ("min_tracking_confidence", min_tracking_confidence),
            ]
        }
        self.model_path = check_landmarker_file(model_path)
        self.mode = mode
        self.max_faces = int(max_faces)
        self._mediapipe, base_options, vision = _import_mediapipe()
        options = vision.FaceLandmarkerOptions(
            base_options=base_options(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_faces=self.max_faces,
            min_face_detection_confidence=confidences["min_detection_confidence"],
            min_face_presence_confidence=confidences["min_presence_confidence"],
            min_tracking_confidence=confidences["min_tracking_confidence"],
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._task = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"MediaPipe could not load {self.model_path}: {exc}. {_fix_hint()}") from None
        self._finalizer = weakref.finalize(self, _release, self._task)
        _OPEN.add(self)
        _register_exit_hook()
        self._last_ms = None
        self._previous = None  # (centroid in pixels, size in pixels) of the last pick
        self._missed = 0  # frames since the last pick
        self._order = None  # blendshape positions -> ARKIT_NAMES order

    @property
    def closed(self):
        """Whether :meth:`close` has run."""
        return not self._finalizer.alive

    def close(self):
        """Release MediaPipe's task (idempotent)."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def __repr__(self):
        state = ", closed" if self.closed else ""
        return f"Landmarker({str(self.model_path)!r}, mode={self.mode!r}, max_faces={self.max_faces}{state})"

    def _timestamp_ms(self, time_s):
        ms = None
        if time_s is not None:
            try:
                seconds = float(time_s)
            except (TypeError, ValueError):
                raise TypeError(f"time_s must be a number of seconds or None; got {time_s!r}.") from None
            if np.isfinite(seconds):
                ms = int(round(seconds * 1000.0))
        if self._last_ms is not None and (ms is None or ms <= self._last_ms):
            ms = self._last_ms + 1
        elif ms is None:
            ms = 0
        self._last_ms = ms
        return ms

    def detect(self, image, time_s=None):
        """Detect the followed face in one RGB frame.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3), uint8
            RGB (not OpenCV's BGR: MediaPipe accepts BGR silently and its
            scores shift).
        time_s : float or None, default=None
            The frame's time in seconds (VIDEO mode; ignored in IMAGE mode).
            ``None``, NaN or a time not after the previous frame's gets the
            previous timestamp plus 1 ms.

        Returns
        -------
        detection : Detection or None
            ``None`` when no face is found.

        Raises
        ------
        ValueError
            If ``image`` is not an (H, W, 3) uint8 array.
        RuntimeError
            If the Landmarker is closed.
        """
        if self.closed:
            raise RuntimeError(f"{self!r} is closed; create a new Landmarker.")
        rgb = _as_rgb(image)
        frame = self._mediapipe.Image(image_format=self._mediapipe.ImageFormat.SRGB, data=rgb)
        if self.mode == "video":
            ms = self._timestamp_ms(time_s)
            result = self._task.detect_for_video(frame, ms)
        else:
            ms = -1
            result = self._task.detect(frame)
        faces = result.face_landmarks
        if not faces:
            self._missed += 1
            return None
        height, width = rgb.shape[:2]
        landmarks = [np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32) for face in faces]
        pick = self._pick(landmarks, width, height)
        if pick is None:
            return None
        if len(landmarks[pick]) != _N_LANDMARKS:
            raise RuntimeError(
                f"{self.model_path} gave {len(landmarks[pick])} landmarks per face, not {_N_LANDMARKS}; "
                "use the official face_landmarker.task."
            )
        return Detection(
            landmarks=landmarks[pick],
            blendshapes=self._scores(result.face_blendshapes[pick]),
            transform=np.asarray(result.facial_transformation_matrixes[pick], dtype=np.float64).reshape(4, 4),
            n_faces=len(faces),
            timestamp_ms=ms,
        )

    def _scores(self, categories):
        if self._order is None:
            names = [c.category_name for c in categories]
            position = {name: i for i, name in enumerate(names)}
            lacking = [name for name in ARKIT_NAMES if name not in position]
            if lacking:
                raise RuntimeError(
                    f"{self.model_path} scores blendshapes {names}, which lack {lacking}; "
                    "use the official face_landmarker.task."
                )
            self._order = np.array([position[name] for name in ARKIT_NAMES])
        scores = np.array([c.score for c in categories], dtype=np.float32)
        return scores[self._order]

    def _pick(self, faces, width, height):
        """Index of the followed face in ``faces``, or None when it is not among them."""
        scale = np.array([width, height], dtype=np.float64)
        lows = [f[:, :2].min(axis=0) * scale for f in faces]
        highs = [f[:, :2].max(axis=0) * scale for f in faces]
        centroids = [f[:, :2].mean(axis=0) * scale for f in faces]
        sizes = [float(np.sqrt(np.prod(np.maximum(hi - lo, 1.0)))) for lo, hi in zip(lows, highs)]
        if self.max_faces == 1:
            pick = 0  # MediaPipe's own track: there is nothing to choose from
        elif self.mode == "image" or self._previous is None or self._missed >= _REACQUIRE_FRAMES:
            pick = int(np.argmax(sizes))
        else:
            centroid, size = self._previous
            jumps = [np.linalg.norm(c - centroid) / size for c in centroids]
            pick = int(np.argmin(jumps))
            if jumps[pick] > _MAX_JUMP:
                self._missed += 1
                return None
        self._previous, self._missed = (centroids[pick], sizes[pick]), 0
        return pick
