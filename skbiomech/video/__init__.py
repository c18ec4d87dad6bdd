"""From face videos and photos to frame tables.

Decoding (PyAV), MediaPipe Face Landmarker tracking, the 3D fit of a face
model's blendshapes (and identity) to the landmarks, and the fetching and
caching of the model files they need. Depends on :mod:`skbiomech.face` only.
"""

__all__ = []
