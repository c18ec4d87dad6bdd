import json
import pickle

import numpy as np
import pytest
from scipy.spatial import cKDTree

from skbiomech.face import (
    BP4D_AUS,
    DISFA_AUS,
    FaceModel,
    au_name,
    default_face_model,
    project_to_blendshapes,
)
from skbiomech.face._skin import triangle_areas
from skbiomech.physics import internal_force, reduce_face_model


def _constructor_args(face):
    return dict(
        vertices=face.vertices,
        triangles=face.triangles,
        blendshapes=face.blendshapes,
        blendshape_names=face.blendshape_names,
        masses=face.masses,
        spring_edges=face.spring_edges,
        spring_stiffness=face.spring_stiffness,
        bending_rigidity=face.bending_rigidity,
        attachment_stiffness=face.attachment_stiffness,
        muscle_names=face.muscle_names,
        distribution=face.distribution,
        muscle_kinds=face.muscle_kinds,
        muscle_anchors=face.muscle_anchors,
        au_muscles=face.au_muscles,
    )


def _with(face, **changes):
    args = _constructor_args(face)
    args.update(changes)
    return FaceModel(**args)


# -- the default face ------------------------------------------------------------


def test_default_face_anatomy(small_face):
    face = small_face
    assert face.n_muscles >= 20
    assert face.n_blendshapes == face.n_muscles
    assert {"sheet", "sphincter"} == set(face.muscle_kinds)
    for muscle in ("orbicularis_oris_marginalis", "orbicularis_oculi_orbitalis_L", "mentalis", "jaw_depressor"):
        assert muscle in face.muscle_names
    assert set(BP4D_AUS) | set(DISFA_AUS) <= set(face.aus)
    left = [m for m in face.muscle_names if m.endswith("_L")]
    assert len(left) >= 10 and all(m[:-2] + "_R" in face.muscle_names for m in left)


def test_default_face_is_deterministic_and_sized_by_resolution():
    a, b = default_face_model(resolution=21), default_face_model(resolution=21)
    np.testing.assert_array_equal(a.blendshapes, b.blendshapes)
    np.testing.assert_array_equal(a.distribution, b.distribution)
    assert default_face_model(resolution=31).n_vertices > 2 * a.n_vertices
    assert 2000 < default_face_model().n_vertices < 5000


@pytest.mark.parametrize("muscle", ["zygomaticus_major", "frontalis_medialis", "orbicularis_oculi_orbitalis"])
def test_bilateral_blendshapes_mirror(small_face, muscle):
    face = small_face
    mirror = cKDTree(face.vertices).query(face.vertices * [-1, 1, 1])[1]
    left = face.blendshapes[face.blendshape_names.index(muscle + "_L")]
    right = face.blendshapes[face.blendshape_names.index(muscle + "_R")]
    np.testing.assert_allclose(left[mirror] * [-1, 1, 1], right, atol=1e-10)


@pytest.mark.parametrize(
    "muscle, axis, sign",
    [
        ("frontalis_medialis_L", 1, +1),  # brow raised
        ("zygomaticus_major_L", 1, +1),  # lip corner up
        ("zygomaticus_major_L", 0, +1),  # ... and out to the subject's left
        ("depressor_anguli_oris_L", 1, -1),  # lip corner down
        ("jaw_depressor", 1, -1),  # chin down
    ],
)
def test_blendshapes_move_the_way_the_muscle_pulls(small_face, muscle, axis, sign):
    shape = small_face.blendshapes[small_face.blendshape_names.index(muscle)]
    peak = np.argmax(np.linalg.norm(shape, axis=1))
    assert sign * shape[peak, axis] > 0


def test_blendshapes_are_quasistatic_muscle_responses(small_face, small_reduced):
    # K_B c = G a at equilibrium and B_m = K^-1 F_m, so c = a: G_act == K_B.
    np.testing.assert_allclose(
        small_reduced.force_activation, small_reduced.stiffness, atol=1e-8 * np.abs(small_reduced.stiffness).max()
    )


