"""Build the shipped AU detector: train on simulated ICT-FaceKit subjects, score on held-out ones.

Trains :func:`skbiomech.pretrained.train_au_detector` on
``--train-subjects`` subjects of :func:`skbiomech.pretrained.simulate_front_end`
(seed 0), scores it and the physics inverse on ``--test-subjects`` others
(seed 1) with :func:`skbiomech.pretrained.evaluate_detectors`, and writes,
atomically, ``skbiomech/_data/ict_au_detector.pt`` (weights only) and
``ict_au_detector.json`` (training data, recipe, held-out scores). Prints
the report as JSON. Deterministic on the CPU: a rerun writes the same
weights.

Usage::

    SKBIOMECH_ICT_FACEKIT=../shared/data/ict-facekit/FaceXModel python scripts/build_detector.py

``--out DIR`` writes elsewhere (``--quick`` for a smoke run: 3 + 2
subjects, 2 epochs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def build(out_dir, *, train_subjects=48, test_subjects=12, max_epochs=60, log=print):
    from skbiomech import __version__
    from skbiomech._io import atomic_write
    from skbiomech.pretrained import REPORT_FILE, WEIGHTS_FILE, evaluate_detectors, front_end_statistics
    from skbiomech.pretrained import simulate_front_end, train_au_detector
    from skbiomech.video import load_ict_face

    start = time.perf_counter()
    face, _ = load_ict_face(n_identities=0)
    stats = front_end_statistics()
    if stats["face_fingerprint"] != face.fingerprint:
        log("note: the front-end statistics were measured with another build of the ICT face")
    train = simulate_front_end(face, train_subjects, random_state=0)
    test = simulate_front_end(face, test_subjects, random_state=1)
    log(f"simulated {len(train.frames)} training and {len(test.frames)} held-out frames ({time.perf_counter() - start:.0f} s)")
    classifier = train_au_detector(face, train, max_epochs=max_epochs)
    log(f"trained {len(classifier.history_)} epochs ({time.perf_counter() - start:.0f} s)")
    scores = evaluate_detectors(face, test, classifier)
    report = {
        "skbiomech": __version__,
        "face": {"name": face.name, "fingerprint": face.fingerprint, "n_blendshapes": face.n_blendshapes, "n_muscles": face.n_muscles},
        "aus": list(classifier.aus_),
        "training_data": {
            "generator": "skbiomech.pretrained.simulate_front_end (make_synthetic_au_dataset on the ICT face + the measured front end)",
            "train": {"subjects": train_subjects, "seed": 0, "frames": len(train.frames)},
            "held_out": {"subjects": test_subjects, "seed": 1, "frames": len(test.frames)},
            "front_end_measured_on": [v["video"] for v in stats["videos"]],
        },
        "recipe": {"inputs": list(classifier.inputs), "max_epochs": max_epochs, "epochs_run": len(classifier.history_),
                   "validation_fraction": classifier.validation_fraction, "early_stopping": classifier.early_stopping},
        "held_out": scores,
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    classifier.save_weights(out / WEIGHTS_FILE)
    with atomic_write(out / REPORT_FILE, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
        handle.write("\n")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "skbiomech" / "_data"))
    parser.add_argument("--train-subjects", type=int, default=48)
    parser.add_argument("--test-subjects", type=int, default=12)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="3 + 2 subjects, 2 epochs (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_subjects, args.test_subjects, args.max_epochs = 3, 2, 2
    report = build(
        args.out, train_subjects=args.train_subjects, test_subjects=args.test_subjects, max_epochs=args.max_epochs,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )  # fmt: skip
    summary = {name: {"mean_f1": s["mean_f1"], "mean_force_r": s["mean_force_r"]} for name, s in report["held_out"].items()}
    print(json.dumps({"summary": summary, **report}, indent=1))
    return 0 if np.isfinite(summary["learned"]["mean_f1"]) else 1


if __name__ == "__main__":
    sys.exit(main())
