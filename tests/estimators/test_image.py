"""ImageFeatureTransformer: features, weights, the disk cache, errors and sklearn conventions."""

import argparse
import copy
import pickle
import urllib.error
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators._image import ImageFeatureTransformer, default_cache_dir
from skbiomech.face import default_face_model

FAST = dict(backbone="resnet18", weights=None, image_size=32, batch_size=4, device="cpu", random_state=0)


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    """Neither the feature cache nor torch hub ever touch the user's folders."""
    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "skbiomech-cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


@pytest.fixture(scope="module")
def frames():
    data = make_synthetic_au_dataset(
        n_subjects=2, n_sequences=1, sequence_length=4, face=default_face_model(resolution=21),
        images="memory", image_size=32, random_state=0,
    )  # fmt: skip
    return data.frames.set_axis(np.arange(100, 108))  # an index that is not 0..n-1


@pytest.fixture(scope="module")
def fitted(frames):
    """A fitted extractor and its output on ``frames``, shared by the tests that only transform."""
    extractor = ImageFeatureTransformer(**FAST, cache_dir=False).fit(frames)
    return extractor, extractor.transform(frames)


@pytest.fixture
def png_frames(frames, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    paths = []
    for row, image in frames["image"].items():
        Image.fromarray(image).save(folder / f"{row}.png")
        paths.append(str(folder / f"{row}.png"))
    return frames.assign(image=paths)


@pytest.fixture
def forward_calls(monkeypatch):
    """Number of images that went through a ResNet."""
    calls = []
    original = torchvision.models.ResNet.forward

    def counting(module, x):
        calls.append(len(x))
        return original(module, x)

    monkeypatch.setattr(torchvision.models.ResNet, "forward", counting)
    return calls


def features(table):
    return table.filter(regex=r"^z2d_\d+$").to_numpy()


def test_output_columns_passthrough_and_index(frames, fitted):
    out = fitted[1]
    kept = [c for c in frames.columns if c != "image"]
    assert list(out.columns) == kept + [f"z2d_{i}" for i in range(512)]
    pd.testing.assert_frame_equal(out[kept], frames[kept])
    assert (out.filter(like="z2d_").dtypes == np.float32).all()
    assert np.isfinite(features(out)).all() and features(out).std(axis=0).max() > 0


def test_set_output_pandas_and_feature_names(frames, fitted):
    extractor, out = copy.deepcopy(fitted[0]), fitted[1]  # set_output changes the estimator
    assert list(extractor.get_feature_names_out()) == list(out.columns)
    assert extractor.n_features_out_ == 512 and extractor.feature_names_out_[-1] == "z2d_511"
    pd.testing.assert_frame_equal(extractor.set_output(transform="pandas").transform(frames), out)
    with pytest.raises(ValueError, match="input_features"):
        extractor.get_feature_names_out(["a", "b"])


@pytest.mark.parametrize(
    "backbone, width, size",
    [("resnet18", 512, 32), ("resnet50", 2048, None), ("mobilenet_v3_small", 1024, 64), ("squeezenet1_1", 512, 64)],
)
def test_feature_width(frames, backbone, width, size):
    extractor = ImageFeatureTransformer(**{**FAST, "backbone": backbone, "image_size": size or 32}, cache_dir=False)
    extractor.fit(frames)
    assert extractor.n_features_out_ == width
    if size:  # resnet50 is checked by its width only, for speed
        assert features(extractor.transform(frames.iloc[:2])).shape == (2, width)


def test_paths_and_arrays_give_the_same_features(fitted, png_frames):
    np.testing.assert_array_equal(features(fitted[0].transform(png_frames)), features(fitted[1]))


def test_grayscale_and_rgba_are_converted(frames, tmp_path):
    rgb = frames["image"].iloc[0]
    gray = rgb[:, :, 1].copy()
    Image.fromarray(gray).save(tmp_path / "gray.png")
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=2)
    table = pd.DataFrame({"image": [rgb, rgba, gray, gray[:, :, None], str(tmp_path / "gray.png")]})
    out = features(ImageFeatureTransformer(cache_dir=False, **FAST).fit_transform(table))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[3], out[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[4], out[2], rtol=1e-5, atol=1e-6)


