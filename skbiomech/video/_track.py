"""One unit of work: a subject's sequences, from frames to frame-table rows.

Streams frames through MediaPipe, buffers only until the subject's identity
is fitted (its first ``identity_frames`` frames with a face), then fits the
blendshapes chunk by chunk, so memory does not grow with video length.
"""

from __future__ import annotations

import queue
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._crops import source_key
from ._fit import fit_expressions, fit_identity, landmarks_to_points, rotation_to_euler

__all__ = ["TrackConfig", "track_unit", "POSE_COLUMNS", "FaceTrackerWarning"]

POSE_COLUMNS = ("pose_Rx", "pose_Ry", "pose_Rz", "pose_Tx", "pose_Ty", "pose_Tz")
_N_MESH = 468  # MediaPipe's mesh landmarks; 468-477 are the irises
_CHUNK = 256
# Landmarks on the forehead, cheeks and nose: skin, whatever the expression.
_SKIN_LANDMARKS = (10, 50, 280, 4, 151, 205, 425)
_NO_SCORES = np.full(52, np.nan, np.float32)
_NO_TRANSFORM = np.full((4, 4), np.nan)


class FaceTrackerWarning(UserWarning):
    """A problem FaceTracker worked around: a bad input in a batch, BGR-looking pixels."""


@dataclass
class TrackConfig:
    """Everything a worker needs, picklable (no MediaPipe object)."""

    landmarker_path: str
    method: str
    basis: object  # LandmarkBasis or None (method="arkit")
    blendshape_names: list
    fitted_columns: np.ndarray  # positions of basis.expression_names in blendshape_names
    arkit_to_face: object  # callable: (n, 52) scores -> (n, K) coefficients of blendshape_names
    identity: str
    identity_frames: int
    max_faces: int
    include_arkit: bool
    include_landmarks: bool
    fps: float | None
    color: str
    crops: object  # CropWriter or None
    regularization: float
    on_error: str = "raise"  # "warn": unreadable media become warnings


class _Detections:
    """Per-frame records of one unit, waiting for the fit."""

    def __init__(self):
        self.rows = []  # (sequence, frame, time, image) metadata per frame
        # Landmarks and sizes of the frames with a face only: a long stretch without
        # one (a video of an empty room) must not fill memory while identity waits.
        self.landmarks, self.sizes, self.scores, self.transforms, self.ok = [], [], [], [], []

    def add(self, meta, detection, size):
        self.rows.append(meta)
        self.ok.append(detection is not None)
        if detection is None:
            self.scores.append(_NO_SCORES)
            self.transforms.append(_NO_TRANSFORM)
        else:
            self.landmarks.append(np.asarray(detection.landmarks, np.float32))
            self.sizes.append(size)
            self.scores.append(np.asarray(detection.blendshapes, np.float32))
            self.transforms.append(np.asarray(detection.transform, np.float64))

    def __len__(self):
        return len(self.rows)

    @property
    def n_faces(self):
        return int(np.sum(self.ok))

    def points(self):
        """Mesh landmarks of the frames with a face, as 3D points in pixels."""
        if not self.landmarks:
            return np.zeros((0, _N_MESH, 3))
        sizes = np.asarray(self.sizes, dtype=np.float64)
        return landmarks_to_points(np.stack(self.landmarks)[:, :_N_MESH], sizes[:, :1], sizes[:, 1:])

    def all_landmarks(self):
        """(n, 478, 3) normalized landmarks, NaN where no face was found."""
        out = np.full((len(self.rows), 478, 3), np.nan, np.float32)
        if self.landmarks:
            out[np.asarray(self.ok, bool)] = np.stack(self.landmarks)
        return out


