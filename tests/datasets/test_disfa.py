"""Tests of the DISFA loader on tiny fake folders in the real file layout."""

import os

import numpy as np
import pytest

from skbiomech.datasets._disfa import DISFA_CODED_AUS, load_disfa
from skbiomech.face import DISFA_AUS

N_FRAMES = 5


def _intensities(subject_index, au_index):
    """A distinct, reproducible 0-5 pattern per subject and AU."""
    return [(subject_index + au_index + f) % 6 for f in range(N_FRAMES)]


def _write_subject(root, subject, subject_index, skip=()):
    folder = root / "ActionUnit_Labels" / subject
    folder.mkdir(parents=True)
    for j, au in enumerate(DISFA_CODED_AUS):
        if au in skip:
            continue
        lines = [f"{f + 1},{v}" for f, v in enumerate(_intensities(subject_index, j))]
        (folder / f"{subject}_au{int(au[2:])}.txt").write_text("\n".join(lines) + "\n")
    return folder


SUBJECTS = ("SN001", "SN002", "SN009")


@pytest.fixture
def disfa(tmp_path):
    for i, subject in enumerate(SUBJECTS):
        _write_subject(tmp_path, subject, i)
    return tmp_path


def _snapshot(root):
    paths = [dp for dp, _, _ in os.walk(root)] + [
        os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
    ]
    return sorted((os.path.relpath(p, root), os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in paths)


def test_tables(disfa):
    data = load_disfa(disfa)
    frames = data.frames
    assert list(frames.columns) == ["subject", "sequence", "frame"]
    assert frames["subject"].tolist() == [s for s in SUBJECTS for _ in range(N_FRAMES)]
    assert frames["sequence"].equals(frames["subject"])
    assert frames["frame"].tolist() == list(range(N_FRAMES)) * 3  # 0-based
    assert list(data.intensities.columns) == list(DISFA_CODED_AUS)
    assert list(data.labels.columns) == list(DISFA_AUS)
    assert data.labels.index.equals(frames.index) and data.intensities.index.equals(frames.index)
    expected = np.array([_intensities(i, j) for i in range(3) for j in range(12)], float)
    expected = expected.reshape(3, 12, N_FRAMES).transpose(0, 2, 1).reshape(-1, 12)
    np.testing.assert_array_equal(data.intensities.to_numpy(), expected)
    assert np.array_equal(data.groups, frames["subject"].to_numpy())
    assert "owners" in data.DESCR and "Mavadati" in data.DESCR


@pytest.mark.parametrize("threshold", [1, 2, 3, 4.5, 5])
def test_threshold(disfa, threshold):
    data = load_disfa(disfa, threshold=threshold)
    expected = (data.intensities[list(DISFA_AUS)] >= threshold).astype(float)
    assert data.labels.equals(expected)
    assert set(np.unique(data.labels)) <= {0.0, 1.0}


def test_default_threshold_is_two(disfa):
    data = load_disfa(disfa, aus=["AU05"])
    intensity = data.intensities["AU05"].to_numpy()
    assert data.labels["AU05"].tolist() == [float(v >= 2) for v in intensity]
    assert {0.0, 1.0} <= set(intensity)  # the boundary below 2 is exercised


@pytest.mark.parametrize("aus, columns", [([5, "AU20"], ["AU05", "AU20"]), ("au17", ["AU17"])])
def test_aus(disfa, aus, columns):
    assert list(load_disfa(disfa, aus=aus).labels.columns) == columns


@pytest.mark.parametrize("subjects", [["SN009"], "SN002", ("SN009", "SN001")])
def test_subjects(disfa, subjects):
    wanted = [subjects] if isinstance(subjects, str) else list(subjects)
    frames = load_disfa(disfa, subjects=subjects).frames
    assert frames["subject"].unique().tolist() == sorted(wanted)


def test_unsorted_lines_are_sorted(tmp_path):
    folder = _write_subject(tmp_path, "SN001", 0)
    for path in folder.iterdir():
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[::-1]) + "\n")
    data = load_disfa(tmp_path)
    assert data.frames["frame"].tolist() == list(range(N_FRAMES))
    assert data.intensities["AU01"].tolist() == _intensities(0, 0)


def _add_images(folder, subject, names):
    (folder / subject).mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / subject / name).write_bytes(b"")


