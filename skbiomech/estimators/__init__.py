"""scikit-learn estimators: the physics branch, image features and the full AU model.

* :class:`BlendshapeODEForceEstimator`: muscle forces from blendshape
  coefficients through the facial ODE (a transformer).
* :class:`ImageFeatureTransformer`: frozen torchvision backbone features of
  the face images, cached on disk.
* :class:`BiomechAUClassifier`: the paper's full model (physics + image
  branches and the AU head), a multilabel classifier.
"""

from ._classifier import BiomechAUClassifier
from ._force import BlendshapeODEForceEstimator
from ._image import ImageFeatureTransformer, default_cache_dir
from ._training import TrainingInterruptedWarning

__all__ = [
    "BiomechAUClassifier",
    "BlendshapeODEForceEstimator",
    "ImageFeatureTransformer",
    "TrainingInterruptedWarning",
    "default_cache_dir",
]