def _table(records, config, identity):
    """Frame-table rows for ``records`` (a _Detections)."""
    n = len(records)
    names = config.blendshape_names
    ok = np.asarray(records.ok, bool)
    scores = np.stack(records.scores) if n else np.zeros((0, 52))
    coefficients = np.full((n, len(names)), np.nan)
    angles = np.full((n, 3), np.nan)
    rmse = np.full(n, np.nan)
    transforms = np.stack(records.transforms) if n else np.zeros((0, 4, 4))
    if ok.any():
        # MediaPipe's own estimate first: gaze in the landmark fit, everything for "arkit".
        coefficients[ok] = config.arkit_to_face(scores[ok])
        if config.method == "landmarks":
            fit = fit_expressions(
                config.basis, records.points(), identity=identity, regularization=config.regularization
            )
            coefficients[np.ix_(ok, config.fitted_columns)] = fit.coefficients
            angles[ok] = np.rad2deg(rotation_to_euler(fit.rotation))
            rmse[ok] = fit.residual
        else:
            angles[ok] = np.rad2deg(rotation_to_euler(transforms[ok, :3, :3]))
    meta = pd.DataFrame(records.rows, columns=["sequence", "frame", "time", "image"])
    columns = {
        "sequence": meta["sequence"].to_numpy(),
        "frame": meta["frame"].to_numpy(dtype=np.int64),
        "time": meta["time"].to_numpy(dtype=np.float64),
        "success": ok,
        "pose_Rx": angles[:, 0], "pose_Ry": angles[:, 1], "pose_Rz": angles[:, 2],
        # MediaPipe's metric head position (cm, camera frame: x right, y up, z toward the camera).
        "pose_Tx": transforms[:, 0, 3], "pose_Ty": transforms[:, 1, 3], "pose_Tz": transforms[:, 2, 3],
        "landmark_rmse": rmse,
    }  # fmt: skip
    frame = pd.DataFrame(columns)
    frame = pd.concat([frame, pd.DataFrame(coefficients, columns=names)], axis=1)
    if config.include_arkit:
        from ._arkit import ARKIT_NAMES

        frame = pd.concat([frame, pd.DataFrame(scores, columns=[f"arkit_{a}" for a in ARKIT_NAMES])], axis=1)
    if config.include_landmarks:
        landmarks = records.all_landmarks()
        labels = [f"landmark_{axis}_{i}" for i in range(landmarks.shape[1]) for axis in "xyz"]
        frame = pd.concat([frame, pd.DataFrame(landmarks.reshape(n, -1), columns=labels)], axis=1)
    if config.crops is not None:
        frame["image"] = meta["image"].to_numpy()
    return frame


def _frames_of(sequence, config):
    """(frame number, time, image or None) of each frame of ``sequence``."""
    from ._decode import iter_frames

    if sequence.images is None:
        for frame in iter_frames(sequence.source, color=config.color, fps=config.fps):
            yield frame.index, frame.time, frame.image
        return
    for number, image in zip(sequence.frames, sequence.images):
        time = number / config.fps if config.fps else np.nan
        if isinstance(image, float) and np.isnan(image):
            yield int(number), time, None  # the frame table has no image for this frame
            continue
        try:
            decoded = next(iter(iter_frames(image, color=config.color))).image
        except (OSError, ValueError) as exc:
            if config.on_error == "raise":
                raise
            # One unreadable frame of a dataset is a failed row, not a lost sequence.
            warnings.warn(f"Frame {int(number)} of {sequence.describe()}: {exc}", FaceTrackerWarning, stacklevel=2)
            decoded = None
        yield int(number), time, decoded


_DONE = object()


def _prefetch(iterator, depth=8):
    """Run ``iterator`` in a background thread, ``depth`` items ahead.

    Decoding then overlaps MediaPipe, which waits on its own graph threads
    with the GIL released; exceptions reach the consumer in order.
    """
    items, stop = queue.Queue(maxsize=depth), threading.Event()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            items.put((_DONE, exc))

    worker = threading.Thread(target=produce, daemon=True, name="skbiomech-decode")
    worker.start()
    try:
        while True:
            item, error = items.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
        close = getattr(iterator, "close", None)
        if close is not None and not worker.is_alive():
            close()


