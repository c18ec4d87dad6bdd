"""Face models: mesh, blendshapes, skin mechanics, muscles and the FACS map.

The public surface is :class:`FaceModel`, the procedural
:func:`default_face_model`, the ICT-FaceKit loader :func:`load_ict_facekit`
and :func:`project_to_blendshapes` for meshes given as vertices.
"""

from ._default import default_face_model
from ._facs import AU_DESCRIPTIONS, BP4D_AUS, DISFA_AUS, FACS_AU_MUSCLES, au_name
from ._ict import load_ict_facekit
from ._model import MUSCLE_KINDS, FaceModel
from ._projection import project_to_blendshapes

__all__ = [
    "AU_DESCRIPTIONS",
    "BP4D_AUS",
    "DISFA_AUS",
    "FACS_AU_MUSCLES",
    "MUSCLE_KINDS",
    "FaceModel",
    "au_name",
    "default_face_model",
    "load_ict_facekit",
    "project_to_blendshapes",
]
