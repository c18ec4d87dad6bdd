import numpy as np
import pandas as pd
import pytest

from skbiomech.datasets._events import BASE_RATES, DISFA_BASE_RATES, plan_event_rates
from skbiomech.datasets._synthetic import make_synthetic_au_dataset, subject_face_model
from skbiomech.face import BP4D_AUS, DISFA_AUS
from skbiomech.physics import reduce_face_model


@pytest.fixture(scope="module")
def small(small_face):
    return make_synthetic_au_dataset(
        n_subjects=3, n_sequences=2, sequence_length=(40, 60), face=small_face, random_state=0
    )


def test_tables_follow_the_frame_table_contract(small, small_face):
    frames = small.frames
    assert list(frames.columns[:3]) == ["subject", "sequence", "frame"]
    assert list(frames.columns[3:]) == list(small_face.blendshape_names)
    n = len(frames)
    for table in (small.labels, small.forces, small.intensities, small.poses):
        assert len(table) == n and table.index.equals(frames.index)
    assert list(small.labels.columns) == list(BP4D_AUS)
    assert list(small.forces.columns) == list(small_face.muscle_names)
    np.testing.assert_array_equal(small.groups, frames["subject"].to_numpy())
    assert set(np.unique(small.labels.to_numpy())) <= {0.0, 1.0}
    for (_, sequence), rows in frames.groupby(["subject", "sequence"], sort=False):
        np.testing.assert_array_equal(rows["frame"].to_numpy(), np.arange(len(rows)))
    # Sequences never span subjects and are contiguous.
    keys = frames["subject"] + "/" + frames["sequence"]
    assert (keys != keys.shift()).sum() == 3 * 2
    assert np.all(np.isfinite(frames.iloc[:, 3:].to_numpy()))
    assert "subjects" in small and len(small.subjects) == 3
    assert "Synthetic AU benchmark" in small.DESCR


def test_deterministic_for_a_seed(small_face):
    kwargs = dict(n_subjects=2, n_sequences=1, sequence_length=30, face=small_face)
    a = make_synthetic_au_dataset(random_state=7, **kwargs)
    b = make_synthetic_au_dataset(random_state=7, **kwargs)
    c = make_synthetic_au_dataset(random_state=8, **kwargs)
    pd.testing.assert_frame_equal(a.frames, b.frames)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    assert not a.frames.iloc[:, 3:].equals(c.frames.iloc[:, 3:])


@pytest.mark.parametrize(
    "aus, expected",
    [("bp4d", BP4D_AUS), ("disfa", DISFA_AUS), (["AU12", 6, "au26"], ("AU12", "AU06", "AU26"))],
)
def test_au_sets(small_face, aus, expected):
    data = make_synthetic_au_dataset(n_subjects=1, n_sequences=1, sequence_length=20, aus=aus, face=small_face, random_state=0)
    assert tuple(data.labels.columns) == tuple(expected)


@pytest.fixture(scope="module")
def medium(small_face):
    return make_synthetic_au_dataset(n_subjects=24, n_sequences=4, sequence_length=300, face=small_face, random_state=3)


def test_base_rates_follow_bp4d(medium):
    rates = medium.labels.mean()
    for au in BP4D_AUS:
        assert abs(rates[au] - BASE_RATES[au]) < 0.06, (au, rates[au])
    frequent, rare = ["AU06", "AU07", "AU10", "AU12"], ["AU01", "AU02", "AU15", "AU23", "AU24"]
    assert rates[frequent].min() > rates[rare].max()


def test_disfa_rates(small_face):
    data = make_synthetic_au_dataset(n_subjects=20, n_sequences=3, sequence_length=300, aus="disfa", face=small_face, random_state=4)
    rates = data.labels.mean()
    for au in DISFA_AUS:
        assert abs(rates[au] - DISFA_BASE_RATES[au]) < 0.05, (au, rates[au])


@pytest.mark.parametrize("pair", [("AU06", "AU12"), ("AU01", "AU02"), ("AU04", "AU07"), ("AU17", "AU24"), ("AU23", "AU24")])
def test_composite_expressions_co_occur(medium, pair):
    correlation = medium.labels.corr()
    assert correlation.loc[pair] > 0.12
    assert correlation.loc[pair] > correlation.loc["AU01", "AU12"] + 0.1


