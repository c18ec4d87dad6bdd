"""The per-muscle static response table."""

import numpy as np
import pytest

from skbiomech.face import FaceModel
from skbiomech.physics import muscle_response_table, muscle_targets


def test_default_face_muscles_move_their_own_shapes(small_face, small_reduced):
    # The default face's blendshape m is muscle m's own static response.
    table = muscle_response_table(small_face, reduced=small_reduced)
    assert list(table.columns) == ["muscle", "line_of_action", "targets", "cosine", "largest_shape", "largest_value"]
    assert (table["line_of_action"] == "anchor").all()  # the default face has no explicit directions
    assert table["muscle"].tolist() == list(small_face.muscle_names)
    np.testing.assert_allclose(table["cosine"], 1.0, atol=1e-6)
    assert (table["largest_shape"] == table["muscle"]).all()
    np.testing.assert_allclose(table["largest_value"], 1.0, rtol=1e-6)
    assert table["targets"].tolist() == list(small_face.muscle_names)


def test_explicit_targets_and_their_cosine(small_face, small_reduced):
    names = small_face.muscle_names
    # Two shapes for a muscle that moves only one: cosine 1/sqrt(2).
    targets = {m: (m,) for m in names}
    targets[names[0]] = (names[0], names[1])
    table = muscle_response_table(small_face, targets, reduced=small_reduced)
    assert table.loc[0, "cosine"] == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert table.loc[0, "targets"] == f"{names[0]}+{names[1]}"


def test_bad_targets(small_face, small_reduced):
    targets = {m: (m,) for m in small_face.muscle_names[1:]}
    with pytest.raises(ValueError, match="no blendshapes for muscles"):
        muscle_response_table(small_face, targets, reduced=small_reduced)
    targets[small_face.muscle_names[0]] = ("noSuchShape",)
    with pytest.raises(ValueError, match="noSuchShape"):
        muscle_response_table(small_face, targets, reduced=small_reduced)


def test_faces_without_known_targets_say_so(small_face):
    state = {k: getattr(small_face, k) for k in ("vertices", "triangles", "blendshapes", "masses",
             "spring_edges", "spring_stiffness", "bending_rigidity", "attachment_stiffness",
             "distribution", "muscle_kinds", "muscle_anchors")}  # fmt: skip
    renamed = [f"shape{k}" for k in range(small_face.n_blendshapes)]
    face = FaceModel(blendshape_names=renamed, muscle_names=small_face.muscle_names, au_muscles={}, **state)
    with pytest.raises(ValueError, match="pass targets"):
        muscle_targets(face)


def test_a_target_field_gives_exactly_its_target(small_face):
    # The force f = K U t settles at c = t exactly (B f = K_B t): a muscle
    # given P = |f| and explicit directions f / |f| moves exactly shape t.
    names = small_face.muscle_names
    target = np.zeros(small_face.n_blendshapes)
    target[[1, 4]] = 1.0
    field = (small_face.stiffness @ np.tensordot(target, small_face.blendshapes, axes=1).ravel()).reshape(-1, 3)
    magnitude = np.linalg.norm(field, axis=1)
    distribution = small_face.distribution.copy()
    distribution[:, 0] = magnitude
    directions = np.zeros((small_face.n_vertices, small_face.n_muscles, 3))
    directions[magnitude > 0, 0] = field[magnitude > 0] / magnitude[magnitude > 0, None]
    state = {k: getattr(small_face, k) for k in ("vertices", "triangles", "blendshapes", "blendshape_names",
             "masses", "spring_edges", "spring_stiffness", "bending_rigidity", "attachment_stiffness",
             "muscle_names", "muscle_kinds", "muscle_anchors", "au_muscles")}  # fmt: skip
    face = FaceModel(**state, distribution=distribution, muscle_directions=directions)
    targets = {m: (m,) for m in names}
    targets[names[0]] = (small_face.blendshape_names[1], small_face.blendshape_names[4])
    table = muscle_response_table(face, targets)
    assert table.loc[0, "cosine"] == pytest.approx(1.0, abs=1e-9)
    assert table.loc[0, "largest_value"] == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(table.loc[1:, "cosine"], 1.0, atol=1e-6)  # the others untouched
