import numpy as np
import pandas as pd
import pytest

from skbiomech.physics import au_intensities, au_presence

AU_MAP = {"AU04": ("corr_L", "corr_R", "procerus"), "AU12": ("zyg_L", "zyg_R"), "AU26": ("jaw",)}
MUSCLES = ["corr_L", "corr_R", "procerus", "zyg_L", "zyg_R", "jaw"]


@pytest.mark.parametrize(
    "combine, expected",
    [
        # AU04: max over sides of mean(side muscles + midline); AU12: the stronger side.
        ("strongest_side", [[0.45, 0.6, 0.2], [0.0, 0.0, 0.0]]),
        ("mean", [[0.4, 0.3, 0.2], [0.0, 0.0, 0.0]]),
        ("max", [[0.6, 0.6, 0.2], [0.0, 0.0, 0.0]]),
    ],
)
def test_au_intensity_combinations(combine, expected):
    a = np.array([[0.3, 0.3, 0.6, 0.6, 0.0, 0.2], [0.0] * 6])
    got = au_intensities(a, AU_MAP, muscle_names=MUSCLES, combine=combine, scale=None)
    np.testing.assert_allclose(got, expected)


def test_au_intensity_scale_clip_nan_and_batch():
    a = np.array([[[1.4, 1.4, 1.4, 0.1, 0.1, -0.1]], [[np.nan] * 6]])
    got = au_intensities(a, AU_MAP, muscle_names=MUSCLES)
    assert got.shape == (2, 1, 3)
    np.testing.assert_allclose(got[0, 0], [5.0, 0.5, 0.0])
    assert np.isnan(got[1]).all()


def test_au_intensity_dataframe_and_face(small_face):
    a = pd.DataFrame(np.zeros((3, small_face.n_muscles)), columns=small_face.muscle_names, index=[7, 8, 9])
    a["zygomaticus_major_L"] = [0.0, 0.2, 0.4]
    a.insert(0, "subject", "S1")  # other columns are ignored
    got = au_intensities(a, small_face, aus=[12, "AU1"])
    assert list(got.columns) == ["AU12", "AU01"] and list(got.index) == [7, 8, 9]
    np.testing.assert_allclose(got["AU12"], [0.0, 1.0, 2.0])
    every = au_intensities(a.drop(columns="subject").to_numpy(), small_face)
    assert every.shape == (3, len(small_face.aus))


def test_au_intensity_errors(small_face):
    a = np.zeros((2, len(MUSCLES)))
    with pytest.raises(ValueError, match="No muscles are mapped"):
        au_intensities(a, AU_MAP, muscle_names=MUSCLES, aus=["AU01"])
    with pytest.raises(ValueError, match="muscle_names is needed"):
        au_intensities(a, AU_MAP)
    with pytest.raises(ValueError, match="lacks the muscles"):
        au_intensities(a, AU_MAP, muscle_names=[f"m{j}" for j in range(6)])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., M=6\)"):
        au_intensities(np.zeros((2, 5)), AU_MAP, muscle_names=MUSCLES)
    with pytest.raises(ValueError, match="no columns for the muscles"):
        au_intensities(pd.DataFrame({"jaw": [0.1]}), AU_MAP)
    with pytest.raises(ValueError, match="combine must be"):
        au_intensities(a, AU_MAP, muscle_names=MUSCLES, combine="median")
    with pytest.raises(ValueError, match="scale must be"):
        au_intensities(a, AU_MAP, muscle_names=MUSCLES, scale=0)
    with pytest.raises(TypeError, match="FaceModel or a dict"):
        au_intensities(a, ["AU12"])


def test_au_presence():
    values = np.array([[0.5, 2.5], [np.nan, 1.0]])
    np.testing.assert_array_equal(au_presence(values), [[0.0, 1.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(au_presence(values, threshold=[0.5, 2.0]), [[1.0, 1.0], [np.nan, 0.0]])
    frame = pd.DataFrame(values, columns=["AU01", "AU12"], index=[3, 4])
    got = au_presence(frame, threshold=2.0)
    assert list(got.columns) == ["AU01", "AU12"] and list(got.index) == [3, 4]
    with pytest.raises(ValueError, match="one per AU"):
        au_presence(values, threshold=[1.0, 2.0, 3.0])
