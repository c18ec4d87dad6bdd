"""skbiomech: facial action unit detection through biomechanical force modelling.

A scikit-learn compatible implementation of *Biomechanics-guided Facial Action
Unit Detection through Force Modeling* (Cui et al., CVPR 2023), with the
physics corrected as documented in the user guide.

The estimators are importable from here (``from skbiomech import
BiomechAUClassifier``); they live in :mod:`skbiomech.estimators`, which is
imported on first use so that ``import skbiomech`` does not load torch.
"""

__version__ = "0.1.0.dev0"

# Public name -> the submodule that defines it (PEP 562 lazy attributes).
_LAZY = {
    "BiomechAUClassifier": "estimators",
    "BlendshapeODEForceEstimator": "estimators",
    "ImageFeatureTransformer": "estimators",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
