"""FaceTracker end to end on the shared media, and its bad-input handling."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skbiomech.video import FaceTracker, FaceTrackerWarning

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MEDIA = DATA / "media"
ICT = DATA / "ict-facekit" / "FaceXModel"
pytestmark = pytest.mark.skipif(
    not (ICT.is_dir() and (MEDIA / "face_landmarker.task").is_file()), reason="shared media absent"
)


def _tracker(**params):
    params = {"landmarker": MEDIA / "face_landmarker.task", "ict_facekit": ICT, "n_identities": 10, **params}
    return FaceTracker(**params)


@pytest.fixture(scope="module")
def tracker():
    return _tracker().fit()


@pytest.fixture(scope="module")
def smile(tracker):
    return tracker.transform(MEDIA / "single_face.mp4")


def test_frame_table_contract(tracker, smile):
    assert list(smile.columns) == list(tracker.get_feature_names_out())
    assert smile["subject"].eq("single_face").all() and smile["sequence"].eq("single_face").all()
    assert np.all(np.diff(smile["frame"]) == 1) and smile["frame"].iloc[0] == 0
    assert np.all(np.diff(smile["time"]) > 0)
    assert smile["success"].all()
    coefficients = smile[tracker.blendshape_names_].to_numpy()
    assert np.all((coefficients >= 0) & (coefficients <= 1))


def test_smile_rises_after_the_neutral_start(tracker, smile):
    smile_score = smile[["mouthSmile_L", "mouthSmile_R"]].mean(axis=1).to_numpy()
    neutral = smile_score[smile["time"].to_numpy() < 0.5]
    late = smile_score[-len(smile_score) // 3 :]
    print(f"smile coefficient: neutral {neutral.mean():.3f}, late {late.mean():.3f}")
    assert late.mean() > neutral.mean() + 0.2


def test_landmark_fit_tracks_mediapipes_own_smile_score(smile):
    arkit = _tracker(method="arkit").fit().transform(MEDIA / "single_face.mp4")
    ours = smile[["mouthSmile_L", "mouthSmile_R"]].mean(axis=1)
    theirs = arkit[["mouthSmile_L", "mouthSmile_R"]].mean(axis=1)
    r = np.corrcoef(ours, theirs)[0, 1]
    print(f"landmark fit vs MediaPipe smile: r = {r:.3f}")
    assert r > 0.9


def test_eyelids_come_from_mediapipe_unless_asked_to_fit_them(smile):
    """The fit reads a wide-open eye on the neutral face; MediaPipe's scores do not."""
    arkit = _tracker(method="arkit").fit().transform(MEDIA / "single_face.mp4")
    eyelids = ["eyeBlink_L", "eyeSquint_R", "eyeWide_L"]
    np.testing.assert_allclose(smile[eyelids], arkit[eyelids])
    fitted = _tracker(scored_shapes=("eyeLook",)).fit()
    assert "eyeWide_L" in fitted.basis_.expression_names
    neutral = fitted.transform(MEDIA / "single_face.mp4")["time"] < 0.5
    wide = fitted.transform(MEDIA / "single_face.mp4").loc[neutral, "eyeWide_L"].mean()
    print(f"neutral eyeWide_L: fitted {wide:.2f}, MediaPipe {smile.loc[neutral, 'eyeWide_L'].mean():.2f}")
    assert wide > 0.4 > smile.loc[neutral, "eyeWide_L"].mean()


def test_photo_is_one_row(tracker):
    table = tracker.transform(MEDIA / "single_face.jpg")
    assert len(table) == 1 and table["success"].iloc[0]
    assert table["time"].iloc[0] == 0.0


def test_no_face_video_gives_failed_rows_and_no_crash(tracker):
    table = tracker.transform(MEDIA / "no_face.mp4")
    assert len(table) > 0 and not table["success"].any()
    assert table[tracker.blendshape_names_].isna().all().all()


@pytest.mark.parametrize("name, first_has_face", [("face_noface.mov", True), ("noface_face.mov", False)])
def test_face_leaving_and_arriving_is_flagged(tracker, name, first_has_face):
    table = tracker.transform(MEDIA / name)
    success = table["success"].to_numpy()
    third = len(success) // 3
    early, late = success[:third].mean(), success[-third:].mean()
    # MediaPipe flickers on a frame or two (lettering on a cloud, a dark last frame).
    if first_has_face:
        assert early > 0.9 and late < 0.1
    else:
        assert early < 0.1 and late > 0.9
    assert table.loc[~table["success"], tracker.blendshape_names_].isna().all().all()
    assert table.loc[table["success"], tracker.blendshape_names_].notna().all().all()


