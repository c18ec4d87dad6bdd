"""The paper's two-branch model (physics and image features) on a real video whose face leaves."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skbiomech.estimators import BiomechAUClassifier, ImageFeatureTransformer
from skbiomech.video import FaceTracker, load_ict_face

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MEDIA = DATA / "media"
ICT = DATA / "ict-facekit" / "FaceXModel"
VIDEO = MEDIA / "face_noface.mov"
pytestmark = pytest.mark.skipif(
    not (ICT.is_dir() and (MEDIA / "face_landmarker.task").is_file() and VIDEO.is_file()), reason="shared media absent"
)


def _tracker(crops):
    return FaceTracker(
        landmarker=MEDIA / "face_landmarker.task", ict_facekit=ICT, n_identities=5, crops=crops, crop_size=64
    )


def test_both_branches_give_nan_exactly_on_the_frames_without_a_face(tmp_path):
    crops = tmp_path / "crops"
    # A Pipeline hands y to the classifier unchanged, so the labels are built on the
    # tracker's own rows (one per decoded frame, same order and index).
    table = _tracker(crops).fit_transform(VIDEO)
    tracked = table["success"].to_numpy(dtype=bool)
    assert tracked[:10].all() and not tracked.all()  # the face is there, then leaves
    assert table["image"].isna().to_numpy().tolist() == (~tracked).tolist()
    labels = pd.DataFrame({"AU12": np.where(tracked, np.arange(len(table)) % 2, np.nan)}, index=table.index)

    model = make_pipeline(
        _tracker(crops),
        ImageFeatureTransformer("resnet18", weights=None, image_size=64, cache_dir=tmp_path / "features",
                                random_state=0),
        BiomechAUClassifier(load_ict_face(ICT, n_identities=0)[0], inputs=("force", "position", "image"),
                            max_epochs=2, random_state=0),
    )  # fmt: skip
    model.fit(VIDEO, labels)
    assert model[-1].n_image_features_ == 512 and np.isfinite(model[-1].history_[-1, "train_loss"])

    proba = model.predict_proba(VIDEO)
    assert proba.shape == (len(table), 1)
    np.testing.assert_array_equal(np.isnan(proba).any(axis=1), ~tracked)
    assert np.isfinite(proba[tracked]).all()