def test_rates_plan_never_oversupplies():
    single, composite = plan_event_rates(list(BP4D_AUS))
    assert set(composite) == {"smile", "brow_raise", "frown", "chin_raise", "lip_press"}
    assert all(rate >= 0 for rate in single.values())


def test_forces_are_the_ground_truth_of_the_coefficients(small_face):
    data = make_synthetic_au_dataset(
        n_subjects=2, n_sequences=2, sequence_length=200, face=small_face,
        coefficient_noise=0.0, head_motion=0.0, random_state=1,
    )  # fmt: skip
    # Blendshapes are quasi-static muscle responses: c tracks strength * activation.
    for muscle in ("zygomaticus_major_L", "frontalis_medialis_R", "orbicularis_oculi_palpebralis_L"):
        r = np.corrcoef(data.forces[muscle], data.frames[muscle])[0, 1]
        assert r > 0.9, (muscle, r)


def test_subject_face_reduces_to_scaled_matrices(small_face, small_reduced, rng):
    strength = rng.uniform(0.8, 1.2, small_face.n_muscles)
    face = subject_face_model(small_face, 1.3, 0.7, 1.5, strength)
    reduced = reduce_face_model(face)
    alpha, beta = small_face.damping
    np.testing.assert_allclose(reduced.mass, 1.3 * small_reduced.mass, rtol=1e-12)
    np.testing.assert_allclose(reduced.stiffness, 0.7 * small_reduced.stiffness, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(
        reduced.damping, 1.5 * (alpha * 1.3 * small_reduced.mass + beta * 0.7 * small_reduced.stiffness), rtol=1e-10, atol=1e-8
    )
    np.testing.assert_allclose(reduced.force_activation, small_reduced.force_activation * strength, rtol=1e-10, atol=1e-8)


def test_cartesian_simulator_agrees_with_reduced(small_face):
    kwargs = dict(n_subjects=1, n_sequences=1, sequence_length=40, face=small_face, coefficient_noise=0.0, head_motion=0.0, random_state=2)
    reduced = make_synthetic_au_dataset(**kwargs).frames.iloc[:, 3:].to_numpy()
    cartesian = make_synthetic_au_dataset(simulator="cartesian", **kwargs).frames.iloc[:, 3:].to_numpy()
    assert np.linalg.norm(cartesian - reduced) / np.linalg.norm(cartesian) < 0.15


def test_noise_options(small_face):
    kwargs = dict(n_subjects=2, n_sequences=1, sequence_length=100, face=small_face, random_state=5)
    clean = make_synthetic_au_dataset(coefficient_noise=0.0, head_motion=0.0, **kwargs)
    noisy = make_synthetic_au_dataset(coefficient_noise=0.05, head_motion=0.0, **kwargs)
    residual = (noisy.frames.iloc[:, 3:] - clean.frames.iloc[:, 3:]).to_numpy()
    assert abs(residual.std() - 0.05) < 0.005
    flipped = make_synthetic_au_dataset(label_noise=0.1, coefficient_noise=0.0, head_motion=0.0, **kwargs)
    assert 0.07 < (flipped.labels != clean.labels).to_numpy().mean() < 0.13
    moving = make_synthetic_au_dataset(coefficient_noise=0.0, head_motion=1.0, **kwargs)
    assert np.abs(moving.poses.to_numpy()[:, :3]).max() < 0.2  # radians: small
    assert not np.allclose(moving.frames.iloc[:, 3:], clean.frames.iloc[:, 3:])


def test_per_shape_noise_and_subject_offsets(small_face):
    """Per-blendshape jitter and a static per-subject offset; the rest of the data is unchanged."""
    k = small_face.n_blendshapes
    kwargs = dict(n_subjects=3, n_sequences=2, sequence_length=80, face=small_face, head_motion=0.0, random_state=7)
    clean = make_synthetic_au_dataset(coefficient_noise=0.0, **kwargs)
    scales = np.linspace(0.0, 0.08, k)
    noisy = make_synthetic_au_dataset(coefficient_noise=scales, **kwargs)
    residual = (noisy.frames.iloc[:, 3:] - clean.frames.iloc[:, 3:]).to_numpy()
    np.testing.assert_allclose(residual.std(axis=0), scales, atol=0.012)
    assert make_synthetic_au_dataset(coefficient_noise=np.full(k, 0.05), **kwargs).frames.equals(
        make_synthetic_au_dataset(coefficient_noise=0.05, **kwargs).frames
    )
    offset = make_synthetic_au_dataset(coefficient_noise=0.0, subject_offset=0.3, **kwargs)
    shift = (offset.frames.iloc[:, 3:] - clean.frames.iloc[:, 3:]).groupby(offset.frames["subject"])
    np.testing.assert_allclose(shift.std().to_numpy(), 0.0, atol=1e-12)  # static per subject
    per_subject = shift.mean().to_numpy()
    assert 0.15 < per_subject.std() < 0.45 and not np.allclose(per_subject[0], per_subject[1])
    for table in ("labels", "forces", "intensities"):
        assert offset[table].equals(clean[table])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_subjects=0), ValueError, "n_subjects"),
        (dict(n_sequences=1.5), ValueError, "n_sequences"),
        (dict(sequence_length=(50, 10)), ValueError, "sequence_length"),
        (dict(sequence_length=1), ValueError, "sequence_length"),
        (dict(fps=0), ValueError, "fps"),
        (dict(aus="ck+"), ValueError, "'bp4d', 'disfa'"),
        (dict(aus=["AU45"]), ValueError, "does not model"),
        (dict(aus=[]), ValueError, "non-empty"),
        (dict(simulator="mujoco"), ValueError, "simulator"),
        (dict(label_noise=0.7), ValueError, "label_noise"),
        (dict(coefficient_noise=-1), ValueError, "coefficient_noise"),
        (dict(coefficient_noise=[0.1, 0.2]), ValueError, "one such number per blendshape"),
        (dict(coefficient_noise=np.nan), ValueError, "coefficient_noise"),
        (dict(subject_offset=-0.1), ValueError, "subject_offset"),
        (dict(face="default"), TypeError, "FaceModel"),
        (dict(images=3), ValueError, "images"),
    ],
)
def test_bad_arguments(small_face, kwargs, error, match):
    args = dict(n_subjects=1, n_sequences=1, sequence_length=10, face=small_face)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        make_synthetic_au_dataset(**args)


