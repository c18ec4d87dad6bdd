"""Tests of the BP4D loader on tiny fake folders in the real file layout."""

import os

import numpy as np
import pandas as pd
import pytest

from skbiomech.datasets._bp4d import load_bp4d
from skbiomech.face import BP4D_AUS

HEADER_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24, 25)


def _write_occ(folder, subject, task, rows, header=None):
    """rows: list of (frame, {au_number: code}); uncoded AUs get 0."""
    header = "0," + ",".join(map(str, HEADER_AUS)) if header is None else header
    lines = [header] + [
        ",".join([str(frame)] + [str(codes.get(au, 0)) for au in HEADER_AUS])
        for frame, codes in rows
    ]
    path = folder / f"{subject}_{task}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def bp4d(tmp_path):
    folder = tmp_path / "AUCoding" / "AU_OCC"
    folder.mkdir(parents=True)
    _write_occ(folder, "F001", "T1", [(100, {1: 1, 12: 9}), (101, {1: 1, 2: 1}), (102, {})])
    _write_occ(folder, "F001", "T2", [(5, {24: 1, 25: 1}), (6, {4: 9})])
    _write_occ(folder, "M004", "T1", [(7, {12: 1})])
    _write_occ(folder, "F003", "T10", [(1, {}), (2, {6: 1})])
    return tmp_path


def _snapshot(root):
    return sorted(
        (os.path.relpath(p, root), os.stat(p).st_mtime_ns, os.stat(p).st_size)
        for p in [dp for dp, _, _ in os.walk(root)]
        + [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs]
    )


def test_tables(bp4d):
    data = load_bp4d(bp4d)
    frames, labels = data.frames, data.labels
    assert list(frames.columns) == ["subject", "sequence", "frame"]
    assert list(labels.columns) == list(BP4D_AUS)
    assert frames.index.equals(labels.index) and frames.index.equals(pd.RangeIndex(8))
    # Subjects in natural order, T10 after T1/T2 within a subject.
    assert frames[["subject", "sequence"]].drop_duplicates().values.tolist() == [
        ["F001", "T1"], ["F001", "T2"], ["F003", "T10"], ["M004", "T1"]
    ]  # fmt: skip
    assert frames["frame"].tolist() == [100, 101, 102, 5, 6, 1, 2, 7]
    assert np.array_equal(data.groups, frames["subject"].to_numpy())
    assert labels.dtypes.eq(np.float64).all()
    assert labels.loc[0, "AU01"] == 1.0 and labels.loc[1, "AU02"] == 1.0
    assert labels.loc[7, "AU12"] == 1.0 and labels.loc[2].sum() == 0.0
    assert "owners" in data.DESCR and "Zhang" in data.DESCR


def test_unknown_code_is_nan(bp4d):
    labels = load_bp4d(bp4d).labels
    assert np.isnan(labels.loc[0, "AU12"]) and np.isnan(labels.loc[4, "AU04"])
    assert labels.isna().sum().sum() == 2
    assert set(np.unique(labels.to_numpy()[~labels.isna().to_numpy()])) == {0.0, 1.0}


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"subjects": ["F001"]}, [("F001", "T1")] * 3 + [("F001", "T2")] * 2),
        ({"subjects": "M004"}, [("M004", "T1")]),
        ({"tasks": ["T1"]}, [("F001", "T1")] * 3 + [("M004", "T1")]),
        ({"tasks": [2, 10]}, [("F001", "T2")] * 2 + [("F003", "T10")] * 2),
        ({"subjects": ["F001", "M004"], "tasks": "T1"}, [("F001", "T1")] * 3 + [("M004", "T1")]),
    ],
)
def test_selection(bp4d, kwargs, expected):
    frames = load_bp4d(bp4d, **kwargs).frames
    assert list(map(tuple, frames[["subject", "sequence"]].values)) == expected


@pytest.mark.parametrize("aus, columns", [([25], ["AU25"]), ((1, "AU24", "au25"), ["AU01", "AU24", "AU25"])])
def test_aus(bp4d, aus, columns):
    labels = load_bp4d(bp4d, aus=aus).labels
    assert list(labels.columns) == columns
    assert labels["AU25"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]


def test_unsorted_rows_are_sorted(tmp_path):
    folder = tmp_path / "AUCoding" / "AU_OCC"
    folder.mkdir(parents=True)
    _write_occ(folder, "F001", "T1", [(3, {1: 1}), (1, {}), (2, {2: 1})])
    data = load_bp4d(tmp_path)
    assert data.frames["frame"].tolist() == [1, 2, 3]
    assert data.labels["AU01"].tolist() == [0, 0, 1] and data.labels["AU02"].tolist() == [0, 1, 0]


def _add_images(folder, keep):
    for subject, task, frame in keep:
        (folder / subject / task).mkdir(parents=True, exist_ok=True)
        (folder / subject / task / frame).write_bytes(b"")


