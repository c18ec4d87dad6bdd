"""Physics benchmarks; prints one JSON object.

* Generalized force: the precomputed operator ``G`` against the paper's
  per-vertex Eq. 9, vectorized and as a Python loop over vertices, on the
  default face at N >= 5,000 vertices.
* Rollout throughput (frames/s) for a batch of 256 sequences x 32 frames:
  exact recurrence (zero- and first-order hold), one impulse-response matmul,
  and the same ODE through ``torchdiffeq.odeint`` with fixed-step Euler at
  the substeps that stability needs (when torchdiffeq is installed).

Usage::

    python benchmarks/physics.py              # CPU
    python benchmarks/physics.py --device cuda

Targets: G >= 20x the vectorized Eq. 9; exact rollout >= 2x torchdiffeq.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch
from _timing import best_time  # noqa: E402  (benchmarks/ is on sys.path)

from skbiomech.face import default_face_model
from skbiomech.physics import ReducedDynamics, reduce_face_model, stable_substeps, state_matrices


def generalized_force_benchmark(face, reduced, device, repeats, batch):
    dtype = torch.float32
    blendshapes = torch.as_tensor(np.array(face.blendshapes), dtype=dtype, device=device)
    distribution = torch.as_tensor(np.array(face.distribution), dtype=dtype, device=device)
    operator = torch.as_tensor(reduced.force_vector, dtype=dtype, device=device)
    forces = torch.randn(batch, face.n_muscles, 3, dtype=dtype, device=device)

    def with_operator():
        return forces.flatten(1) @ operator.T

    def eq9_vectorized():
        vertex_forces = torch.einsum("nm,bmd->bnd", distribution, forces)
        return torch.einsum("knd,bnd->bk", blendshapes, vertex_forces)

    blendshapes_cpu, distribution_cpu = blendshapes.cpu(), distribution.cpu()
    one_frame = forces[0].cpu()

    def eq9_loop():  # one frame: the per-vertex sum as a reader would first write it
        q = torch.zeros(face.n_blendshapes, dtype=dtype)
        vertex_forces = distribution_cpu @ one_frame
        for i in range(face.n_vertices):
            q += blendshapes_cpu[:, i, :] @ vertex_forces[i]
        return q

    reference = eq9_vectorized()
    torch.testing.assert_close(with_operator(), reference, rtol=0, atol=1e-3 * reference.abs().max().item())
    t_operator = best_time(with_operator, device, repeats) / batch
    t_vectorized = best_time(eq9_vectorized, device, repeats) / batch
    t_loop = best_time(eq9_loop, torch.device("cpu"), 1, min_time=0.0)
    return {
        "n_vertices": face.n_vertices,
        "batch": batch,
        "seconds_per_frame": {"operator_G": t_operator, "eq9_vectorized": t_vectorized, "eq9_loop": t_loop},
        "speedup_vs_eq9_vectorized": t_vectorized / t_operator,
        "speedup_vs_eq9_loop": t_loop / t_operator,
        "target_speedup_vs_eq9_vectorized": 20,
    }


def rollout_benchmark(reduced, device, repeats, batch, n_frames, dt):
    dtype = torch.float32
    activations = torch.rand(batch, n_frames, reduced.n_muscles, dtype=dtype, device=device)
    frames = batch * n_frames
    results = {}
    for label, options in (
        ("exact_zoh", dict(hold="zero")),
        ("exact_foh", dict(hold="first")),
        ("impulse_foh", dict(hold="first", integrator="impulse")),
        ("quasistatic", dict(dynamics="quasistatic")),
    ):
        decoder = ReducedDynamics(reduced, dt=dt, **options).to(device)
        with torch.no_grad():
            seconds = best_time(lambda: decoder(activations), device, repeats)  # noqa: B023
        results[label] = frames / seconds

    # Training cost: forward + backward through the exact recurrence.
    decoder = ReducedDynamics(reduced, dt=dt, hold="first").to(device)
    trainable = activations.clone().requires_grad_()
    results["exact_foh_forward_backward"] = frames / best_time(
        lambda: decoder(trainable).square().mean().backward(), device, repeats
    )

    figures = {"batch": batch, "n_frames": n_frames, "frames_per_s": results}
    try:
        from torchdiffeq import odeint
    except ImportError:
        figures["torchdiffeq"] = "not installed (pip install torchdiffeq)"
        return figures

    substeps = stable_substeps(reduced.mass, reduced.stiffness, reduced.damping, dt, "euler")
    a, b_u = state_matrices(*(torch.as_tensor(m) for m in (reduced.mass, reduced.stiffness, reduced.damping)))
    a, b_u = a.to(device, dtype), b_u.to(device, dtype)
    operator = torch.as_tensor(reduced.force_activation, dtype=dtype, device=device)
    forces = activations @ operator.T  # (B, T, K)
    times = torch.arange(n_frames, dtype=dtype, device=device) * dt

    def vector_field(t, x):  # zero-order hold, like exact_zoh
        frame = min(int(float(t) / dt + 1e-4), n_frames - 1)
        return x @ a.T + forces[:, frame] @ b_u.T

    x0 = torch.zeros(batch, a.shape[0], dtype=dtype, device=device)

    def with_torchdiffeq():
        return odeint(vector_field, x0, times, method="euler", options={"step_size": dt / substeps})

    with torch.no_grad():
        seconds = best_time(with_torchdiffeq, device, max(1, repeats // 2))
    results["torchdiffeq_euler"] = frames / seconds
    figures["torchdiffeq_euler_substeps_per_frame"] = substeps
    figures["speedup_exact_zoh_vs_torchdiffeq"] = results["exact_zoh"] / results["torchdiffeq_euler"]
    figures["speedup_exact_foh_vs_torchdiffeq"] = results["exact_foh"] / results["torchdiffeq_euler"]
    figures["target_speedup_vs_torchdiffeq"] = 2
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolution", type=int, default=71, help="default face resolution (71: ~5,600 vertices)")
    parser.add_argument("--batch", type=int, default=256, help="rollout batch")
    parser.add_argument(
        "--force-batch", type=int, nargs="+", default=[256, 8192],
        help="frames per call in the generalized-force benchmark (a GPU is launch-bound at small batch)",
    )
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA GPU; none is available")
    torch.manual_seed(0)
    face = default_face_model(resolution=args.resolution)
    reduced = reduce_face_model(face)
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "generalized_force": [
            generalized_force_benchmark(face, reduced, device, args.repeats, batch) for batch in args.force_batch
        ],
        "rollout": rollout_benchmark(reduced, device, args.repeats, args.batch, args.frames, 1 / 30),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