def test_conventional_images_are_zero_based(disfa):
    _add_images(disfa / "img", "SN001", [f"{f}.png" for f in range(N_FRAMES)])
    with pytest.warns(UserWarning, match="10 of 15 frames"):
        frames = load_disfa(disfa).frames
    assert frames.loc[0, "image"] == str(disfa / "img" / "SN001" / "0.png")
    assert frames["image"].notna().sum() == N_FRAMES


def test_image_pattern_one_based(disfa, tmp_path_factory):
    images = tmp_path_factory.mktemp("faces")
    _add_images(images, "SN002", [f"frame_{f + 1:05d}.jpg" for f in range(N_FRAMES)])
    frames = load_disfa(
        disfa, subjects=["SN002"], image_dir=images, image_pattern="{subject}/frame_{frame1:05d}.jpg"
    ).frames
    assert frames.loc[0, "image"].endswith("frame_00001.jpg") and frames["image"].notna().all()


def test_nothing_written(disfa):
    _add_images(disfa / "img", "SN001", ["0.png"])
    before = _snapshot(disfa)
    with pytest.warns(UserWarning):
        load_disfa(disfa)
    assert _snapshot(disfa) == before


def test_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="root"):
        load_disfa(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="ActionUnit_Labels"):
        load_disfa(tmp_path)
    (tmp_path / "ActionUnit_Labels").mkdir()
    with pytest.raises(FileNotFoundError, match="no SNxxx subject folder"):
        load_disfa(tmp_path)


def test_missing_subject_and_image_dir(disfa):
    with pytest.raises(FileNotFoundError, match="SN032"):
        load_disfa(disfa, subjects=["SN001", "SN032"])
    with pytest.raises(FileNotFoundError, match="image_dir"):
        load_disfa(disfa, image_dir=disfa / "nope")


def test_missing_au_file(tmp_path):
    _write_subject(tmp_path, "SN001", 0, skip={"AU15"})
    with pytest.raises(FileNotFoundError, match=r"SN001_au15\.txt"):
        load_disfa(tmp_path)


def test_unequal_frame_lists(tmp_path):
    folder = _write_subject(tmp_path, "SN001", 0)
    path = folder / "SN001_au9.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"SN001_au9\.txt.*SN001_au1\.txt.*different frames"):
        load_disfa(tmp_path)


BAD_LINES = {
    "intensity 6": ("1,0\n2,6\n", r"line 2: intensity 6 is not an integer in 0..5"),
    "negative": ("1,-1\n", r"line 1: intensity -1 is not"),
    "text frame": ("1,0\nx,1\n", r"line 2: frame 'x' is not an integer >= 1"),
    "frame 0": ("0,0\n", r"line 1: frame 0 is not an integer >= 1"),
    "float": ("1,0\n2,1.5\n", r"line 2: intensity 1.5 is not"),
    "missing field": ("1,0\n2\n", r"line 2: intensity \(empty\)"),
    "three fields": ("1,0,0\n2,1,1\n", r"line 1: 3 fields"),
    "extra field later": ("1,0\n2,1,1\n", r"not 'frame,intensity' lines"),
    "repeated": ("1,0\n2,1\n2,1\n", r"line 3: frame 2 is repeated"),
    "empty": ("", r"empty"),
}


@pytest.mark.parametrize("content, match", BAD_LINES.values(), ids=list(BAD_LINES))
def test_malformed_file(tmp_path, content, match):
    folder = _write_subject(tmp_path, "SN001", 0)
    (folder / "SN001_au1.txt").write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_disfa(tmp_path)
    assert "SN001_au1.txt" in str(info.value)


def test_odd_subject_folder(disfa):
    (disfa / "ActionUnit_Labels" / "backup").mkdir()
    with pytest.raises(ValueError, match="backup.*SNxxx"):
        load_disfa(disfa)


@pytest.mark.parametrize("threshold", [0, -1, 6, "2", True, None])
def test_bad_threshold(disfa, threshold):
    with pytest.raises(ValueError, match="threshold"):
        load_disfa(disfa, threshold=threshold)


@pytest.mark.parametrize("aus, match", [(["AU07"], "does not code AU07"), ([1, 1], "distinct"), ([], "distinct")])
def test_bad_aus(disfa, aus, match):
    with pytest.raises(ValueError, match=match):
        load_disfa(disfa, aus=aus)


def test_empty_subjects(disfa):
    with pytest.raises(ValueError, match="subjects is empty"):
        load_disfa(disfa, subjects=[])