def test_deterministic_given_random_state(frames, fitted):
    first = fitted[1]
    again = ImageFeatureTransformer(cache_dir=False, **FAST).fit_transform(frames)
    other = ImageFeatureTransformer(cache_dir=False, **{**FAST, "random_state": 1}).fit_transform(frames)
    np.testing.assert_array_equal(features(first), features(again))
    assert not np.allclose(features(first), features(other))


def _reference_features(module, images, size=32):
    """The preprocessing written out independently: resize, scale, ImageNet normalize."""
    module.fc = torch.nn.Identity()
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.inference_mode():
        return module.eval()(x).numpy()


@pytest.mark.parametrize("layout", ["state_dict", "reference_checkpoint", "data_parallel"])
def test_local_weights_file_round_trip(frames, tmp_path, layout):
    module = torchvision.models.resnet18(num_classes=7)  # a fine-tuned head of any width is dropped
    state = module.state_dict()
    saved = {
        "state_dict": state,
        "reference_checkpoint": {"model": state, "epoch": 3, "args": argparse.Namespace(lr=0.1)},
        "data_parallel": {f"module.{k}": v for k, v in state.items()},
    }[layout]
    torch.save(saved, tmp_path / "weights.pth")
    extractor = ImageFeatureTransformer(**{**FAST, "weights": tmp_path / "weights.pth"}, cache_dir=False)
    out = features(extractor.fit_transform(frames))
    np.testing.assert_allclose(out, _reference_features(module, list(frames["image"])), rtol=1e-4, atol=1e-5)
    assert extractor.weights_id_.startswith("file:")