def test_batch_with_a_bad_file_warns_and_keeps_the_others(tracker, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    inputs = [MEDIA / "single_face.jpg", bad, MEDIA / "single_face.jpg"]
    with pytest.raises(ValueError, match="broken.mp4"):
        tracker.transform(inputs)
    lenient = _tracker(on_error="warn").fit()
    with pytest.warns(FaceTrackerWarning, match="broken.mp4"):
        table = lenient.transform(inputs)
    assert len(table) == 2 and table["success"].all()


def test_frame_table_rows_come_back_aligned(tracker, tmp_path):
    from PIL import Image

    photo = np.asarray(Image.open(MEDIA / "single_face.jpg").convert("RGB"))
    paths = []
    for k in range(3):
        path = tmp_path / f"{k:04d}.png"
        Image.fromarray(np.ascontiguousarray(photo[:, ::-1] if k == 1 else photo)).save(path)
        paths.append(str(path))
    table = pd.DataFrame(
        {"subject": "S1", "sequence": "T1", "frame": [2, 0, 1], "image": [paths[2], paths[0], np.nan]},
        index=[10, 11, 12],
    )
    out = tracker.transform(table)
    assert list(out.index) == [10, 11, 12]
    assert list(out["frame"]) == [2, 0, 1]
    assert list(out["success"]) == [True, True, False]  # the frame without an image fails alone
    assert list(out["image"][:2]) == [paths[2], paths[0]]


def test_bgr_array_is_noticed(tracker):
    from PIL import Image

    photo = np.asarray(Image.open(MEDIA / "single_face.jpg").convert("RGB"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FaceTrackerWarning)
        tracker.transform(photo)
    with pytest.warns(FaceTrackerWarning, match="BGR"):
        tracker.transform(np.ascontiguousarray(photo[..., ::-1]))


def test_crops_feed_the_image_branch(tmp_path):
    from PIL import Image

    crops = tmp_path / "crops"
    table = _tracker(crops=crops, crop_size=64).fit().transform(MEDIA / "single_face.jpg")
    crop = Image.open(table["image"].iloc[0])
    assert crop.size == (64, 64)
    assert Path(table["image"].iloc[0]).is_relative_to(crops)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"method": "pose"}, "method"),
        ({"max_faces": 0}, "max_faces"),
        ({"landmarker": "/nonexistent.task"}, "nonexistent"),
        ({"scored_shapes": "eyeLook"}, "scored_shapes"),
        ({"scored_shapes": ("eyeLook", "")}, "prefixes"),
        ({"scored_shapes": tuple("bcejmn")}, "no blendshape"),  # every ARKit name starts so
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _tracker(**params).fit()


def test_face_without_arkit_names_is_refused():
    from skbiomech.face import default_face_model

    with pytest.raises(ValueError, match="ARKit names"):
        _tracker(face=default_face_model(resolution=15), method="arkit").fit()


def _frame_folder(folder, numbers):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(MEDIA / "single_face.jpg").convert("RGB")
    for number in numbers:
        photo.save(folder / f"{number}.jpg")
    return folder


def test_folder_of_frames_is_one_sequence_numbered_by_file_name(tracker, tmp_path):
    folder = _frame_folder(tmp_path / "clip", [3, 10, 4])
    table = _tracker(fps=25.0).fit().transform(folder)
    assert list(table["frame"]) == [3, 4, 10]
    np.testing.assert_allclose(table["time"], [3 / 25, 4 / 25, 10 / 25])
    assert table["success"].all() and table["sequence"].eq("clip").all()


def test_bp4d_frame_table_comes_back_with_coefficients_aligned_to_its_labels(tracker, tmp_path):
    from skbiomech.datasets import load_bp4d

    root = tmp_path / "BP4D"
    labels = root / "AUCoding" / "AU_OCC"
    labels.mkdir(parents=True)
    header = "0,1,2,4,6,7,10,12,14,15,17,23,24"
    rows = [f"{frame}," + ",".join(["0"] * 11 + [str(frame % 2)]) for frame in (7, 8, 9)]
    (labels / "F001_T1.csv").write_text("\n".join([header, *rows]) + "\n")
    _frame_folder(root / "img" / "F001" / "T1", [7, 8, 9])
    before = sorted(p.name for p in root.rglob("*"))
    data = load_bp4d(root)
    table = tracker.transform(data.frames)
    assert table.index.equals(data.labels.index)
    assert list(table["frame"]) == [7, 8, 9] and table["success"].all()
    assert sorted(p.name for p in root.rglob("*")) == before  # nothing written into the dataset


def test_dataframe_input_names_subjects_and_sequences(tracker):
    paths = pd.DataFrame({"path": [MEDIA / "single_face.jpg"] * 2, "subject": ["A", "B"], "sequence": ["s1", "s2"]})
    table = tracker.transform(paths)
    assert list(table["subject"]) == ["A", "B"] and list(table["sequence"]) == ["s1", "s2"]


def test_parallel_jobs_give_the_same_table(tracker):
    inputs = [MEDIA / "single_face.jpg", MEDIA / "no_face.mp4"]
    serial = tracker.transform(inputs)
    parallel = _tracker(n_jobs=2).fit().transform(inputs)
    pd.testing.assert_frame_equal(serial, parallel)


def test_several_faces_one_is_followed():
    table = _tracker(max_faces=3).fit().transform([MEDIA / "multi_face.jpg"] * 2)
    assert table["success"].all()
    pd.testing.assert_series_equal(table["pose_Ry"].iloc[[0]], table["pose_Ry"].iloc[[1]], check_index=False)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # paths, not arrays: API checks only
def test_scikit_learn_api_and_pickling(tracker, tmp_path):
    import joblib
    from sklearn.base import clone
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(_tracker())  # the checks that apply to an estimator of paths (API, params)
    assert clone(tracker).get_params() == tracker.get_params()
    joblib.dump(tracker, tmp_path / "tracker.joblib")
    restored = joblib.load(tmp_path / "tracker.joblib")
    pd.testing.assert_frame_equal(restored.transform(MEDIA / "single_face.jpg"), tracker.transform(MEDIA / "single_face.jpg"))
