"""``skbiomech detect`` benchmark; prints one JSON object.

End-to-end frames/s of :func:`skbiomech.detect.detect` on the shared clips
and on a long video made by looping ``single_face.mp4`` (``--long-frames``),
its peak memory (a fresh process per input, so peaks do not mix), and the
share of time per stage on the long video (decoding, MediaPipe, the
landmark fit, the physics inverse, the shipped learned detector, writing).

Usage::

    python benchmarks/detect.py --data ../shared/data
    python benchmarks/detect.py --data ../shared/data --long-frames 10000

Goal on 2 CPU cores: >= 50 frames/s end to end (OpenFace 2.2: ~35 here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, resource, sys, tempfile, time
from skbiomech.detect import detect
from skbiomech.video import FaceTracker
video, task, ict, photo = sys.argv[1:5]
tracker = FaceTracker(landmarker=task, ict_facekit=ict).fit()
with tempfile.TemporaryDirectory() as out:
    detect([photo], out, tracker=tracker)  # imports and first landmarker: once per process
    start = time.perf_counter()
    table = detect([video], out + "/run", tracker=tracker)
    elapsed = time.perf_counter() - start
print(json.dumps({"frames": len(table), "seconds": elapsed,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# Each stage alone on the same video, in ms/frame: the pipeline overlaps decoding and the
# fit with MediaPipe (threads), so their shares are of the sum, not of the end-to-end time.
_STAGES = """
import json, sys, tempfile, time
import numpy as np
import pandas as pd
from skbiomech.datasets._openface import write_table
from skbiomech.detect import openface_table
from skbiomech.physics import au_intensities, au_presence, invert_activations, reduce_face_model
from skbiomech.video import FaceTracker, iter_frames
from skbiomech.video._fit import fit_expressions, fit_identity, landmarks_to_points
from skbiomech.video._landmarker import Landmarker
video, task, ict = sys.argv[1:4]
tracker = FaceTracker(landmarker=task, ict_facekit=ict).fit()
seconds, points = {}, []
start = time.perf_counter()
n = sum(1 for _ in iter_frames(video))
seconds["decode"] = time.perf_counter() - start
with Landmarker(task, mode="video") as landmarker:
    frames = iter_frames(video)
    start, elapsed = time.perf_counter(), 0.0
    for frame in frames:
        tick = time.perf_counter()
        found = landmarker.detect(frame.image, frame.time)
        elapsed += time.perf_counter() - tick
        if found is not None:
            height, width = frame.image.shape[:2]
            points.append(landmarks_to_points(found.landmarks[:468], width, height))
seconds["mediapipe"] = elapsed
points = np.stack(points)
start = time.perf_counter()
identity = fit_identity(tracker.basis_, points)
fit = fit_expressions(tracker.basis_, points, identity=identity)
seconds["fit"] = time.perf_counter() - start
table = tracker.transform(video)
coefficients = np.array(table[tracker.blendshape_names_], dtype=float)
reduced = reduce_face_model(tracker.face_)
start = time.perf_counter()
activations = invert_activations(coefficients, reduced, 1 / 30)
intensities = au_intensities(pd.DataFrame(activations, columns=tracker.face_.muscle_names), tracker.face_)
seconds["inverse"] = time.perf_counter() - start
from skbiomech.pretrained import load_au_detector
detector = load_au_detector(tracker.face_)
start = time.perf_counter()
detector.predict(table)
seconds["learned_detector"] = time.perf_counter() - start
start = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    result = openface_table(table, activations, intensities, au_presence(intensities),
                            muscle_names=tracker.face_.muscle_names, blendshape_names=tracker.blendshape_names_)
    write_table(out + "/x.csv", result)
seconds["write"] = time.perf_counter() - start
total = sum(seconds.values())
print(json.dumps({k: {"ms_per_frame": round(1e3 * v / n, 3), "share": round(v / total, 3)} for k, v in seconds.items()}))
"""


def _child(code, *args):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run(video, media, ict):
    figures = _child(_CHILD, video, media / "face_landmarker.task", ict, media / "single_face.jpg")
    return {
        "frames": figures["frames"],
        "frames_per_s": round(figures["frames"] / figures["seconds"], 1),
        "peak_rss_mb": round(figures["peak_rss_mb"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--long-frames", type=int, default=10000)
    args = parser.parse_args()
    media, ict = args.data / "media", args.data / "ict-facekit" / "FaceXModel"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from video import _loop_video

    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "clips": {}}
    for name in ("single_face.mp4", "face_noface.mov", "noface_face.mov"):
        results["clips"][name] = _run(media / name, media, ict)
    with tempfile.TemporaryDirectory() as folder:
        long_video = Path(folder) / "long.mp4"
        _loop_video(media / "single_face.mp4", long_video, args.long_frames)
        results["long_video"] = _run(long_video, media, ict)
        results["long_video"]["stages"] = _child(_STAGES, long_video, media / "face_landmarker.task", ict)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