def test_images_in_memory(small_face):
    data = make_synthetic_au_dataset(
        n_subjects=2, n_sequences=1, sequence_length=6, face=small_face, images="memory", image_size=32, random_state=0
    )
    images = data.frames["image"]
    assert len(images) == 12 and all(image.shape == (32, 32, 3) and image.dtype == np.uint8 for image in images)
    # Subjects differ in skin tone, lighting and identity.
    assert not np.array_equal(images.iloc[0], images.iloc[6])


def test_images_written_to_a_cache_folder(small_face, tmp_path):
    folder = tmp_path / "cache"
    data = make_synthetic_au_dataset(
        n_subjects=1, n_sequences=2, sequence_length=3, face=small_face, images=folder, image_size=32, random_state=0
    )
    paths = data.frames["image"].tolist()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert paths[0].endswith("S01_T1_00000.png")
    from PIL import Image

    assert np.asarray(Image.open(paths[0])).shape == (32, 32, 3)


def test_subject_face_keeps_explicit_directions(small_face):
    from skbiomech.face import FaceModel

    directions = np.zeros((small_face.n_vertices, small_face.n_muscles, 3))
    directions[small_face.distribution[:, 2] > 0, 2] = (0.0, 0.0, -1.0)
    state = {key: getattr(small_face, key) for key in (
        "vertices", "triangles", "blendshapes", "blendshape_names", "masses", "spring_edges",
        "spring_stiffness", "bending_rigidity", "attachment_stiffness", "muscle_names",
        "distribution", "muscle_kinds", "muscle_anchors", "au_muscles")}  # fmt: skip
    face = FaceModel(**state, muscle_directions=directions)
    strength = np.linspace(0.8, 1.2, face.n_muscles)
    subject = subject_face_model(face, 1.1, 0.9, 1.2, strength)
    np.testing.assert_array_equal(subject.explicit_directions, face.explicit_directions)
    np.testing.assert_array_equal(subject.muscle_directions, face.muscle_directions)
    np.testing.assert_allclose(
        subject.muscle_force_patterns(), face.muscle_force_patterns() * strength[:, None, None]
    )
    # The base face without explicit directions gives a subject without them.
    assert subject_face_model(small_face).explicit_directions is None
