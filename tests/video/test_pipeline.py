"""From video paths to muscle forces in one scikit-learn Pipeline."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.video import FaceTracker, load_ict_face

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MEDIA, ICT = DATA / "media", DATA / "ict-facekit" / "FaceXModel"
pytestmark = pytest.mark.skipif(not ICT.is_dir(), reason="shared media absent")


def test_pipeline_from_videos_to_forces():
    face, _ = load_ict_face(ICT, n_identities=0)
    tracker = FaceTracker(landmarker=MEDIA / "face_landmarker.task", ict_facekit=ICT, n_identities=5)
    pipeline = make_pipeline(tracker, BlendshapeODEForceEstimator(face, max_epochs=2, random_state=0))
    pipeline.set_output(transform="pandas")
    videos = [MEDIA / "face_noface.mov"]  # a face that leaves: forces, then NaN
    forces = pipeline.fit(videos).transform(videos)
    frames = pipeline[0].transform(videos)
    assert len(forces) == len(frames)
    assert [c for c in forces.columns if c.startswith("force_")] == [f"force_{m}" for m in face.muscle_names]
    failed = ~frames["success"].to_numpy()
    assert failed.any()
    values = forces.to_numpy(dtype=float)
    assert np.isnan(values[failed]).all() and np.isfinite(values[~failed]).all()
