"""Synthetic AU benchmark figures; prints one JSON object.

* Generation time and peak memory of a BP4D-sized call (41 subjects x 8
  sequences of 400-490 frames, about 146k frames, no images).
* Base rate of each AU against its target, for the BP4D and DISFA AU sets.
* Rendering throughput of a small call with images kept in memory.

Usage::

    python benchmarks/datasets.py [--skip-images]

Targets: BP4D-sized call under 2 minutes with at most 4 GB peak memory on
2 cores; rendering at least 200 frames/s at 112 px.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.datasets._events import BASE_RATES, DISFA_BASE_RATES


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    report = {}

    start = time.perf_counter()
    bp4d = make_synthetic_au_dataset(n_subjects=41, n_sequences=8, sequence_length=(400, 490), random_state=0)
    report["bp4d_sized"] = {
        "n_frames": len(bp4d.frames),
        "seconds": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
        "targets": {"seconds": 120, "peak_rss_mb": 4096},
    }
    rates = bp4d.labels.mean()
    report["bp4d_base_rates"] = {au: {"measured": round(rates[au], 3), "target": BASE_RATES[au]} for au in rates.index}
    report["bp4d_label_correlation"] = {
        f"{a}+{b}": round(bp4d.labels[a].corr(bp4d.labels[b]), 3)
        for a, b in (("AU06", "AU12"), ("AU01", "AU02"), ("AU04", "AU07"), ("AU17", "AU24"), ("AU23", "AU24"), ("AU01", "AU12"))
    }
    del bp4d

    disfa = make_synthetic_au_dataset(n_subjects=27, n_sequences=4, sequence_length=(400, 490), aus="disfa", random_state=1)
    rates = disfa.labels.mean()
    report["disfa_base_rates"] = {
        au: {"measured": round(rates[au], 3), "target": DISFA_BASE_RATES[au]} for au in rates.index
    }

    if not args.skip_images:
        make_synthetic_au_dataset(n_subjects=1, n_sequences=1, sequence_length=16, images="memory", random_state=2)
        start = time.perf_counter()
        data = make_synthetic_au_dataset(n_subjects=4, n_sequences=2, sequence_length=128, images="memory", random_state=2)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        make_synthetic_au_dataset(n_subjects=4, n_sequences=2, sequence_length=128, random_state=2)
        without = time.perf_counter() - start
        report["images_112px"] = {
            "n_frames": len(data.frames),
            "frames_per_s_rendering": round(len(data.frames) / max(seconds - without, 1e-9), 1),
            "target_frames_per_s": 200,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