def test_wrong_weights_file(frames, tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    other_model = ImageFeatureTransformer(**{**FAST, "backbone": "resnet34", "weights": str(tmp_path / "resnet18.pth")})
    with pytest.raises(ValueError, match="not a state_dict of backbone='resnet34'"):
        other_model.fit(frames)
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        ImageFeatureTransformer(**{**FAST, "weights": str(tmp_path / "garbage.pth")}).fit(frames)
    with pytest.raises(ValueError, match="neither 'DEFAULT'"):
        ImageFeatureTransformer(**{**FAST, "weights": str(tmp_path / "absent.pth")}).fit(frames)
    with pytest.raises(ValueError, match="another model"):
        ImageFeatureTransformer(**{**FAST, "weights": torchvision.models.ResNet50_Weights.DEFAULT}).fit(frames)


def _offline(monkeypatch):
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_default_weights_offline_error_says_how_to_supply_them(frames, monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(OSError, match="offline") as error:
        ImageFeatureTransformer(**{**FAST, "weights": "DEFAULT"}).fit(frames)
    message = str(error.value)
    for hint in ("checkpoints", "resnet18-f37072fd.pth", "weights='/path/to/", "weights=None"):
        assert hint in message


def test_default_weights_from_hub_cache_work_offline(frames, monkeypatch, tmp_path):
    _offline(monkeypatch)
    module = torchvision.models.resnet18()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(module.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    extractor = ImageFeatureTransformer(**{**FAST, "weights": "DEFAULT"}, cache_dir=False).fit(frames)
    assert extractor.weights_id_ == "torchvision:ResNet18_Weights.IMAGENET1K_V1"
    out = features(extractor.transform(frames))
    np.testing.assert_allclose(out, _reference_features(module, list(frames["image"])), rtol=1e-4, atol=1e-5)


def test_cache_serves_cloned_transformer(png_frames, tmp_path, forward_calls):
    extractor = ImageFeatureTransformer(**FAST, cache_dir=tmp_path / "cache")
    first = extractor.fit_transform(png_frames)
    assert sum(forward_calls) == len(png_frames)
    forward_calls.clear()
    second = clone(extractor).fit_transform(png_frames)  # a second CV fold
    assert forward_calls == []
    pd.testing.assert_frame_equal(first, second)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == len(png_frames)
    assert sorted(p.suffix for p in (tmp_path / "dataset").iterdir()) == [".png"] * len(png_frames)
    clone(extractor).set_params(cache_dir=False).fit_transform(png_frames)
    assert sum(forward_calls) == len(png_frames)
    forward_calls.clear()
    clone(extractor).set_params(image_size=40).fit_transform(png_frames)  # another key
    assert sum(forward_calls) == len(png_frames)


def test_default_cache_dir_and_uncacheable_random_weights(frames, tmp_path, forward_calls):
    assert default_cache_dir() == tmp_path / "skbiomech-cache" / "image_features"
    ImageFeatureTransformer(**FAST).fit_transform(frames.iloc[:2])
    assert len(list(default_cache_dir().rglob("*.npy"))) == 2
    unseeded = ImageFeatureTransformer(**{**FAST, "random_state": None}).fit(frames)
    assert unseeded.weights_id_ is None  # its weights cannot be named, so never cached
    forward_calls.clear()
    unseeded.transform(frames.iloc[:2])
    assert sum(forward_calls) == 2 and len(list(default_cache_dir().rglob("*.npy"))) == 2


def test_duplicate_images_are_computed_once(frames, tmp_path, forward_calls):
    table = pd.concat([frames.iloc[:2]] * 3)
    out = features(ImageFeatureTransformer(**FAST, cache_dir=tmp_path).fit_transform(table))
    assert sum(forward_calls) == 2
    np.testing.assert_array_equal(out[:2], out[4:])


def test_corrupt_cache_files_are_recomputed(frames, tmp_path, forward_calls):
    extractor = ImageFeatureTransformer(**FAST, cache_dir=tmp_path).fit(frames)
    expected = extractor.transform(frames)
    files = sorted(tmp_path.rglob("*.npy"))
    files[0].write_bytes(b"garbage")
    files[1].write_bytes(files[1].read_bytes()[:50])  # truncated
    np.save(files[2], np.zeros(3, np.float32))  # wrong shape
    forward_calls.clear()
    pd.testing.assert_frame_equal(extractor.transform(frames), expected)
    assert sum(forward_calls) == 3
    forward_calls.clear()
    extractor.transform(frames)
    assert forward_calls == []


def test_unwritable_cache_warns_and_still_returns_features(frames, tmp_path, monkeypatch):
    import skbiomech.estimators._image as module

    def fail(*args, **kwargs):
        raise PermissionError("read-only (test)")

    extractor = ImageFeatureTransformer(**FAST, cache_dir=tmp_path).fit(frames)
    monkeypatch.setattr(module, "atomic_write", fail)
    with pytest.warns(UserWarning, match="cache not written"):
        out = extractor.transform(frames)
    assert features(out).shape == (len(frames), 512)


def test_progress_bar(frames, capsys):
    ImageFeatureTransformer(**{**FAST, "verbose": 1}, cache_dir=False).fit_transform(frames)
    assert "2/2" in capsys.readouterr().err  # 8 images in batches of 4


def _bad_image_table(kind, tmp_path, frames):
    if kind == "missing file":
        return pd.DataFrame({"image": [frames["image"].iloc[0], str(tmp_path / "absent.png")]}, index=[5, 6])
    if kind == "corrupt file":
        (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
        return pd.DataFrame({"image": [str(tmp_path / "broken.png")]}, index=[6])
    if kind == "float array":
        return pd.DataFrame({"image": [np.zeros((8, 8, 3))]}, index=[6])
    if kind == "two channels":
        return pd.DataFrame({"image": [np.zeros((8, 8, 2), np.uint8)]}, index=[6])
    return pd.DataFrame({"image": [3.5]}, index=[6])


@pytest.mark.parametrize(
    "kind, error, match",
    [
        ("missing file", FileNotFoundError, r"absent\.png.*row 6"),
        ("corrupt file", ValueError, r"broken\.png.*row 6.*not a readable image"),
        ("float array", ValueError, "row 6 must be an HxWx3.*float64"),
        ("two channels", ValueError, r"row 6 must be .*\(8, 8, 2\)"),
        ("number", TypeError, "row 6 must be a path"),
    ],
)
@pytest.mark.parametrize("cache", [True, False])
def test_bad_images(frames, tmp_path, kind, error, match, cache):
    table = _bad_image_table(kind, tmp_path, frames)
    extractor = ImageFeatureTransformer(**FAST, cache_dir=tmp_path / "cache" if cache else False).fit(table)
    with pytest.raises(error, match=match):
        extractor.transform(table)


def _without_images(frames, rows, value=None, success=None):
    """``frames`` with ``value`` for the image of ``rows``, and a ``success`` column unless None."""
    table = frames.copy()
    table["image"] = [value if row in rows else image for row, image in table["image"].items()]
    if success is not None:
        table["success"] = success
    return table


@pytest.mark.parametrize("value", [None, np.nan, pd.NA], ids=["None", "nan", "NA"])
@pytest.mark.parametrize("success", ["failed", "absent"])
@pytest.mark.parametrize("cache", [True, False])
def test_rows_without_an_image_get_nan_features(frames, fitted, tmp_path, forward_calls, value, success, cache):
    """Failed frames of the video front end have no crop: their features are NaN, the others unchanged."""
    holes = [101, 104]
    flag = None if success == "absent" else ~frames.index.isin(holes)
    table = _without_images(frames, holes, value, flag)
    extractor = ImageFeatureTransformer(**FAST, cache_dir=tmp_path / "cache" if cache else False).fit(table)
    forward_calls.clear()
    out = extractor.transform(table)
    hole = frames.index.isin(holes)
    assert out.index.equals(frames.index) and np.isnan(features(out)[hole]).all()
    np.testing.assert_allclose(features(out)[~hole], features(fitted[1])[~hole], rtol=1e-5, atol=1e-5)
    assert sum(forward_calls) == len(frames) - len(holes)
    if cache:  # nothing cached for the holes; the images are served from the cache next time
        assert len(list((tmp_path / "cache").rglob("*.npy"))) == len(frames) - len(holes)
        forward_calls.clear()
        pd.testing.assert_frame_equal(clone(extractor).fit_transform(table), out)
        assert forward_calls == []


def test_a_table_without_any_image_fits_and_gives_nan(frames, forward_calls):
    table = _without_images(frames, list(frames.index), success=False)
    out = ImageFeatureTransformer(**FAST, cache_dir=False).fit_transform(table)
    assert features(out).shape == (len(frames), 512) and np.isnan(features(out)).all()
    assert forward_calls == [] and out["success"].eq(False).all()


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_a_tracked_frame_without_an_image_is_an_error(frames, method):
    """success=True promises a crop: a missing one is a bug upstream, not a failed frame."""
    table = _without_images(frames, [101, 103, 106], success=~frames.index.isin([106]))
    extractor = ImageFeatureTransformer(**FAST, cache_dir=False)
    if method == "transform":
        extractor.fit(table.assign(image=frames["image"]))
    with pytest.raises(ValueError, match=r"2 tracked frame\(s\) \(success=True\) have no image.*\[101, 103\]"):
        getattr(extractor, method)(table)


def test_frame_table_errors(frames):
    extractor = ImageFeatureTransformer(**FAST, cache_dir=False)
    with pytest.raises(ValueError, match="'image' column"):
        extractor.fit(frames.drop(columns="image"))
    with pytest.raises(ValueError, match="pandas DataFrame"):
        extractor.fit(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="already has feature columns"):
        extractor.fit(frames.assign(z2d_0=1.0))
    extractor.fit(frames)
    with pytest.raises(ValueError, match="feature names"):
        extractor.transform(frames.rename(columns={"subject": "person"}))


def test_parameter_errors(frames):
    with pytest.raises(ValueError, match=r"'resnet5' is not a torchvision.*resnet50"):
        ImageFeatureTransformer(**{**FAST, "backbone": "resnet5"}).fit(frames)
    with pytest.raises(ValueError, match="image_size"):
        ImageFeatureTransformer(**{**FAST, "image_size": 0}).fit(frames)
    with pytest.raises(ValueError, match="cache_dir"):
        ImageFeatureTransformer(**FAST, cache_dir=True).fit(frames)
    with pytest.raises(ValueError, match="device must be"):
        ImageFeatureTransformer(**{**FAST, "device": "gpu0"}).fit(frames)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_names_the_fix(frames):
    with pytest.raises(ValueError, match="no CUDA GPU.*device='cpu' or 'auto'"):
        ImageFeatureTransformer(**{**FAST, "device": "cuda"}).fit(frames)
    assert ImageFeatureTransformer(**{**FAST, "device": "auto"}).fit(frames).device_ == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(frames):
    cpu = features(ImageFeatureTransformer(**FAST, cache_dir=False).fit_transform(frames))
    gpu_extractor = ImageFeatureTransformer(**{**FAST, "device": "cuda"}, cache_dir=False).fit(frames)
    np.testing.assert_allclose(features(gpu_extractor.transform(frames)), cpu, rtol=1e-3, atol=1e-3)
    restored = pickle.loads(pickle.dumps(gpu_extractor))
    assert next(restored.backbone_.parameters()).is_cuda


def test_pipeline_composition(frames):
    pipeline = Pipeline(
        [
            ("img", ImageFeatureTransformer(**FAST, cache_dir=False)),
            ("select", FunctionTransformer(lambda df: df.filter(like="z2d_"))),
            ("clf", LogisticRegression()),
        ]
    )
    y = np.arange(len(frames)) % 2
    assert pipeline.fit(frames, y).predict(frames).shape == (len(frames),)


def test_fit_returns_self_params_untouched_and_unfitted_error(frames):
    extractor = ImageFeatureTransformer(**FAST, cache_dir=False)
    with pytest.raises(NotFittedError):
        extractor.transform(frames)
    params = extractor.get_params()
    assert extractor.fit(frames) is extractor
    assert extractor.get_params() == params


def test_pickle_and_refit_give_the_same_features(frames, fitted):
    extractor, expected = pickle.loads(pickle.dumps(fitted[0])), fitted[1]
    pd.testing.assert_frame_equal(extractor.transform(frames), expected)
    pd.testing.assert_frame_equal(extractor.fit(frames).transform(frames), expected)  # idempotent


def test_rows_are_independent_of_each_other(frames, fitted):
    """sklearn's subset and sample-order invariance, on images."""
    extractor, expected = fitted[0], features(fitted[1])
    order = np.random.default_rng(0).permutation(len(frames))
    np.testing.assert_allclose(features(extractor.transform(frames.iloc[order])), expected[order], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features(extractor.transform(frames.iloc[2:3])), expected[2:3], rtol=1e-5, atol=1e-5)


def _expected_failed_checks(estimator):
    # No expected failure: the transformer declares two_d_array=False (its input is a frame
    # table with an image column, as sklearn's text and dict vectorizers declare theirs), so
    # sklearn runs only check_estimator_cloneable on it. The checks that need no data run
    # directly below; those that need data are rewritten on images above (fit returns self,
    # params untouched, pickling, idempotence, subset and sample-order invariance).
    return {}


with warnings.catch_warnings():  # sklearn's SkipTestWarning, at collection: the reason is above
    warnings.simplefilter("ignore", SkipTestWarning)
    _sklearn_checks = parametrize_with_checks(
        [ImageFeatureTransformer(**FAST, cache_dir=False)], expected_failed_checks=_expected_failed_checks
    )


@_sklearn_checks
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        "check_estimator_tags_renamed",
        "check_valid_tag_types",
        "check_estimator_repr",
        "check_no_attributes_set_in_init",
        "check_estimators_unfitted",
        "check_transformers_unfitted",
        "check_do_not_raise_errors_in_init_or_set_params",
        "check_mixin_order",
        "check_parameters_default_constructible",
        "check_get_params_invariance",
        "check_set_params",
    ],
)
def test_sklearn_checks_that_need_no_numeric_data(check):
    """sklearn skips these for non-2-D-array estimators, though they hold: run them directly."""
    getattr(estimator_checks, check)("ImageFeatureTransformer", ImageFeatureTransformer(**FAST, cache_dir=False))
