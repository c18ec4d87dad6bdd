"""Command-line interface: ``skbiomech demo``, ``skbiomech verify`` and ``skbiomech detect``."""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["main"]


def _muscle_face(args):
    """The face ``verify --muscles`` tabulates: default, the fetched ICT model, a folder or a file."""
    from pathlib import Path

    from .face import FaceModel, default_face_model, load_ict_facekit

    if args.face == "default":
        return default_face_model(resolution=args.resolution)
    if args.face == "ict":
        from .video import load_ict_face

        return load_ict_face()[0]
    path = Path(args.face)
    if path.is_dir():
        return load_ict_facekit(path)
    if path.is_file():
        return FaceModel.load(path)
    raise FileNotFoundError(
        f"--face {args.face!r}: not 'default', 'ict', an ICT-FaceKit folder or a FaceModel .npz file."
    )


def _muscles(args):
    from .physics import muscle_response_table

    face = _muscle_face(args)
    table = muscle_response_table(face)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
        return 0
    print(f"Static response of each muscle at unit activation, {face.name} (K_B^-1 G[:, m])")
    wide, shape = max(map(len, table["muscle"])) + 2, max(map(len, table["largest_shape"])) + 2
    print(f"{'muscle':<{wide}}{'pulls':<8}{'cosine':>6}  {'largest shape':<{shape}}{'value':>6}  targets")
    for row in table.itertuples(index=False):
        print(
            f"{row.muscle:<{wide}}{row.line_of_action:<8}{row.cosine:>6.3f}  {row.largest_shape:<{shape}}"
            f"{row.largest_value:>+6.2f}  {row.targets}"
        )
    fields = int((table["line_of_action"] == "field").sum())
    print(
        f"\n{int((table['cosine'] >= 0.9).sum())} of {len(table)} muscles at cosine >= 0.9; {fields} pull along "
        "a field derived from their target shapes (anchor: toward their anchor point)."
    )
    return 0


def _verify(args):
    if args.muscles:
        return _muscles(args)
    from .face import default_face_model
    from .physics import verify_reduction

    start = time.perf_counter()
    print(f"Building the default face model (resolution={args.resolution})...", file=sys.stderr)
    face = default_face_model(resolution=args.resolution)
    print(
        f"  {face.n_vertices} vertices, {face.n_muscles} muscles, {face.n_blendshapes} blendshapes.\n"
        f"Simulating {args.frames} frames with the full nonlinear spring-mass model "
        "and comparing the reduced models...",
        file=sys.stderr,
    )
    figures = verify_reduction(face, n_frames=args.frames, scale=args.scale)
    figures["wall_time_s"] = round(time.perf_counter() - start, 2)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"\nPeak displacement {10 * figures['peak_displacement_cm']:.1f} mm; reduced natural "
        f"frequencies {figures['natural_frequency_hz'][0]:.1f}-{figures['natural_frequency_hz'][1]:.1f} Hz."
    )
    print("\nRelative error of the blendshape-coefficient trajectory")
    print(f"{'model':<14}{'vs nonlinear':>14}{'vs linearized':>15}")
    for name, error in figures["trajectory_error"].items():
        linear = figures["trajectory_error_vs_linear"][name]
        print(f"{name:<14}{error:>14.3g}{linear:>15.3g}")
    correlation = figures["activation_correlation"]
    print(
        "\nMuscle activations recovered by inverting each model, correlation with the truth:\n"
        f"  corrected elastic model {correlation['elastic']:+.3f}\n"
        f"  paper's model (Eq. 5-6)  {correlation['paper']:+.3f}"
    )
    print(f"\n({figures['wall_time_s']} s; --json prints the figures as JSON)")
    return 0


def _demo(args):
    from .demo import format_table, run_demo

    print(
        "skbiomech demo: the paper's Table 1 on the synthetic AU benchmark "
        f"({args.subjects} subjects, {args.folds}-fold subject-grouped CV); results in {args.out}/",
        file=sys.stderr,
    )
    results = run_demo(
        args.out, n_subjects=args.subjects, sequence_length=args.sequence_length, n_folds=args.folds, max_epochs=args.epochs,
        backbone=args.backbone, image_size=args.image_size, random_state=args.seed,
    )  # fmt: skip
    if args.json:
        print(json.dumps({"f1": results["table"].round(4).to_dict(orient="index"), "seconds": results["seconds"]}, indent=2))
        return 0
    print("\nF1 (%) per AU, 3-fold subject-independent cross-validation (cf. the paper's Table 1)")
    print(format_table(results["table"]))
    print(f"\nImage branch: {args.backbone}, {results['image_weights']} weights. {results['seconds']} s.")
    print("Files: " + ", ".join(results["files"]))
    return 0


