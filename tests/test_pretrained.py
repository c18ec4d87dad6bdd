"""The shipped AU detector: its training data, its file, its scores, and the script that builds it."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skbiomech import pretrained
from skbiomech.pretrained import PRETRAINED_AUS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MEDIA, ICT = DATA / "media", DATA / "ict-facekit" / "FaceXModel"
needs_ict = pytest.mark.skipif(not ICT.is_dir(), reason="shared ICT-FaceKit absent")


@pytest.fixture(scope="module")
def ict_face():
    from skbiomech.video import load_ict_face

    return load_ict_face(ICT, n_identities=0)[0]


@pytest.fixture(scope="module")
def held_out(ict_face):
    return pretrained.simulate_front_end(ict_face, 2, n_sequences=2, sequence_length=200, random_state=2)


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_ict
def test_simulated_frames_look_like_the_tracker_output(ict_face, held_out):
    names = list(ict_face.blendshape_names)
    stats = pretrained.front_end_statistics()
    assert stats["blendshapes"] == names
    coefficients = held_out.frames[names].to_numpy()
    assert coefficients.min() >= 0.0 and coefficients.max() <= 1.0  # the fit's bounds
    gaze = [n for n in names if n.startswith("eyeLook")]
    assert (held_out.frames[gaze] == 0).all().all()
    assert list(held_out.labels.columns) == list(PRETRAINED_AUS) == list(held_out.intensities.columns)
    # Frames with no AU carry the neutral-face offsets the fit reads on a real face.
    quiet = held_out.labels.sum(axis=1) == 0
    offset = dict(zip(names, stats["neutral_offset"]))
    assert held_out.frames.loc[quiet, "browOuterUp_L"].mean() > 0.5 * offset["browOuterUp_L"] > 0.2
    # MediaPipe never scores the cheek: the simulated cheek raise is seen as a squint.
    assert held_out.frames["cheekSquint_L"].max() < 0.2 < 0.5 < held_out.frames["eyeSquint_L"].max()
    again = pretrained.simulate_front_end(ict_face, 2, n_sequences=2, sequence_length=200, random_state=2)
    assert again.frames.equals(held_out.frames)


@needs_ict
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(statistics={"blendshapes": ["a", "b"]}), "another face"),
        (dict(noise_margin=-1.0), "noise_margin"),
        (dict(offset_floor="0.1"), "offset_floor"),
    ],
)
def test_simulate_front_end_errors(ict_face, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pretrained.simulate_front_end(ict_face, 1, **kwargs)


@needs_ict
def test_shipped_detector_is_a_fitted_classifier_of_this_face(ict_face, monkeypatch):
    from skbiomech.estimators import BiomechAUClassifier

    detector = pretrained.load_au_detector(ict_face)
    assert isinstance(detector, BiomechAUClassifier) and detector.aus_ == list(PRETRAINED_AUS)
    report = pretrained.detector_report()
    assert report["aus"] == list(PRETRAINED_AUS) and report["face"]["n_blendshapes"] == ict_face.n_blendshapes
    monkeypatch.setenv("SKBIOMECH_ICT_FACEKIT", str(ICT))
    assert pretrained.load_au_detector().aus_ == detector.aus_  # the tracker's face by default


@needs_ict
def test_shipped_detector_beats_the_physics_threshold_on_new_subjects(ict_face, held_out):
    """Held-out subjects of another seed than the build's: the report's ranking holds."""
    scores = pretrained.evaluate_detectors(ict_face, held_out, pretrained.load_au_detector(ict_face))
    print({name: (s["mean_f1"], s["mean_force_r"]) for name, s in scores.items()})
    assert scores["learned"]["mean_f1"] > scores["physics"]["mean_f1"] + 0.1
    assert scores["learned"]["mean_f1"] > 0.8
    for name in ("physics", "learned"):
        assert set(scores[name]["f1"]) == set(PRETRAINED_AUS)
        assert scores[name]["mean_force_r"] > 0.6  # activations of unseen subjects recovered
    report = pretrained.detector_report()["held_out"]
    assert report["learned"]["mean_f1"] > report["physics"]["mean_f1"]


def test_force_recovery_is_pearson_r_over_varying_muscles():
    import pandas as pd

    rng = np.random.default_rng(0)
    true = pd.DataFrame({"a": rng.random(50), "b": np.zeros(50)})  # b never moves: left out
    estimated = np.column_stack([2 * true["a"] + 1, rng.random(50)])
    assert pretrained._force_recovery(true, estimated) == {"a": pytest.approx(1.0)}


def test_missing_weights_name_the_build_script(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "_data_file", lambda name: tmp_path / name)
    with pytest.raises(FileNotFoundError, match="scripts/build_detector.py"):
        pretrained.load_au_detector(face=object())
    with pytest.raises(FileNotFoundError, match="scripts/build_detector.py"):
        pretrained.detector_report()


def test_shipped_detector_refuses_another_face(small_face):
    with pytest.raises(ValueError, match="pass that face model"):
        pretrained.load_au_detector(small_face)


@needs_ict
def test_build_script_writes_a_loadable_detector_and_its_report(tmp_path, ict_face):
    env = dict(os.environ, SKBIOMECH_ICT_FACEKIT=str(ICT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_detector.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed["summary"]) == {"physics", "learned"}
    written = json.loads((tmp_path / pretrained.REPORT_FILE).read_text())
    assert written["held_out"] == printed["held_out"] and written["training_data"]["train"]["subjects"] == 3
    from skbiomech.estimators import BiomechAUClassifier

    model = BiomechAUClassifier.load_weights(tmp_path / pretrained.WEIGHTS_FILE, face=ict_face)
    assert model.aus_ == list(PRETRAINED_AUS)


@needs_ict
def test_front_end_statistics_are_what_the_measuring_script_prints():
    measure = _script("measure_front_end").measure
    stats = measure([MEDIA / "single_face.mp4"], landmarker=MEDIA / "face_landmarker.task", ict_facekit=ICT)
    stored = pretrained.front_end_statistics()
    for key in ("noise", "neutral_offset", "p99"):
        np.testing.assert_allclose(stats[key], stored[key], atol=0.01, err_msg=key)
    assert stats["videos"] == stored["videos"]


def test_readme_table_is_the_shipped_report():
    """README's held-out table is what scripts/build_detector.py wrote beside the weights."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    report = pretrained.detector_report()
    header = next(line for line in readme.splitlines() if line.startswith("| detector | AU01"))
    aus = [cell.strip() for cell in header.strip("|").split("|")[1:-2]]
    assert aus == report["aus"]
    for name in ("physics", "learned"):
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")[1:]]
        scores = report["held_out"][name]
        assert cells[:-2] == [f"{100 * scores['f1'][au]:.0f}" for au in aus]
        assert cells[-2:] == [f"{100 * scores['mean_f1']:.1f}", f"{scores['mean_force_r']:.2f}"]