def _looks_bgr(image, landmarks):
    height, width = image.shape[:2]
    x = np.clip((landmarks[list(_SKIN_LANDMARKS), 0] * width).astype(int), 0, width - 1)
    y = np.clip((landmarks[list(_SKIN_LANDMARKS), 1] * height).astype(int), 0, height - 1)
    red, _, blue = image[y, x].astype(float).mean(axis=0)
    return blue > red + 10  # skin is redder than it is blue under any ordinary light


def _detect(unit, config, progress):
    """Stream every sequence of ``unit`` through MediaPipe; yield per-frame records."""
    for sequence in unit.sequences:
        read = 0
        try:
            for record in _detect_sequence(unit, sequence, config, progress):
                read += 1
                yield record
        except (OSError, ValueError) as exc:  # unreadable media: VideoReadError is a ValueError
            if config.on_error == "raise":
                raise
            kept = f"kept the {read} frames read before it" if read else "no rows for it"
            warnings.warn(f"Skipped the rest of {sequence.describe()}: {exc} ({kept}).", FaceTrackerWarning, stacklevel=2)


def _detect_sequence(unit, sequence, config, progress):
    from ._landmarker import Landmarker

    image_mode = sequence.images is None and _is_single_image(sequence.source)
    checked_color = not isinstance(sequence.source, np.ndarray)
    with Landmarker(
        config.landmarker_path, mode="image" if image_mode else "video", max_faces=config.max_faces
    ) as landmarker:
        key = None
        for position, (number, time, image) in enumerate(_prefetch(_frames_of(sequence, config))):
            detection = None
            if image is not None:
                detection = landmarker.detect(image, None if image_mode else time)
                if detection is not None and not checked_color:
                    checked_color = True
                    if config.color == "rgb" and _looks_bgr(image, detection.landmarks):
                        warnings.warn(
                            "The image array looks BGR (OpenCV's channel order): its skin is bluer "
                            "than red, which shifts MediaPipe's scores. Pass color='bgr' if so.",
                            FaceTrackerWarning,
                            stacklevel=2,
                        )
            crop = None
            if config.crops is not None and detection is not None:
                source = sequence.source if sequence.images is None else sequence.images[position]
                if sequence.images is not None or key is None:
                    key = source_key(source, config.crops.size)
                crop = config.crops.write(key, number, image, detection.landmarks)
            progress(1)
            yield (sequence.name, number, time, crop), detection, (
                None if image is None else (image.shape[1], image.shape[0])
            )


def _is_single_image(source):
    from ._decode import probe

    if isinstance(source, np.ndarray):
        return source.ndim == 3
    return probe(source).kind == "image"


def track_unit(unit, config, progress=lambda n: None):
    """The frame-table rows of one unit (a subject's sequences), in decode order.

    Chunks are fitted in a background thread while MediaPipe works on the
    next frames (NumPy releases the GIL); at most two chunks wait, so memory
    stays bounded when the fit is the slower stage.
    """
    from concurrent.futures import ThreadPoolExecutor

    pending, identity, tables = _Detections(), None, []
    need_identity = config.method == "landmarks" and config.identity == "subject" and len(config.basis.identities)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skbiomech-fit") as fitter:
        for meta, detection, size in _detect(unit, config, progress):
            pending.add(meta, detection, size)
            if need_identity and identity is None:
                if pending.n_faces < config.identity_frames:
                    continue
                identity = fit_identity(config.basis, pending.points(), regularization=config.regularization)
            if len(pending) >= _CHUNK:
                if len(tables) >= 2 and not tables[-2].done():
                    tables[-2].result()
                tables.append(fitter.submit(_table, pending, config, identity))
                pending = _Detections()
        if need_identity and identity is None and pending.n_faces:
            identity = fit_identity(config.basis, pending.points(), regularization=config.regularization)
        if len(pending) or not tables:
            tables.append(fitter.submit(_table, pending, config, identity))
        table = pd.concat([future.result() for future in tables], ignore_index=True)
    table.insert(0, "subject", unit.subject)
    return table
