"""From face videos and photos to frame tables.

Decoding (PyAV), MediaPipe Face Landmarker tracking, the 3D fit of a face
model's blendshapes (and identity) to the landmarks, and the fetching and
caching of the model files they need. Depends on :mod:`skbiomech.face` only;
``mediapipe``, ``av`` and ``pooch`` (``pip install "skbiomech[video]"``) are
imported when first used.

* :class:`FaceTracker`: videos, photos, frame folders or frame tables in,
  frame tables of blendshape coefficients out (a scikit-learn transformer).
* :func:`fetch_face_landmarker`, :func:`fetch_ict_facekit`,
  :func:`load_ict_face`: the model files, downloaded once and cached.
* :func:`iter_frames`, :func:`probe`: streaming decoding.
"""

from ._decode import Frame, MediaInfo, VideoReadError, VideoReadWarning, iter_frames, probe
from ._fetch import fetch_face_landmarker, fetch_ict_facekit, load_ict_face
from ._tracker import FaceTracker, FaceTrackerWarning

__all__ = [
    "FaceTracker",
    "FaceTrackerWarning",
    "Frame",
    "MediaInfo",
    "VideoReadError",
    "VideoReadWarning",
    "fetch_face_landmarker",
    "fetch_ict_facekit",
    "iter_frames",
    "load_ict_face",
    "probe",
]
