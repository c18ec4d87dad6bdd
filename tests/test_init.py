"""The package's top level: the estimators importable from ``skbiomech``, torch loaded only on demand."""

import subprocess
import sys

import pytest

import skbiomech

ESTIMATORS = ["BiomechAUClassifier", "BlendshapeODEForceEstimator", "ImageFeatureTransformer"]


def test_estimators_from_the_top_level():
    from skbiomech import BiomechAUClassifier, BlendshapeODEForceEstimator, ImageFeatureTransformer
    from skbiomech import estimators

    assert BiomechAUClassifier is estimators.BiomechAUClassifier
    assert BlendshapeODEForceEstimator is estimators.BlendshapeODEForceEstimator
    assert ImageFeatureTransformer is estimators.ImageFeatureTransformer


@pytest.mark.parametrize("name", ESTIMATORS)
def test_listed_in_all_and_dir(name):
    assert name in skbiomech.__all__ and name in dir(skbiomech)


def test_import_skbiomech_does_not_load_torch():
    code = "import sys, skbiomech; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchEstimator'"):
        skbiomech.NoSuchEstimator  # noqa: B018