def _detect(args):
    from .detect import detect
    from .video import FaceTracker

    tracker = FaceTracker(
        method=args.method, landmarker=args.landmarker, ict_facekit=args.ict_facekit, max_faces=args.max_faces
    )
    results = detect(
        args.inputs, args.out, tracker=tracker, detector=args.detector, threshold=args.threshold, plot=args.plot,
        overwrite=args.overwrite, n_jobs=args.jobs, verbose=1,
    )  # fmt: skip
    errors = results.attrs.get("errors", {})
    n_inputs = results["input"].nunique() if len(results) else 0
    print(f"{n_inputs} input(s), {len(results)} frames: CSVs in {args.out}/", file=sys.stderr)
    for path, error in errors.items():
        print(f"  failed: {path}: {error}", file=sys.stderr)
    return 1 if errors else 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="skbiomech",
        description="Facial action unit detection through biomechanical force modelling.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify",
        help="check the reduced physics against a full nonlinear simulation of the default face",
    )
    verify.add_argument("--resolution", type=int, default=51, help="vertices across the face (default 51)")
    verify.add_argument("--frames", type=int, default=60, help="frames at 30 fps (default 60)")
    verify.add_argument("--scale", type=float, default=1.0, help="activation scale (1.0: ~6 mm peaks)")
    verify.add_argument("--json", action="store_true", help="print the figures as JSON")
    verify.add_argument(
        "--muscles", action="store_true",
        help="instead, print each muscle's static response against its target shapes",
    )  # fmt: skip
    verify.add_argument(
        "--face", default="default",
        help="with --muscles: 'default', 'ict' (fetched, cached), an ICT-FaceKit folder or a FaceModel .npz",
    )  # fmt: skip
    verify.set_defaults(handler=_verify)
    demo = commands.add_parser(
        "demo", help="cross-validate the full model and its baselines on the synthetic benchmark"
    )
    demo.add_argument("--out", default="skbiomech-demo", help="folder for the table and plots")
    demo.add_argument("--subjects", type=int, default=9)
    demo.add_argument("--sequence-length", type=int, default=(200, 300), help="frames per sequence")
    demo.add_argument("--folds", type=int, default=3)
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--backbone", default="resnet18", help="torchvision backbone of the image branch")
    demo.add_argument("--image-size", type=int, default=64)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--json", action="store_true", help="print the F1 table as JSON")
    demo.set_defaults(handler=_demo)
    detect = commands.add_parser(
        "detect", help="AUs, muscle activations and head pose from face videos, as OpenFace-style CSVs"
    )
    detect.add_argument("inputs", nargs="+", help="videos, images, folders of frames or folders of videos")
    detect.add_argument("-o", "--out", default="skbiomech-detect", help="folder for one CSV (and plot) per input")
    detect.add_argument("--plot", action="store_true", help="also write a figure per input")
    detect.add_argument("--jobs", type=int, default=1, help="inputs processed in parallel")
    detect.add_argument(
        "--detector", choices=("learned", "physics"), default="learned",
        help="what decides AU occurrence (AUxx_c): the shipped learned detector, or intensity >= --threshold",
    )  # fmt: skip
    detect.add_argument(
        "--threshold", type=float, default=1.0, help="with --detector physics: AU present when intensity >= this (0-5)"
    )
    detect.add_argument("--method", choices=("landmarks", "arkit"), default="landmarks")
    detect.add_argument("--max-faces", type=int, default=1, help="faces MediaPipe looks for (one is followed)")
    detect.add_argument("--landmarker", default=None, help="MediaPipe face_landmarker.task (default: fetched)")
    detect.add_argument("--ict-facekit", default=None, help="ICT-FaceKit FaceXModel folder (default: fetched)")
    detect.add_argument("--overwrite", action="store_true", help="recompute inputs whose CSV exists")
    detect.set_defaults(handler=_detect)
    return parser


def main(argv=None):
    """Entry point of the ``skbiomech`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "frames", 3) < 3:
        parser.error("--frames must be at least 3")
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"skbiomech {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
