"""Weights files: the face they were trained on is checked; damaged files give clear errors."""

import pickle

import pytest
import torch
from estimator_settings import FAST

from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.face import FaceModel

_FACE_ARGS = (
    "vertices", "triangles", "blendshapes", "blendshape_names", "masses", "spring_edges", "spring_stiffness",
    "bending_rigidity", "attachment_stiffness", "muscle_names", "distribution", "muscle_kinds",
    "muscle_anchors", "au_muscles", "damping", "vertex_regions", "region_names",
)  # fmt: skip


def _face_like(face, **changes):
    args = {key: getattr(face, key) for key in _FACE_ARGS}
    return FaceModel(**{**args, **changes})


@pytest.fixture(scope="module")
def weights(small_face, dataset, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "forces.pt"
    BlendshapeODEForceEstimator(small_face, **{**FAST, "max_epochs": 1}).fit(dataset.frames).save_weights(path)
    return path


@pytest.mark.parametrize(
    "change",
    [
        lambda f: {"masses": f.masses * 2},
        lambda f: {"blendshapes": f.blendshapes * 1.01},
        lambda f: {"damping": (f.damping[0] * 2, f.damping[1])},
    ],
)
def test_another_face_with_the_same_blendshape_names_is_refused(weights, small_face, dataset, change):
    copy = _face_like(small_face, name="a copy")  # an equal face, another object and name: fine
    assert BlendshapeODEForceEstimator.load_weights(weights, face=copy).transform(dataset.frames).shape[0]
    other = _face_like(small_face, name="other", **change(small_face))
    with pytest.raises(ValueError, match="trained on another face model") as error:
        BlendshapeODEForceEstimator.load_weights(weights, face=other)
    message = str(error.value)
    assert str(weights) in message and small_face.fingerprint[:12] in message and other.fingerprint[:12] in message
    assert repr(small_face.name) in message and "'other'" in message


@pytest.mark.parametrize("relative_change, loads", [(1e-9, True), (1e-3, False)])
def test_a_face_equal_up_to_floating_point_noise_loads(weights, small_face, dataset, relative_change, loads):
    """A computed face (the ICT calibration) differs in the last bits between machines: its
    fingerprint changes, its physics does not."""
    noisy = _face_like(small_face, distribution=small_face.distribution * (1 + relative_change))
    assert noisy.fingerprint != small_face.fingerprint
    if loads:
        again = BlendshapeODEForceEstimator.load_weights(weights, face=noisy)
        original = BlendshapeODEForceEstimator.load_weights(weights, face=small_face)
        assert (again.transform(dataset.frames) == original.transform(dataset.frames)).all()
    else:
        with pytest.raises(ValueError, match="trained on another face model"):
            BlendshapeODEForceEstimator.load_weights(weights, face=noisy)


def _truncated(path, data):
    path.write_bytes(data[: len(data) // 2])


def _cut_tail(path, data):
    path.write_bytes(data[:-10])


def _zeroed_middle(path, data):
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])


def _empty(path, data):
    path.write_bytes(b"")


def _text(path, data):
    path.write_text("not weights\n")


def _pickled_objects(path, data):
    torch.save({"format": 1, "callback": FaceModel}, path)  # a class: code, not weights


def _plain_pickle(path, data):
    path.write_bytes(pickle.dumps({"format": 1}))


def _face_file(path, data, face):
    face.save(path.with_suffix(".npz"))
    path.write_bytes(path.with_suffix(".npz").read_bytes())


@pytest.mark.parametrize(
    "damage, match",
    [
        (_truncated, "truncated or damaged"),
        (_cut_tail, "truncated or damaged"),
        (_zeroed_middle, "truncated or damaged|is damaged"),
        (_empty, "not a file written by save_weights"),
        (_text, "not a file written by save_weights"),
        (_pickled_objects, "pickled Python objects"),
        (_plain_pickle, "save_weights"),
        ("face", "save_weights"),
    ],
)
def test_damaged_or_foreign_files_name_the_file_and_the_problem(weights, small_face, tmp_path, damage, match):
    path = tmp_path / "broken.pt"
    if damage == "face":
        _face_file(path, None, small_face)
    else:
        damage(path, weights.read_bytes())
    with pytest.raises(ValueError, match=match) as error:
        BlendshapeODEForceEstimator.load_weights(path, face=small_face)
    assert str(path) in str(error.value)
    assert "weights_only" not in str(error.value)  # never advise running code from a file


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No skbiomech weights file at"):
        BlendshapeODEForceEstimator.load_weights(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="is a folder"):
        BlendshapeODEForceEstimator.load_weights(tmp_path)
