"""Estimator benchmarks; prints one JSON object.

* Training throughput (frames/s) and peak memory of the physics branch
  (``BlendshapeODEForceEstimator``) with the MLP and the mesh-convolution
  encoders, on the default synthetic data and the default face.
* Inference throughput (frames/s) of ``BiomechAUClassifier.predict``.

Usage::

    python benchmarks/estimators.py [--device cuda] [--epochs 3]

Image-feature overhead and cached-fold cost: ``python benchmarks/image_features.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BiomechAUClassifier, BlendshapeODEForceEstimator
from skbiomech.face import default_face_model


def _peak_mb(device):
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=8)
    args = parser.parse_args()
    face = default_face_model()
    data = make_synthetic_au_dataset(n_subjects=args.subjects, n_sequences=4, sequence_length=300, face=face, random_state=0)
    n_frames = len(data.frames)
    report = {"device": args.device, "n_frames": n_frames, "epochs": args.epochs, "face_vertices": face.n_vertices}
    for encoder in ("mlp", "meshconv"):
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        estimator = BlendshapeODEForceEstimator(
            face, encoder=encoder, max_epochs=args.epochs, batch_size=32, device=args.device, random_state=0
        )
        start = time.perf_counter()
        estimator.fit(data.frames)
        seconds = time.perf_counter() - start
        report[f"train_{encoder}"] = {
            "frames_per_s": round(n_frames * args.epochs / seconds, 1),
            "peak_memory_mb": round(_peak_mb(args.device)),
            "memory_kind": "cuda max allocated" if args.device == "cuda" else "process peak RSS",
        }
    classifier = BiomechAUClassifier(face, max_epochs=1, device=args.device, random_state=0).fit(data.frames, data.labels)
    classifier.predict(data.frames)  # warm-up
    start = time.perf_counter()
    classifier.predict(data.frames)
    report["predict_frames_per_s"] = round(n_frames / (time.perf_counter() - start), 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
