"""What the video front end produces on real faces: the numbers the shipped detector is trained to.

Tracks each video with :class:`skbiomech.video.FaceTracker` (ICT-FaceKit
landmark fit) and measures, per blendshape:

* ``noise``: tracking jitter, the robust standard deviation of second
  differences over consecutive tracked frames divided by sqrt(6) (the
  variance factor of a second difference of white noise), so that slow
  expression changes do not count as noise;
* ``neutral_offset``: the median coefficient over the first
  ``--neutral-seconds`` of each video whose first frame shows a face (the
  clips open on a neutral face): what the fit reads as expression on a
  neutral face;
* ``p99``: the 99th percentile over tracked frames (magnitudes);

and the head pose's standard deviation (degrees, cm). Writes one JSON
object to ``--out`` (atomically) and prints it.

Usage::

    python scripts/measure_front_end.py --media ../shared/data/media --out scripts/front_end_statistics.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

_MAD_TO_STD = 1.4826


def measure(videos, *, landmarker=None, ict_facekit=None, neutral_seconds=0.5):
    from skbiomech.video import FaceTracker

    tracker = FaceTracker(landmarker=landmarker, ict_facekit=ict_facekit).fit()
    names = tracker.blendshape_names_
    jitter, neutral, tracked, poses, used = [], [], [], [], []
    for video in videos:
        frames = tracker.transform(video)
        ok = frames["success"].to_numpy(dtype=bool)
        coefficients = frames[names].to_numpy(dtype=float)
        used.append({"video": Path(video).name, "frames": len(frames), "tracked": int(ok.sum())})
        if not ok.any():
            continue
        tracked.append(coefficients[ok])
        poses.append(frames.loc[ok, ["pose_Rx", "pose_Ry", "pose_Rz", "pose_Tx", "pose_Ty", "pose_Tz"]].to_numpy())
        # Second differences only inside runs of consecutive tracked frames.
        run_ok = ok[2:] & ok[1:-1] & ok[:-2]
        jitter.append((np.diff(coefficients, 2, axis=0) / np.sqrt(6.0))[run_ok])
        time = frames["time"].to_numpy(dtype=float)
        opening = (time - time[0] <= neutral_seconds) & ok
        if ok[0] and opening.sum() >= 3:
            neutral.append(np.median(coefficients[opening], axis=0))
    if not tracked:
        raise ValueError(f"No face was tracked in any of {[str(v) for v in videos]}.")
    jitter = np.concatenate(jitter)
    noise = _MAD_TO_STD * np.median(np.abs(jitter - np.median(jitter, axis=0)), axis=0)
    offset = np.mean(neutral, axis=0) if neutral else np.full(len(names), np.nan)
    pose = np.concatenate(poses)
    return {
        "blendshapes": list(names),
        "noise": [round(float(x), 5) for x in noise],
        "neutral_offset": [round(float(x), 4) for x in offset],
        "p99": [round(float(x), 4) for x in np.percentile(np.concatenate(tracked), 99, axis=0)],
        "pose_std": dict(zip(["Rx_deg", "Ry_deg", "Rz_deg", "Tx_cm", "Ty_cm", "Tz_cm"], np.round(pose.std(axis=0), 3).tolist())),
        "videos": used,
        "neutral_videos": len(neutral),
        "neutral_seconds": neutral_seconds,
        "face_fingerprint": tracker.face_.fingerprint,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", default="../shared/data/media", help="folder with face videos and face_landmarker.task")
    parser.add_argument("--videos", nargs="*", default=["single_face.mp4"], help="videos in --media to measure")
    parser.add_argument("--ict-facekit", default=os.environ.get("SKBIOMECH_ICT_FACEKIT"))
    parser.add_argument("--neutral-seconds", type=float, default=0.5)
    parser.add_argument("--out", default=None, help="write the JSON here too")
    args = parser.parse_args(argv)
    media = Path(args.media)
    task = media / "face_landmarker.task"
    stats = measure(
        [media / v for v in args.videos], landmarker=task if task.is_file() else None,
        ict_facekit=args.ict_facekit, neutral_seconds=args.neutral_seconds,
    )  # fmt: skip
    text = json.dumps(stats, indent=1)
    if args.out:
        from skbiomech._io import atomic_write

        with atomic_write(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