def test_masses_are_lumped_triangle_areas(small_face):
    total_area = triangle_areas(small_face.vertices, small_face.triangles).sum()
    np.testing.assert_allclose(small_face.masses.sum(), total_area)  # density 1 g/cm^2
    assert 180 < total_area < 400  # a face in cm^2


def test_stiffness_is_symmetric_positive_definite(small_face, rng):
    k = small_face.stiffness
    assert abs(k - k.T).max() < 1e-9 * abs(k).max()
    u = rng.normal(size=(k.shape[0], 5))
    assert np.all(np.einsum("ij,ij->j", u, k @ u) > 0)


def test_attachment_is_stiffer_along_the_normal(small_face):
    normal_stiffness, tangential_stiffness = small_face.attachment_stiffness[:, 1], small_face.attachment_stiffness[:, 0]
    assert np.all(normal_stiffness > tangential_stiffness)


def test_stiffness_is_the_jacobian_of_the_internal_force(small_face, rng):
    direction = rng.normal(size=(small_face.n_vertices, 3))
    eps = 1e-6
    numeric = (
        internal_force(small_face, eps * direction) - internal_force(small_face, -eps * direction)
    ) / (2 * eps)
    np.testing.assert_allclose(numeric, small_face.stiffness @ direction.ravel(), rtol=1e-5, atol=1e-3)


def test_muscle_directions_point_at_anchors(small_face):
    directions = small_face.muscle_directions
    active = small_face.distribution > 0
    np.testing.assert_allclose(np.linalg.norm(directions[active], axis=1), 1.0)
    assert np.all(directions[~active] == 0)


def test_au_muscle_indices(small_face):
    names = [small_face.muscle_names[i] for i in small_face.au_muscle_indices(12)]
    assert names == ["zygomaticus_major_L", "zygomaticus_major_R"]
    with pytest.raises(ValueError, match="AU45 is not modelled"):
        small_face.au_muscle_indices("AU45")


@pytest.mark.parametrize("value, expected", [(1, "AU01"), ("12", "AU12"), ("au4", "AU04"), ("AU25", "AU25")])
def test_au_name(value, expected):
    assert au_name(value) == expected


def test_au_name_rejects_garbage():
    with pytest.raises(ValueError, match="not an action unit"):
        au_name("smile")


# -- persistence ---------------------------------------------------------------


def test_npz_round_trip(small_face, tmp_path):
    path = tmp_path / "sub" / "face.npz"
    small_face.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["face.npz"]  # no temp left
    loaded = FaceModel.load(path)
    for key in ("vertices", "triangles", "blendshapes", "distribution", "masses", "muscle_anchors"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(small_face, key))
    assert loaded.au_muscles == small_face.au_muscles
    assert loaded.muscle_kinds == small_face.muscle_kinds
    assert loaded.damping == small_face.damping
    assert abs(loaded.stiffness - small_face.stiffness).max() == 0


def test_pickle_round_trip(small_face):
    _ = small_face.stiffness  # populate the cache; it must not be pickled
    payload = pickle.dumps(small_face)
    loaded = pickle.loads(payload)
    assert "_stiffness_parts" not in loaded.__dict__
    np.testing.assert_array_equal(loaded.blendshapes, small_face.blendshapes)
    assert abs(loaded.stiffness - small_face.stiffness).max() == 0


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No face model file"):
        FaceModel.load(tmp_path / "missing.npz")
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a face model file"):
        FaceModel.load(bogus)


