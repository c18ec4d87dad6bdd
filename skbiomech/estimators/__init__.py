"""scikit-learn estimators: the physics branch, image features and the full AU model."""

from ._classifier import BiomechAUClassifier
from ._force import BlendshapeODEForceEstimator

__all__ = ["BiomechAUClassifier", "BlendshapeODEForceEstimator"]
