"""Tests of the OpenFace 2.0 CSV reader and writer."""

import os

import numpy as np
import pandas as pd
import pytest

from skbiomech import _io
from skbiomech.datasets._openface import read_openface_csv, read_openface_csvs, write_openface_csv

# What OpenFace 2.0 FeatureExtraction writes (columns abridged): ", " separators,
# AU28 has a presence column only, and the third frame failed (success 0).
OPENFACE_CSV = """\
frame, face_id, timestamp, confidence, success, gaze_0_x, gaze_angle_x, pose_Tx, pose_Ty, pose_Tz, pose_Rx, pose_Ry, pose_Rz, AU01_r, AU12_r, AU45_r, AU01_c, AU12_c, AU28_c, AU45_c
1, 0, 0.000, 0.98, 1, 0.01, 0.02, 10.5, -3.2, 450.1, 0.10, -0.05, 0.01, 1.20, 0.00, 0.30, 1, 0, 0, 0
2, 0, 0.040, 0.97, 1, 0.02, 0.03, 10.6, -3.1, 451.0, 0.11, -0.04, 0.02, 0.00, 2.50, 0.00, 0, 1, 1, 0
3, 0, 0.080, 0.00, 0, 0.00, 0.00, 0.0, 0.0, 0.0, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0, 0, 0, 0
"""


@pytest.fixture
def openface_file(tmp_path):
    path = tmp_path / "F001_T1.csv"
    path.write_text(OPENFACE_CSV)
    return path


def test_read_real_format(openface_file):
    frames, labels = read_openface_csv(openface_file)
    pose = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    assert list(frames.columns) == ["subject", "sequence", "frame", *pose, "AU01_r", "AU12_r", "AU45_r"]
    assert frames["subject"].tolist() == ["F001_T1"] * 3 and frames["sequence"].tolist() == ["F001_T1"] * 3
    assert frames["frame"].tolist() == [1, 2, 3]
    assert frames["AU12_r"].tolist() == [0.0, 2.5, 0.0] and frames["pose_Tz"].iloc[1] == 451.0
    assert list(labels.columns) == ["AU01", "AU12", "AU28", "AU45"]
    assert labels.index.equals(frames.index)
    np.testing.assert_array_equal(labels.iloc[:2].to_numpy(), [[1, 0, 0, 0], [0, 1, 1, 0]])
    assert labels.iloc[2].isna().all()  # success == 0
    assert labels.dtypes.eq(np.float64).all()


def test_subject_and_sequence_arguments(openface_file):
    frames, _ = read_openface_csv(openface_file, subject="F001", sequence="T1")
    assert set(frames["subject"]) == {"F001"} and set(frames["sequence"]) == {"T1"}


