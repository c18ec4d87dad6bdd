"""Estimator benchmarks; prints one JSON object.

* Training throughput (frames/s) and peak memory of the physics branch
  (``BlendshapeODEForceEstimator``) with the MLP and the mesh-convolution
  encoders, on the default synthetic data and the default face.
* Inference throughput (frames/s) of ``BiomechAUClassifier.predict``.
* Inference memory against frame count (``--stream``): peak memory of
  ``BlendshapeODEForceEstimator.transform`` and ``BiomechAUClassifier.predict_proba``
  (MLP encoder, default face) on frame tables of 100k, 300k and 1M frames, each
  size in a fresh process: the process RSS sampled every 5 ms, reported over
  the input (RSS once the table is built) and over input plus returned array.

Usage::

    python benchmarks/estimators.py [--device cuda] [--epochs 3]
    python benchmarks/estimators.py --stream [--frames 100000 300000 1000000]

Image-feature overhead and cached-fold cost: ``python benchmarks/image_features.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pandas as pd

import torch

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BiomechAUClassifier, BlendshapeODEForceEstimator
from skbiomech.face import default_face_model


def _peak_mb(device):
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakRSS(threading.Thread):
    """Samples the process RSS until stopped; ``peak`` in MiB."""

    def __init__(self, interval=0.005):
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, _rss_mb(), threading.Event()

    def run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(self.interval)

    def stop(self):
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss_mb())
        return self.peak


def _long_table(frames, n_frames):
    """``n_frames`` rows: the synthetic sequences repeated, each repeat a sequence of its own."""
    coefficients = frames.drop(columns=["subject", "sequence", "frame"]).to_numpy(np.float32)
    length = frames.groupby(["subject", "sequence"]).size().iloc[0]
    reps = -(-n_frames // len(coefficients))
    table = pd.DataFrame(np.tile(coefficients, (reps, 1))[:n_frames], columns=frames.columns[3:])
    position = np.arange(n_frames)
    table.insert(0, "frame", position % length)
    table.insert(0, "sequence", position // length)
    table.insert(0, "subject", (position // (length * 8)).astype(str))
    return table


def _stream_child(kind, weights, n_frames, device):
    """One measurement, in this (fresh) process; prints one JSON line."""
    cls = BlendshapeODEForceEstimator if kind == "transform" else BiomechAUClassifier
    face = default_face_model()
    model = cls.load_weights(weights, face=face, device=device)
    data = make_synthetic_au_dataset(n_subjects=2, n_sequences=1, sequence_length=200, face=face, random_state=0)
    table = _long_table(data.frames, n_frames)
    method = model.transform if kind == "transform" else model.predict_proba
    method(table.iloc[:1000])  # warm-up
    before = _rss_mb()
    sampler = _PeakRSS()
    sampler.start()
    start = time.perf_counter()
    out = method(table)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    print(json.dumps({
        "frames": n_frames,
        "input_mb": round(table.memory_usage(deep=True).sum() / 2**20, 1),
        "output_mb": round(out.nbytes / 2**20, 1),
        "peak_over_input_mb": round(peak - before, 1),
        "peak_over_input_and_output_mb": round(peak - before - out.nbytes / 2**20, 1),
        "frames_per_s": round(n_frames / seconds),
    }))  # fmt: skip


def _stream(args):
    face = default_face_model()
    data = make_synthetic_au_dataset(n_subjects=2, n_sequences=2, sequence_length=200, face=face, random_state=0)
    report = {"device": args.device, "face_vertices": face.n_vertices, "encoder": "mlp"}
    with tempfile.TemporaryDirectory() as folder:
        for kind, cls in (("transform", BlendshapeODEForceEstimator), ("predict_proba", BiomechAUClassifier)):
            weights = os.path.join(folder, f"{kind}.pt")
            model = cls(face, max_epochs=1, device=args.device, random_state=0)
            model.fit(data.frames, data.labels) if kind == "predict_proba" else model.fit(data.frames)
            model.save_weights(weights)
            rows = []
            for n_frames in args.frames:
                child = [sys.executable, __file__, "--child", kind, weights, str(n_frames), "--device", args.device]
                result = subprocess.run(child, capture_output=True, text=True)
                if result.returncode:
                    raise RuntimeError(f"{' '.join(child)} failed:\n{result.stderr}")
                rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            report[kind] = rows
    print(json.dumps(report, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--stream", action="store_true", help="inference memory against frame count")
    parser.add_argument("--frames", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--child", nargs=3, metavar=("KIND", "WEIGHTS", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _stream_child(args.child[0], args.child[1], int(args.child[2]), args.device)
    if args.stream:
        return _stream(args)
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
