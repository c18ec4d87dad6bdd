"""The per-muscle static response table."""

import numpy as np
import pytest

from skbiomech.face import FaceModel
from skbiomech.physics import muscle_response_table, muscle_targets


def test_default_face_muscles_move_their_own_shapes(small_face, small_reduced):
    # The default face's blendshape m is muscle m's own static response.
    table = muscle_response_table(small_face, reduced=small_reduced)
    assert list(table.columns) == ["muscle", "targets", "cosine", "largest_shape", "largest_value"]
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