@pytest.mark.parametrize("sep", [",", ", "])
def test_plain_comma_and_no_face_id(tmp_path, sep):
    path = tmp_path / "SN001.csv"
    path.write_text(sep.join(["frame", "success", "AU06_c"]) + "\n" + "\n".join(
        sep.join(r) for r in [("2", "1", "1"), ("1", "1", "0")]) + "\n")  # fmt: skip
    frames, labels = read_openface_csv(path)
    assert frames["frame"].tolist() == [1, 2] and labels["AU06"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("use_frame_table", [True, False])
def test_round_trip(tmp_path, use_frame_table):
    table = pd.DataFrame({"subject": "SN001", "sequence": "SN001", "frame": [0, 1, 2, 3]})
    proba = pd.DataFrame({"AU01": [0.1, 0.6, 0.9, 0.4], "AU12": [0.0, 1.0, 0.25, 0.5]})
    predictions = pd.DataFrame({"AU01": [0, 1, 1, np.nan], "AU12": [0, 1, 0, 1]})
    frames_arg = table if use_frame_table else table["frame"].to_numpy()
    path = write_openface_csv(tmp_path / "SN001.csv", frames_arg, predictions, proba, fps=20)
    assert path == tmp_path / "SN001.csv"
    header = path.read_text().splitlines()[0]
    assert header == "frame, face_id, timestamp, success, AU01_r, AU12_r, AU01_c, AU12_c"
    frames, labels = read_openface_csv(path)
    assert frames["frame"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(frames[["AU01_r", "AU12_r"]].to_numpy(), 5 * proba.to_numpy(), atol=1e-6)
    assert labels.equals(predictions.astype(float))
    raw = pd.read_csv(path, skipinitialspace=True)
    np.testing.assert_allclose(raw["timestamp"], [0.0, 0.05, 0.1, 0.15])


def test_probabilities_only_and_default_fps(tmp_path):
    path = write_openface_csv(tmp_path / "a.csv", [10, 11], probabilities=np.array([[0.2], [0.5]]), aus=[4])
    raw = pd.read_csv(path, skipinitialspace=True)
    np.testing.assert_allclose(raw["timestamp"], [10 / 30, 11 / 30], atol=1e-6)
    assert raw["AU04_c"].tolist() == [0, 1] and raw["AU04_r"].tolist() == [1.0, 2.5]


def test_predictions_only_has_no_intensity(tmp_path):
    path = write_openface_csv(tmp_path / "a.csv", [1, 2], predictions=[[1, 0], [0, 1]], aus=["AU06", "AU12"])
    frames, labels = read_openface_csv(path)
    assert not any(c.endswith("_r") for c in frames.columns)
    assert labels.to_numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    write_openface_csv(path, [0], predictions=[[1]], aus=[1])
    write_openface_csv(path, [0, 1], predictions=[[0], [1]], aus=[1])  # overwrite
    assert len(path.read_text().splitlines()) == 3
    original = path.read_text()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(_io.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_openface_csv(path, [5], predictions=[[1]], aus=[1])
    assert path.read_text() == original
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary file left behind


def test_read_many(tmp_path, openface_file):
    other = write_openface_csv(tmp_path / "SN001.csv", [0, 1], predictions=[[1], [0]], aus=[6])
    frames, labels = read_openface_csvs([openface_file, other])
    assert frames["subject"].tolist() == ["F001_T1"] * 3 + ["SN001"] * 2
    assert frames.index.equals(pd.RangeIndex(5)) and labels.index.equals(frames.index)
    assert labels["AU06"].iloc[:3].isna().all() and labels["AU06"].iloc[3:].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="paths is empty"):
        read_openface_csvs([])


def test_multiple_faces(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text("frame, face_id, success, AU01_c\n1, 0, 1, 1\n1, 1, 1, 0\n2, 0, 1, 0\n")
    with pytest.raises(ValueError, match=r"several faces \(face_id \[0, 1\]\)"):
        read_openface_csv(path)
    frames, labels = read_openface_csv(path, face_id=0)
    assert frames["frame"].tolist() == [1, 2] and labels["AU01"].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="no face_id 7"):
        read_openface_csv(path, face_id=7)


BAD_READS = {
    "empty": ("", ValueError, "empty"),
    "no frame": ("timestamp, AU01_c\n0.0, 1\n", ValueError, "no 'frame' column"),
    "bad presence": ("frame, AU01_c\n1, 1\n2, 3\n", ValueError, r"line 3: AU01_c value 3 is not one of 0/1"),
    "bad frame": ("frame, AU01_c\n1, 1\nx, 0\n", ValueError, r"line 3: frame number 'x'"),
    "repeated": ("frame, AU01_c\n1, 1\n2, 0\n1, 0\n", ValueError, r"line 4: frame 1 is repeated"),
}


@pytest.mark.parametrize("content, error, match", BAD_READS.values(), ids=list(BAD_READS))
def test_read_errors(tmp_path, content, error, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(error, match=match) as info:
        read_openface_csv(path)
    assert "bad.csv" in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no OpenFace CSV"):
        read_openface_csv(tmp_path / "none.csv")


@pytest.mark.parametrize(
    "frames, kwargs, match",
    [
        ([0, 1], {}, "give predictions, probabilities or both"),
        ([0, 1], {"predictions": [[1], [0]]}, "give the AU names with aus="),
        ([0, 1], {"predictions": [[1], [0], [1]], "aus": [1]}, r"shape \(n_frames=2, n_aus=1\)"),
        ([0, 1], {"predictions": [[1], [2]], "aus": [1]}, "must be 0/1"),
        ([0, 1], {"probabilities": [[1.5], [0]], "aus": [1]}, r"lie in \[0, 1\]"),
        ([0, 1], {"predictions": [[1], [0]], "aus": [1], "fps": 0}, "fps must be a positive"),
        ([0.5, 1], {"predictions": [[1], [0]], "aus": [1]}, "integer frame numbers"),
        (pd.DataFrame({"subject": ["a", "b"], "frame": [0, 1]}), {"predictions": [[1], [0]], "aus": [1]},
         "one file per"),
        (pd.DataFrame({"subject": ["a", "a"]}), {"predictions": [[1], [0]], "aus": [1]}, "no 'frame' column"),
        ([0, 1], {"predictions": pd.DataFrame({"AU01": [1, 0]}),
                  "probabilities": pd.DataFrame({"AU02": [0.5, 0.5]})}, "different AUs"),
    ],
)  # fmt: skip
def test_write_errors(tmp_path, frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_openface_csv(tmp_path / "x.csv", frames, **kwargs)
    assert not os.listdir(tmp_path)


# The third (last) row of OPENFACE_CSV, as an interrupted write leaves it: cut after
# a few characters, in the middle, inside its last field, or just before its newline.
_HEAD, _LAST = OPENFACE_CSV.rstrip("\n").rsplit("\n", 1)


@pytest.mark.parametrize("keep", [1, 3, len(_LAST) // 2, len(_LAST) - 1])
def test_cut_last_row_is_dropped_with_a_warning(tmp_path, keep):
    path = tmp_path / "F001_T1.csv"
    path.write_text(_HEAD + "\n" + _LAST[:keep])
    with pytest.warns(UserWarning, match=r"F001_T1\.csv'?, line 4: .*cut short"):
        frames, labels = read_openface_csv(path)
    assert frames["frame"].tolist() == [1, 2] and len(labels) == 2


@pytest.mark.parametrize(
    "last, kept",
    [("2, 1, 1.", False), ("2, 1, 1e", False), ("2, 1, -", False), ("2, 1, ", False), ("2, 1, 1.5", True)],
)
def test_truncated_number_in_an_unterminated_last_row(tmp_path, last, kept):
    """Writers end every row with a newline: a last row without one is cut unless its last number is whole."""
    path = tmp_path / "SN002.csv"
    path.write_text("frame, success, AU12_r\n1, 1, 2.50\n" + last)
    if kept:
        frames, _ = read_openface_csv(path)  # can't tell "1.5" from a cut "1.53": kept
        assert frames["AU12_r"].tolist() == [2.5, 1.5]
    else:
        with pytest.warns(UserWarning, match="line 3"):
            frames, _ = read_openface_csv(path)
        assert frames["frame"].tolist() == [1]


def test_damaged_row_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "F001_T1.csv"
    lines = OPENFACE_CSV.splitlines()
    lines[2] = lines[2].rsplit(",", 3)[0]  # the second data row loses three fields
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"F001_T1\.csv'?, line 3: 17 fields where the header has 20"):
        read_openface_csv(path)


def test_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("frame, success, AU12_c\n1, 1, 1\n# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.csv'? is not UTF-8"):
        read_openface_csv(path)