def test_conventional_image_folder(bp4d):
    _add_images(bp4d / "img", [("F001", "T1", f"{f}.jpg") for f in (100, 101, 102)])
    with pytest.warns(UserWarning, match="5 of 8 frames have no image"):
        frames = load_bp4d(bp4d).frames
    assert frames.loc[0, "image"] == str(bp4d / "img" / "F001" / "T1" / "100.jpg")
    assert frames["image"].notna().tolist() == [True] * 3 + [False] * 5
    assert len(frames) == 8  # frames without images are kept


def test_image_dir_and_pattern(bp4d, tmp_path_factory):
    images = tmp_path_factory.mktemp("faces")
    _add_images(images, [("F001", "T2", "0005.png"), ("F001", "T2", "0006.png")])
    frames = load_bp4d(
        bp4d, subjects=["F001"], tasks=["T2"], image_dir=images,
        image_pattern="{subject}/{sequence}/{frame:04d}.png",
    ).frames  # fmt: skip
    assert frames["image"].tolist() == [str(images / "F001" / "T2" / f"000{f}.png") for f in (5, 6)]


def test_no_image_folder_no_column(bp4d):
    assert "image" not in load_bp4d(bp4d).frames.columns


def test_nothing_written(bp4d):
    _add_images(bp4d / "img", [("F001", "T1", "100.jpg")])
    before = _snapshot(bp4d)
    with pytest.warns(UserWarning):
        load_bp4d(bp4d)
    assert _snapshot(bp4d) == before


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subjects": ["F001", "F099"]}, "subject.*F099"),
        ({"tasks": ["T7"]}, "task.*T7"),
        ({"image_dir": "does/not/exist"}, "image_dir"),
    ],
)
def test_missing_selection(bp4d, kwargs, match):
    with pytest.raises(FileNotFoundError, match=match):
        load_bp4d(bp4d, **kwargs)


def test_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="root"):
        load_bp4d(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="AU_OCC"):
        load_bp4d(tmp_path)
    (tmp_path / "AUCoding" / "AU_OCC").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no .*label file"):
        load_bp4d(tmp_path)


BAD_FILES = {
    "code 2": ("0,1,2\n1,0,1\n2,2,0\n", r"line 3: AU01 code 2 is not one of 0/1/9"),
    "empty cell": ("0,1,2\n1,0,1\n2,,0\n", r"line 3: AU01 code \(empty\)"),
    "text cell": ("0,1,2\n1,0,yes\n", r"line 2: AU02 code 'yes'"),
    "float frame": ("0,1,2\n1.5,0,1\n", r"line 2: frame number 1.5 is not an integer"),
    "text frame": ("0,1,2\n1,0,1\nabc,0,1\n", r"line 3: frame number 'abc'"),
    "repeated frame": ("0,1,2\n1,0,1\n2,0,1\n1,1,1\n", r"line 4: frame 1 is repeated"),
    "bad header": ("0,1,smile\n1,0,1\n", r"line 1: header cell 'smile'"),
    "duplicate AU": ("0,1,01\n1,0,1\n", r"line 1: AU AU01 appears twice"),
    "empty file": ("", r"line 1: empty"),
    "missing AU": ("0,1,4\n1,0,1\n", r"no column for AU02"),
    "extra field": ("0,1,2\n1,0,1\n2,0,1,1\n", r"cannot be parsed"),
}


@pytest.mark.parametrize("content, match", BAD_FILES.values(), ids=list(BAD_FILES))
def test_malformed_file(tmp_path, content, match):
    folder = tmp_path / "AUCoding" / "AU_OCC"
    folder.mkdir(parents=True)
    (folder / "F001_T1.csv").write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_bp4d(tmp_path, aus=[1, 2])
    assert "F001_T1.csv" in str(info.value)


def test_bad_file_name(bp4d):
    (bp4d / "AUCoding" / "AU_OCC" / "F001-T1 copy.csv").write_text("0,1\n1,0\n")
    with pytest.raises(ValueError, match=r"F001-T1 copy.csv.*\{subject\}_\{task\}"):
        load_bp4d(bp4d)


def test_bad_aus_and_pattern(bp4d):
    with pytest.raises(ValueError, match="distinct"):
        load_bp4d(bp4d, aus=[1, "AU01"])
    (bp4d / "img").mkdir()
    with pytest.raises(ValueError, match=r"image_pattern.*\{subject\}"):
        load_bp4d(bp4d, image_pattern="{person}/{frame}.jpg")


def test_header_only_file(tmp_path):
    folder = tmp_path / "AUCoding" / "AU_OCC"
    folder.mkdir(parents=True)
    (folder / "F001_T1.csv").write_text("0,1,2\n")
    data = load_bp4d(tmp_path, aus=[1, 2])
    assert data.frames.shape == (0, 3) and data.labels.shape == (0, 2)


@pytest.mark.parametrize("kwargs", [{"subjects": []}, {"tasks": []}])
def test_empty_selection(bp4d, kwargs):
    with pytest.raises(ValueError, match="select no label file"):
        load_bp4d(bp4d, **kwargs)


def test_numpy_integer_aus(bp4d):
    assert list(load_bp4d(bp4d, aus=np.int64(12)).labels.columns) == ["AU12"]
