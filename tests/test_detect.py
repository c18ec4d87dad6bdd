"""``skbiomech detect`` on the shared clips: OpenFace-style CSVs, plots, batches."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from skbiomech.datasets import read_openface_csv

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MEDIA, ICT = DATA / "media", DATA / "ict-facekit" / "FaceXModel"
pytestmark = pytest.mark.skipif(not ICT.is_dir(), reason="shared media absent")


@pytest.fixture(scope="module")
def tracker():
    from skbiomech.video import FaceTracker

    return FaceTracker(landmarker=MEDIA / "face_landmarker.task", ict_facekit=ICT, n_identities=10).fit()


@pytest.fixture(scope="module")
def results(tracker, tmp_path_factory):
    from skbiomech.detect import detect

    out = tmp_path_factory.mktemp("detect")
    return detect([MEDIA / "single_face.mp4", MEDIA / "no_face.mp4"], out, tracker=tracker, plot=True), out


def test_one_openface_csv_and_plot_per_input(results, tracker):
    table, out = results
    assert sorted(p.name for p in out.iterdir()) == ["no_face.csv", "no_face.png", "single_face.csv", "single_face.png"]
    frames, labels = read_openface_csv(out / "single_face.csv")
    assert len(frames) == (table["input"] == str(MEDIA / "single_face.mp4")).sum()
    assert list(labels.columns) == [c[:-2] for c in table.columns if c.startswith("AU") and c.endswith("_c")]
    header = (out / "single_face.csv").read_text().splitlines()[0].split(", ")
    assert header[:11] == ["frame", "face_id", "timestamp", "confidence", "success",
                           "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]  # fmt: skip
    assert {f"force_{m}" for m in tracker.face_.muscle_names} <= set(header)
    assert set(tracker.blendshape_names_) <= set(header)


def test_no_face_rows_have_empty_aus_and_no_crash(results):
    table, out = results
    empty = table[table["input"] == str(MEDIA / "no_face.mp4")]
    assert len(empty) > 0 and (empty["success"] == 0).all()
    assert empty.filter(like="_r").isna().all().all()
    _, labels = read_openface_csv(out / "no_face.csv")
    assert labels.isna().all().all()


def test_smile_raises_au12_and_zygomaticus_follows_mediapipe(results, tracker):
    from skbiomech.video import FaceTracker

    table, _ = results
    clip = table[table["input"] == str(MEDIA / "single_face.mp4")]
    early, late = clip["timestamp"] < 0.5, clip["timestamp"] > 1.0
    assert clip.loc[late, "AU12_r"].mean() > clip.loc[early, "AU12_r"].mean() + 0.5
    arkit = FaceTracker(method="arkit", landmarker=tracker.landmarker, ict_facekit=ICT).fit()
    scores = arkit.transform(MEDIA / "single_face.mp4")[["mouthSmile_L", "mouthSmile_R"]].mean(axis=1)
    force = clip[["force_zygomaticus_major_L", "force_zygomaticus_major_R"]].mean(axis=1)
    r = np.corrcoef(force, scores)[0, 1]
    print(f"zygomaticus major vs MediaPipe's smile score: r = {r:.3f}")
    assert r > 0.9


def test_finished_outputs_are_kept_and_bad_inputs_reported(results, tracker, tmp_path):
    from skbiomech.detect import detect

    _, out = results
    stamp = os.stat(out / "single_face.csv").st_mtime_ns
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.warns(UserWarning, match="broken.mp4"):
        again = detect([MEDIA / "single_face.mp4", bad], out, tracker=tracker)
    assert os.stat(out / "single_face.csv").st_mtime_ns == stamp  # complete: read back, not recomputed
    assert list(again.attrs["errors"]) == [str(bad)]
    assert not (out / "broken.csv").exists()
    with pytest.raises(ValueError, match="broken.mp4"):
        detect([bad], tmp_path / "strict", tracker=tracker, on_error="raise")


def test_results_never_go_into_the_input_folder(tracker, tmp_path):
    from skbiomech.detect import detect

    folder = tmp_path / "frames"
    folder.mkdir()
    with pytest.raises(ValueError, match="inside the input folder"):
        detect([folder], folder / "out", tracker=tracker)


@pytest.mark.parametrize("detector, n_aus", [("learned", 16), ("physics", 22)])
def test_command_line(tmp_path, monkeypatch, capsys, detector, n_aus):
    from skbiomech.cli import main

    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["detect", str(MEDIA / "single_face.jpg"), "-o", str(tmp_path / "out"), "--detector", detector,
                     "--landmarker", str(MEDIA / "face_landmarker.task"), "--ict-facekit", str(ICT)])  # fmt: skip
    assert code == 0
    _, labels = read_openface_csv(tmp_path / "out" / "single_face.csv")
    assert labels.shape == (1, n_aus)
    assert "1 input(s)" in capsys.readouterr().err


def test_plot_detection_draws_scaled_areas_at_the_most_active_frame(small_face):
    import matplotlib
    import matplotlib.pyplot

    matplotlib.use("Agg")
    import pandas as pd

    from skbiomech.plotting import plot_detection

    activations = np.zeros((5, small_face.n_muscles))
    activations[1, :] = 0.3  # the most total activation ...
    activations[3, 0] = 0.9  # ... but one muscle is most active here
    table = pd.DataFrame(activations, columns=[f"force_{m}" for m in small_face.muscle_names])
    table.insert(0, "timestamp", np.arange(5) / 10)
    table["AU01_r"] = 0.0
    figure = plot_detection(table, small_face)
    mesh = figure.axes[2]
    assert mesh.get_title() == "activations at 0.30 s"
    drawn = np.asarray(mesh.collections[0].get_array())
    area = small_face.distribution[:, 0] / small_face.distribution[:, 0].max()
    np.testing.assert_allclose(drawn, 0.9 * area)  # peak 1 per muscle, times its activation
    matplotlib.pyplot.close(figure)


def test_learned_detector_is_the_default_and_quiet_on_the_neutral_face(results, tracker):
    """The shipped detector: no AU on the neutral opening, AU12 and AU06 through the smile; the
    physics threshold reads the landmark fit's neutral offsets as AU02 and AU15."""
    from skbiomech.detect import detect
    from skbiomech.pretrained import PRETRAINED_AUS

    table, _ = results
    clip = table[table["input"] == str(MEDIA / "single_face.mp4")]
    assert [c[:-2] for c in clip.columns if c.endswith("_c")] == list(PRETRAINED_AUS)
    early, late = clip["timestamp"] < 0.5, clip["timestamp"] > 1.2
    occurrences = clip.filter(regex=r"^AU\d+_c$")
    assert occurrences[early].to_numpy(dtype=float).sum() == 0
    assert occurrences.loc[late, "AU12_c"].astype(float).mean() > 0.8
    assert occurrences.loc[late, "AU06_c"].astype(float).mean() > 0.5
    physics = detect([MEDIA / "single_face.mp4"], tracker=tracker, detector="physics")
    assert len(physics.filter(regex=r"^AU\d+_c$").columns) == len(tracker.face_.aus)
    neutral = physics.loc[physics["timestamp"] < 0.5].filter(regex=r"^AU\d+_c$").astype(float).mean()
    print("physics threshold on the neutral face:", neutral[neutral > 0].round(2).to_dict())
    assert neutral[["AU02_c", "AU15_c"]].min() > 0.5  # what the learned detector was trained to discount
    np.testing.assert_allclose(physics["AU12_r"], clip["AU12_r"])  # intensities: the physics inverse in both


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(detector="neural"), ValueError, "detector must be one of"),
        (dict(detector=object()), TypeError, "fitted BiomechAUClassifier"),
        (dict(aus=["AU45"]), ValueError, "does not cover"),
    ],
)
def test_detector_option_errors(tracker, kwargs, error, match):
    from skbiomech.detect import detect

    with pytest.raises(error, match=match):
        detect([MEDIA / "single_face.jpg"], tracker=tracker, **kwargs)


def test_shipped_detector_refuses_another_face(small_face):
    from skbiomech.detect import _resolve_detector

    with pytest.raises(ValueError, match="detector='physics'"):
        _resolve_detector("learned", small_face)
    assert _resolve_detector("physics", small_face) is None
