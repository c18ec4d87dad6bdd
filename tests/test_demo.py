"""``skbiomech.demo.run_demo`` in quick mode: what it says, what it writes, its rows."""

import io

import pytest

import skbiomech.demo as demo
from skbiomech.estimators import ImageFeatureTransformer

REASON = (
    "Could not download the ResNet18_Weights.IMAGENET1K_V1 weights of backbone='resnet18' (URLError: no "
    "network). Without internet access, copy resnet18-f37072fd.pth into torch hub's checkpoint folder."
)


class _Offline(ImageFeatureTransformer):
    """As offline: pretrained weights cannot be had."""

    def fit(self, X, y=None):
        if self.weights is not None:
            raise OSError(REASON + "\nsecond line, not printed")
        return super().fit(X, y)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("demo")
    stream, said = io.StringIO(), {}
    simulate = demo.make_synthetic_au_dataset

    def recording(*args, **kwargs):
        said["before simulating"] = stream.getvalue()
        return simulate(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKBIOMECH_CACHE", str(tmp / "cache"))
        patch.setattr(demo, "make_synthetic_au_dataset", recording)
        patch.setattr(demo, "ImageFeatureTransformer", _Offline)
        results = demo.run_demo(
            tmp / "out", n_subjects=3, sequence_length=40, max_epochs=1, image_size=32, stream=stream
        )
    return results, stream.getvalue(), said, tmp


def test_says_what_it_does_before_simulating(quick_run):
    _, _, said, _ = quick_run
    assert "simulating the synthetic benchmark" in said["before simulating"]


def test_offline_message_is_whole(quick_run):
    results, text, _, _ = quick_run
    assert REASON in text and "second line" not in text
    assert results["image_weights"] == "random (offline)"


def test_features_stay_in_memory(quick_run):
    _, text, _, tmp = quick_run
    assert "no cache written" in text
    assert not (tmp / "cache").exists()


def test_logistic_regression_row(quick_run):
    results, _, _, _ = quick_run
    table = results["table"]
    assert list(table.index) == [*demo.TABLE1_SETTINGS, demo.BASELINE_NAME]
    assert 0 <= table.loc[demo.BASELINE_NAME, "mean"] <= 1