def _truncated(path, data):
    path.write_bytes(data[: len(data) // 2])


def _damaged(path, data):
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(200) + data[middle + 200 :])


def _text(path, data):
    path.write_text("subject,sequence,frame\n")


def _pickle(path, data):
    path.write_bytes(pickle.dumps({"vertices": [0.0]}))


def _object_arrays(path, data):
    np.savez(path, vertices=np.array([object()], dtype=object))


def _bad_meta(path, data):
    with np.load(path.with_name("face.npz")) as archive:
        arrays = dict(archive)
    np.savez(path, **{**arrays, "meta": np.array("{not json")})


@pytest.mark.parametrize(
    "damage, match",
    [
        (_truncated, "truncated or damaged"),
        (_damaged, "truncated or damaged"),
        (_text, "not an .npz archive"),
        (_pickle, "is a Python pickle"),
        (_object_arrays, "pickled Python objects"),
        (_bad_meta, "not valid JSON"),
    ],
)
def test_damaged_files_name_the_file_and_the_problem(small_face, tmp_path, damage, match):
    small_face.save(tmp_path / "face.npz")
    path = tmp_path / "broken.npz"
    damage(path, (tmp_path / "face.npz").read_bytes())
    with pytest.raises(ValueError, match=match) as error:
        FaceModel.load(path)
    assert str(path) in str(error.value)
    assert "allow_pickle" not in str(error.value)  # never advise loading code


def test_fingerprint_is_stable_and_tells_faces_apart(small_face, tmp_path):
    small_face.save(tmp_path / "face.npz")
    fingerprint = small_face.fingerprint
    assert len(fingerprint) == 64 and fingerprint == default_face_model(resolution=21).fingerprint
    assert FaceModel.load(tmp_path / "face.npz").fingerprint == fingerprint
    assert pickle.loads(pickle.dumps(small_face)).fingerprint == fingerprint
    copy = _with(small_face).fingerprint
    assert _with(small_face, name="renamed", notice="text").fingerprint == copy  # free text is not physics
    moved = small_face.vertices.copy()
    moved[0, 0] += 1e-9
    assert _with(small_face, vertices=moved).fingerprint != copy
    assert _with(small_face, damping=(5.0, 0.02)).fingerprint != copy
    assert default_face_model(resolution=15).fingerprint != fingerprint
    with pytest.raises(AttributeError):
        small_face.fingerprint = "0" * 64


def test_arrays_are_read_only(small_face):
    with pytest.raises(ValueError):
        small_face.vertices[0, 0] = 1.0


# -- validation ----------------------------------------------------------------


def _nan_vertices(face):
    v = face.vertices.copy()
    v[3, 1] = np.nan
    return v


def _negative_distribution(face):
    p = face.distribution.copy()
    p[0, 0] = -1.0
    return p


def _zero_column(face):
    p = face.distribution.copy()
    p[:, 2] = 0.0
    return p


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda f: {"vertices": f.vertices[:, :2]}, ValueError, r"vertices must have shape"),
        (lambda f: {"vertices": _nan_vertices(f)}, ValueError, "NaN"),
        (lambda f: {"blendshapes": f.blendshapes[:, :-1]}, ValueError, "blendshapes must have shape"),
        (lambda f: {"blendshape_names": f.blendshape_names[:-1]}, ValueError, "blendshape_names has"),
        (lambda f: {"triangles": f.triangles + f.n_vertices}, ValueError, "indexes vertices outside"),
        (lambda f: {"masses": -f.masses}, ValueError, "masses must be positive"),
        (lambda f: {"distribution": _negative_distribution(f)}, ValueError, "distribution must be non-negative"),
        (lambda f: {"distribution": _zero_column(f)}, ValueError, "all-zero columns"),
        (lambda f: {"distribution": f.distribution[:, :-1]}, ValueError, "distribution must have shape"),
        (lambda f: {"muscle_kinds": ("ring",) * f.n_muscles}, ValueError, "muscle_kinds"),
        (lambda f: {"au_muscles": {"AU12": ("nonexistent",)}}, ValueError, "does not have"),
        (lambda f: {"muscle_names": (f.muscle_names[0],) * f.n_muscles}, ValueError, "must be unique"),
        (lambda f: {"triangles": f.triangles.astype(float) + 0.5}, TypeError, "integer vertex indices"),
    ],
)
def test_invalid_face_models_are_rejected(small_face, change, error, match):
    with pytest.raises(error, match=match):
        _with(small_face, **change(small_face))


@pytest.mark.parametrize("resolution, error", [(5, ValueError), (21.0, TypeError), ("21", TypeError)])
def test_default_face_resolution_is_checked(resolution, error):
    with pytest.raises(error, match="resolution"):
        default_face_model(resolution=resolution)


def test_dependent_blendshapes_give_a_clear_error(small_face):
    shapes = small_face.blendshapes.copy()
    shapes[1] = shapes[0]
    face = _with(small_face, blendshapes=shapes)
    with pytest.raises(ValueError, match="not positive definite"):
        reduce_face_model(face)


