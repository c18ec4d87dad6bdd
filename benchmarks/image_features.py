"""ImageFeatureTransformer benchmark; prints one JSON object.

On N synthetic face crops rendered at 112 px and upscaled to 224 (ResNet50,
``weights=None``: the weights do not change the cost), on the CPU:

(a) the bare torchvision forward on the already preprocessed batch, in the
    transformer's batches;
(b) ``ImageFeatureTransformer.transform`` with the cache disabled (decoding,
    resizing, normalizing, forward and building the output frame table);
    ``overhead`` is (b) / (a) - 1;
(c) a second ``transform`` by a cloned and refitted transformer (a second CV
    fold) reading the disk cache, as a fraction of the first, cache-filling call.

Each timing is the best of ``--repeats`` runs, (a) and (b) interleaved, after
one warm-up batch; the load average is reported because other processes on
the machine slow CPU inference unevenly.

Usage::

    python benchmarks/image_features.py
    python benchmarks/image_features.py --frames 64 --repeats 3

Targets: overhead <= 10%; cached call < 5% of the first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch
from sklearn.base import clone

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators._image import ImageFeatureTransformer


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--source-size", type=int, default=112)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = make_synthetic_au_dataset(
        n_subjects=2, n_sequences=1, sequence_length=max(2, args.frames // 2),
        images="memory", image_size=args.source_size, random_state=0,
    )  # fmt: skip
    frames = data.frames.iloc[: args.frames]
    settings = dict(
        backbone=args.backbone, weights=None, image_size=args.image_size, batch_size=args.batch_size,
        device="cpu", random_state=0,
    )  # fmt: skip
    extractor = ImageFeatureTransformer(**settings, cache_dir=False).fit(frames)
    model = extractor.backbone_

    # The transformer's own preprocessing, done once, outside the timing of (a).
    images = torch.from_numpy(np.stack(frames["image"].to_list())).permute(0, 3, 1, 2).float() / 255
    images = torch.nn.functional.interpolate(
        images, size=(args.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False
    )
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (extractor.mean_, extractor.std_))
    batch = (images - mean) / std

    def bare_forward():
        with torch.inference_mode():
            return [model(chunk) for chunk in torch.split(batch, args.batch_size)]

    with torch.inference_mode():
        model(batch[: args.batch_size])  # warm-up: oneDNN builds its kernels on first use

    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(_seconds(bare_forward))
        ours.append(_seconds(lambda: extractor.transform(frames)))
    reference = torch.cat(bare_forward()).numpy()
    agree = np.abs(extractor.transform(frames).filter(like="z2d_").to_numpy() - reference).max()

    with tempfile.TemporaryDirectory() as cache_dir:
        cached = ImageFeatureTransformer(**settings, cache_dir=cache_dir).fit(frames)
        first = _seconds(lambda: cached.transform(frames))
        second_fold = clone(cached)
        refit = _seconds(lambda: second_fold.fit(frames))
        second = _seconds(lambda: second_fold.transform(frames))

    result = {
        "backbone": args.backbone,
        "weights": None,
        "frames": len(frames),
        "source_size": args.source_size,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "a_bare_forward_s": round(min(bare), 3),
        "b_transform_no_cache_s": round(min(ours), 3),
        "bare_images_per_s": round(len(frames) / min(bare), 2),
        "overhead": round(min(ours) / min(bare) - 1, 4),
        "overhead_target": 0.10,
        "max_abs_difference_vs_bare": float(agree),
        "c_first_call_cache_filling_s": round(first, 3),
        "c_second_fold_refit_s": round(refit, 3),
        "c_second_fold_cached_transform_s": round(second, 4),
        "cached_fraction": round(second / first, 4),
        "cached_fraction_target": 0.05,
        "all_runs_s": {"bare": [round(t, 3) for t in bare], "transform": [round(t, 3) for t in ours]},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
