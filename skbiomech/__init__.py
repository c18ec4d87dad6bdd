"""skbiomech: facial action unit detection through biomechanical force modelling.

A scikit-learn compatible implementation of *Biomechanics-guided Facial Action
Unit Detection through Force Modeling* (Cui et al., CVPR 2023), with the
physics corrected as documented in the user guide.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
