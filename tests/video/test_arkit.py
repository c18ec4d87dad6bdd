"""MediaPipe's blendshape names and their map onto ICT-FaceKit's expression names."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skbiomech.video._arkit import ARKIT_NAMES, arkit_source, arkit_to_ict

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ICT_INDEX = DATA / "ict-facekit" / "FaceXModel" / "vertex_indices.json"


@pytest.fixture(scope="module")
def ict_names():
    if not ICT_INDEX.exists():
        pytest.skip(f"ICT-FaceKit data not found at {ICT_INDEX}")
    return json.loads(ICT_INDEX.read_text())["expressions"]


def test_arkit_names_are_mediapipes_52_in_its_enum_order():
    landmarker = pytest.importorskip("mediapipe.tasks.python.vision.face_landmarker")
    Blendshapes = landmarker.Blendshapes

    def camel(name):
        head, *rest = name.lower().split("_")
        return "_neutral" if name == "NEUTRAL" else head + "".join(part.title() for part in rest)

    enum_names = [camel(member.name) for member in sorted(Blendshapes, key=int)]
    assert list(ARKIT_NAMES) == enum_names
    assert len(set(ARKIT_NAMES)) == 52 and ARKIT_NAMES[0] == "_neutral"
    assert "tongueOut" not in ARKIT_NAMES


def test_the_map_covers_ict_facekits_53_expressions(ict_names):
    assert len(ict_names) == 53
    sources = [arkit_source(name) for name in ict_names]
    assert None not in sources
    counts = pd.Series(sources).value_counts()
    assert sorted(counts[counts == 2].index) == ["browInnerUp", "cheekPuff"]
    assert (counts == 1).sum() == 49  # one-to-one matches
    assert "_neutral" not in counts.index
    for name, source in zip(ict_names, sources):  # sides follow the subject, as in both conventions
        if name.endswith("_L") and source not in ("browInnerUp", "cheekPuff"):
            assert source == name[:-2] + "Left"


def test_values_come_from_the_source_columns(ict_names):
    scores = np.random.default_rng(0).uniform(size=(5, 52))
    out = arkit_to_ict(scores, ict_names)
    assert out.shape == (5, 53) and out.dtype == np.float64
    for j, name in enumerate(ict_names):
        np.testing.assert_array_equal(out[:, j], scores[:, ARKIT_NAMES.index(arkit_source(name))])
    np.testing.assert_array_equal(arkit_to_ict(scores[0], ict_names), out[0])  # one frame


@pytest.mark.parametrize(
    "target, source",
    [
        ("browDown_L", "browDownLeft"),
        ("mouthSmile_R", "mouthSmileRight"),
        ("browInnerUp_R", "browInnerUp"),
        ("cheekPuff_L", "cheekPuff"),
        ("jawOpen", "jawOpen"),
        ("mouthClose", "mouthClose"),
        ("mouthSmileLeft", "mouthSmileLeft"),  # MediaPipe's own names pass through
        ("tongueOut", None),
        ("_neutral_L", None),
        ("jawOpen_L", None),
        ("eyeBlink", None),
    ],
)
def test_arkit_source(target, source):
    assert arkit_source(target) == source


def test_a_dataframe_in_gives_a_dataframe_out():
    scores = pd.DataFrame(np.random.default_rng(1).uniform(size=(3, 52)), columns=ARKIT_NAMES, index=[10, 11, 12])
    out = arkit_to_ict(scores[["jawOpen", "browInnerUp", "eyeBlinkRight"]], ["eyeBlink_R", "browInnerUp_L", "jawOpen"])
    assert list(out.columns) == ["eyeBlink_R", "browInnerUp_L", "jawOpen"]
    assert list(out.index) == [10, 11, 12]
    np.testing.assert_array_equal(out["eyeBlink_R"], scores["eyeBlinkRight"])
    np.testing.assert_array_equal(out["browInnerUp_L"], scores["browInnerUp"])


def test_missing_targets_raise_with_all_their_names_or_become_nan():
    with pytest.raises(ValueError, match=r"2 target shape.*'tongueOut'.*'PupilDilate_L'.*missing='nan'"):
        arkit_to_ict(np.zeros((1, 52)), ["jawOpen", "tongueOut", "PupilDilate_L"])
    out = arkit_to_ict(np.ones((2, 52)), ["jawOpen", "tongueOut"], missing="nan")
    np.testing.assert_array_equal(out[:, 0], 1.0)
    assert np.isnan(out[:, 1]).all()


@pytest.mark.parametrize(
    "scores, targets, kwargs, error, match",
    [
        (np.zeros((2, 51)), ["jawOpen"], {}, ValueError, r"shape \(n_frames, 52\).*\(2, 51\)"),
        (np.zeros((2, 3, 52)), ["jawOpen"], {}, ValueError, r"got shape \(2, 3, 52\)"),
        (np.zeros((1, 52)), "jawOpen", {}, TypeError, "sequence of names"),
        (np.zeros((1, 52)), ["jawOpen"], {"missing": "zero"}, ValueError, "missing must be one of"),
        (pd.DataFrame({"jawOpen": [0.1]}), ["mouthClose"], {}, ValueError, r"without the MediaPipe columns \['mouth"),
    ],
)
def test_bad_input_is_explained(scores, targets, kwargs, error, match):
    with pytest.raises(error, match=match):
        arkit_to_ict(scores, targets, **kwargs)