# -- projection ------------------------------------------------------------------


@pytest.mark.parametrize("batch", [(), (1,), (3,), (2, 4)])
def test_projection_recovers_coefficients(small_face, rng, batch):
    coefficients = rng.normal(size=(*batch, small_face.n_blendshapes))
    recovered = project_to_blendshapes(small_face.mesh(coefficients), small_face)
    assert recovered.shape == coefficients.shape
    np.testing.assert_allclose(recovered, coefficients, atol=1e-8)


def test_projection_is_least_squares(small_face, rng):
    vertices = small_face.vertices + 0.01 * rng.normal(size=small_face.vertices.shape)
    c = project_to_blendshapes(vertices, small_face)
    basis = small_face.blendshapes.reshape(small_face.n_blendshapes, -1)
    residual = (vertices - small_face.mesh(c)).ravel()
    np.testing.assert_allclose(basis @ residual, 0.0, atol=1e-10)  # normal equations


@pytest.mark.parametrize(
    "vertices, match",
    [(np.zeros((10, 3)), "on the face's topology"), (np.zeros(3), "must have shape")],
)
def test_projection_rejects_wrong_shapes(small_face, vertices, match):
    with pytest.raises(ValueError, match=match):
        project_to_blendshapes(vertices, small_face)


def test_projection_rejects_nan(small_face):
    vertices = small_face.vertices.copy()
    vertices[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        project_to_blendshapes(vertices, small_face)


# -- explicit muscle directions --------------------------------------------------

# default_face_model(resolution=21) before explicit directions existed: adding
# them must change neither its hash nor its physics.
_DEFAULT_21_FINGERPRINT = "6f3f070519b251ab98d19447ca0a87ab01abc98bb95c2713b0ec6ab48d8497c3"


def _explicit(face, muscles=(0,), direction=(0.0, 1.0, 0.0)):
    """Directions (N, M, 3): a uniform unit ``direction`` over the areas of ``muscles``."""
    directions = np.zeros((face.n_vertices, face.n_muscles, 3))
    for j in muscles:
        directions[face.distribution[:, j] > 0, j] = direction
    return directions


def test_default_face_is_unchanged_by_explicit_directions(small_face, small_reduced):
    assert small_face.fingerprint == _DEFAULT_21_FINGERPRINT
    assert small_face.explicit_directions is None
    assert not small_face.explicit_muscles.any()
    # All-zero directions are no directions: same face, same hash.
    none = _with(small_face, muscle_directions=np.zeros((small_face.n_vertices, small_face.n_muscles, 3)))
    assert none.explicit_directions is None and none.fingerprint == _with(small_face).fingerprint
    # Giving every muscle its own anchor pull explicitly changes nothing physical.
    same = _with(small_face, muscle_directions=small_face.muscle_directions)
    assert same.explicit_muscles.all()
    np.testing.assert_array_equal(same.muscle_force_patterns(), small_face.muscle_force_patterns())
    np.testing.assert_array_equal(
        reduce_face_model(same).force_activation, small_reduced.force_activation
    )
    assert same.fingerprint != _with(small_face).fingerprint  # the directions are part of the model


def test_explicit_directions_replace_the_anchor_pull_of_their_muscles(small_face):
    face = _with(small_face, muscle_directions=_explicit(small_face, muscles=(0, 3)))
    assert face.explicit_muscles.tolist() == [j in (0, 3) for j in range(face.n_muscles)]
    active = face.distribution[:, 0] > 0
    np.testing.assert_array_equal(face.muscle_directions[active, 0], np.tile([0.0, 1.0, 0.0], (active.sum(), 1)))
    others = [j for j in range(face.n_muscles) if j not in (0, 3)]
    np.testing.assert_array_equal(face.muscle_directions[:, others], small_face.muscle_directions[:, others])
    patterns = face.muscle_force_patterns()
    np.testing.assert_array_equal(patterns[0, :, 1], face.distribution[:, 0])
    assert np.all(patterns[0, :, [0, 2]] == 0)
    np.testing.assert_array_equal(face.muscle_anchors, small_face.muscle_anchors)  # kept, for display
    assert face.fingerprint != small_face.fingerprint
    assert _with(small_face, muscle_directions=_explicit(small_face, muscles=(0, 3))).fingerprint == face.fingerprint
    assert _with(small_face, muscle_directions=_explicit(small_face, muscles=(0,))).fingerprint != face.fingerprint


def test_explicit_directions_round_trip(small_face, tmp_path):
    face = _with(small_face, muscle_directions=_explicit(small_face, muscles=(1,), direction=(0.6, 0.0, 0.8)))
    face.save(tmp_path / "face.npz")
    with np.load(tmp_path / "face.npz") as archive:
        assert '"format_version": 2' in str(archive["meta"])
    loaded = FaceModel.load(tmp_path / "face.npz")
    np.testing.assert_array_equal(loaded.explicit_directions, face.explicit_directions)
    np.testing.assert_array_equal(loaded.muscle_force_patterns(), face.muscle_force_patterns())
    assert loaded.fingerprint == face.fingerprint
    unpickled = pickle.loads(pickle.dumps(face))
    np.testing.assert_array_equal(unpickled.muscle_directions, face.muscle_directions)
    assert unpickled.fingerprint == face.fingerprint
    with pytest.raises(ValueError):
        loaded.explicit_directions[0, 0, 0] = 1.0  # read-only like every array


def test_faces_without_explicit_directions_keep_format_1(small_face, tmp_path):
    small_face.save(tmp_path / "face.npz")
    with np.load(tmp_path / "face.npz") as archive:
        assert "muscle_directions" not in archive.files
        assert '"format_version": 1' in str(archive["meta"])
    # A pickle from before explicit directions (no such key) still loads.
    state = small_face.__getstate__()
    del state["explicit_directions"]
    old = FaceModel.__new__(FaceModel)
    old.__setstate__(state)
    assert old.explicit_directions is None and old.fingerprint == small_face.fingerprint


def _rewrite_meta(path, target, **changes):
    with np.load(path) as archive:
        arrays = dict(archive)
    meta = {**json.loads(str(arrays["meta"])), **changes}
    arrays.pop("muscle_directions", None)
    np.savez(target, **{**arrays, "meta": np.array(json.dumps(meta))})


def test_format_2_without_directions_or_unknown_formats_are_refused(small_face, tmp_path):
    small_face.save(tmp_path / "face.npz")
    _rewrite_meta(tmp_path / "face.npz", tmp_path / "two.npz", format_version=2)
    with pytest.raises(ValueError, match="lacks \\['muscle_directions'\\]"):
        FaceModel.load(tmp_path / "two.npz")
    _rewrite_meta(tmp_path / "face.npz", tmp_path / "three.npz", format_version=3)
    with pytest.raises(ValueError, match="format 3; this version of skbiomech reads formats 1, 2"):
        FaceModel.load(tmp_path / "three.npz")


def _scaled(face):
    d = _explicit(face)
    d[face.distribution[:, 0] > 0, 0] *= 1.01
    return d


def _outside(face):
    d = _explicit(face)
    d[np.flatnonzero(face.distribution[:, 0] == 0)[0], 0] = (1.0, 0.0, 0.0)
    return d


def _nan_directions(face):
    d = _explicit(face)
    d[0, 0, 0] = np.nan
    return d


@pytest.mark.parametrize(
    "directions, match",
    [
        (lambda f: _explicit(f)[:, :-1], "muscle_directions must have shape"),
        (lambda f: _explicit(f)[..., :2], "muscle_directions must have shape"),
        (lambda f: _explicit(f)[0], "muscle_directions"),
        (_nan_directions, "NaN"),
        (_scaled, "must be unit vectors where distribution is positive"),
        (lambda f: 0.5 * _explicit(f), "must be unit vectors"),
        (_outside, "must be zero where distribution is 0"),
    ],
)
def test_invalid_explicit_directions_are_rejected(small_face, directions, match):
    with pytest.raises(ValueError, match=match) as error:
        _with(small_face, muscle_directions=directions(small_face))
    if "unit" in match or "zero where" in match:
        assert small_face.muscle_names[0] in str(error.value)  # names the muscle
