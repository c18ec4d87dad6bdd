"""Video front-end benchmark; prints one JSON object.

Frames/s of each stage on the shared clips (decoding with PyAV, MediaPipe
landmarks, the batched landmark fit) and of ``FaceTracker`` end to end, and
peak memory of the tracker on a long video made by looping a shared clip
(``--long-frames``; memory must not grow with length: compare the peak with
the short clip's).

Usage::

    python benchmarks/video.py --data ../shared/data
    python benchmarks/video.py --data ../shared/data --long-frames 10000

Goals on 2 CPU cores: end to end >= 60 frames/s, fitting <= 1 ms/frame.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _decode_rate(path):
    from skbiomech.video import iter_frames

    start, n = time.perf_counter(), 0
    for _ in iter_frames(path):
        n += 1
    return n, n / (time.perf_counter() - start)


def _landmark_rate(path, task):
    from skbiomech.video import iter_frames
    from skbiomech.video._landmarker import Landmarker

    frames = list(iter_frames(path))
    with Landmarker(task, mode="video") as landmarker:
        landmarker.detect(frames[0].image, frames[0].time)  # warm-up
        start = time.perf_counter()
        detections = [landmarker.detect(f.image, f.time + 1.0) for f in frames[1:]]
    elapsed = time.perf_counter() - start
    return detections, frames[0].image.shape, (len(frames) - 1) / elapsed


def _fit_rate(tracker, detections, shape):
    from skbiomech.video._fit import fit_expressions, fit_identity, landmarks_to_points

    landmarks = np.stack([d.landmarks[:468] for d in detections if d is not None])
    points = landmarks_to_points(landmarks, shape[1], shape[0])
    start = time.perf_counter()
    identity = fit_identity(tracker.basis_, points)
    identity_s = time.perf_counter() - start
    batch = np.concatenate([points] * max(1, 1024 // len(points)))
    start = time.perf_counter()
    fit_expressions(tracker.basis_, batch, identity=identity)
    per_frame = (time.perf_counter() - start) / len(batch)
    return identity_s, per_frame


def _loop_video(source, target, n_frames):
    """``source`` repeated until ``n_frames`` frames, re-encoded with PyAV."""
    import av

    from skbiomech.video import iter_frames

    frames = [f.image for f in iter_frames(source)]
    with av.open(str(target), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for k in range(n_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frames[k % len(frames)], format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


_CHILD = """
import json, resource, sys, time
from skbiomech.video import FaceTracker
tracker = FaceTracker(landmarker=sys.argv[2], ict_facekit=sys.argv[3]).fit()
tracker.transform(sys.argv[4])  # imports and first landmarker: once per process, not per video
start = time.perf_counter()
table = tracker.transform(sys.argv[1])
elapsed = time.perf_counter() - start
print(json.dumps({"frames": len(table), "seconds": elapsed,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _end_to_end(path, task, ict):
    """Tracker throughput and peak memory in a fresh process (peak RSS is per process)."""
    photo = Path(task).parent / "single_face.jpg"
    command = [sys.executable, "-c", _CHILD, str(path), str(task), str(ict), str(photo)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["frames_per_s"] = figures["frames"] / figures["seconds"]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--long-frames", type=int, default=10000)
    args = parser.parse_args()
    media, ict = args.data / "media", args.data / "ict-facekit" / "FaceXModel"
    task = media / "face_landmarker.task"

    from skbiomech.video import FaceTracker

    tracker = FaceTracker(landmarker=task, ict_facekit=ict).fit()
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "clips": {}}
    for name in ("single_face.mp4", "face_noface.mov", "noface_face.mov"):
        n, decode = _decode_rate(media / name)
        detections, shape, landmarks = _landmark_rate(media / name, task)
        figures = {"frames": n, "decode_fps": round(decode, 1), "landmarks_fps": round(landmarks, 1)}
        if any(d is not None for d in detections):
            identity_s, per_frame = _fit_rate(tracker, detections, shape)
            figures.update(identity_fit_s=round(identity_s, 3), fit_ms_per_frame=round(1e3 * per_frame, 3))
        e2e = _end_to_end(media / name, task, ict)
        figures.update(end_to_end_fps=round(e2e["frames_per_s"], 1), peak_rss_mb=round(e2e["peak_rss_mb"]))
        results["clips"][name] = figures
    with tempfile.TemporaryDirectory() as folder:
        long_video = Path(folder) / "long.mp4"
        _loop_video(media / "single_face.mp4", long_video, args.long_frames)
        e2e = _end_to_end(long_video, task, ict)
    results["long_video"] = {
        "frames": e2e["frames"],
        "end_to_end_fps": round(e2e["frames_per_s"], 1),
        "peak_rss_mb": round(e2e["peak_rss_mb"]),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
