"""Renderer benchmark; prints one JSON object.

Frames/s of :func:`skbiomech.datasets._render.render_faces` on the default
face (about 2,800 vertices, 5,300 triangles) for T=256 frames of random
expressions with a small random head pose, at 112 and 224 pixels, on the CPU
with torch's default thread count.

Usage::

    python benchmarks/render.py
    python benchmarks/render.py --frames 512 --repeats 5

Target: >= 200 frames/s at 112 px on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from skbiomech.datasets._render import render_faces
from skbiomech.face import default_face_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    args = parser.parse_args()

    face = default_face_model()
    rng = np.random.default_rng(0)
    # Sparse, AU-like expressions: a few muscles active at a time.
    coefficients = rng.uniform(0, 1, (args.frames, face.n_blendshapes))
    coefficients *= rng.uniform(size=coefficients.shape) < 0.15
    vertices = face.mesh(coefficients)
    pose = np.concatenate(
        [rng.normal(0, 0.05, (args.frames, 3)), rng.normal(0, 0.3, (args.frames, 3))], axis=1
    )
    result = {
        "face": repr(face),
        "frames": args.frames,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for size in args.sizes:
        render_faces(face, vertices[:8], size=size, pose=pose[:8])  # warm-up
        for label, kwargs in (("", {}), ("_pose", {"pose": pose})):
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                render_faces(face, vertices, size=size, **kwargs)
                best = min(best, time.perf_counter() - start)
            result[f"frames_per_s_{size}px{label}"] = round(args.frames / best, 1)
    result["target_frames_per_s_112px"] = 200
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
