"""Mesh-convolution encoder benchmark; prints one JSON object.

Frames per second of :class:`skbiomech.nn._mesh.MeshConvEncoder` (forward,
and forward + backward of a scalar loss) on the default face, against a
2-layer MLP on the blendshape coefficients for scale, on the CPU and, when
one is available, on a CUDA GPU. Also reports parameter counts and the
time to build the encoder (pooling hierarchy included).

Usage::

    python benchmarks/mesh_encoder.py                  # cpu, and cuda if available
    python benchmarks/mesh_encoder.py --devices cpu --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from _timing import best_time  # noqa: E402  (benchmarks/ is on sys.path)
from torch import nn

from skbiomech.face import default_face_model
from skbiomech.nn._mesh import MeshConvEncoder


def _throughput(module, inputs, device, repeats):
    batch = inputs.shape[0]

    def forward():
        with torch.no_grad():
            module(inputs)

    def forward_backward():
        module.zero_grad(set_to_none=True)
        module(inputs).square().mean().backward()

    return {
        "parameters": sum(p.numel() for p in module.parameters()),
        "forward_frames_per_s": round(batch / best_time(forward, device, repeats)),
        "forward_backward_frames_per_s": round(batch / best_time(forward_backward, device, repeats)),
    }


def benchmark(face, device, batch, repeats, latent_dim):
    torch.manual_seed(0)
    start = time.perf_counter()
    encoder = MeshConvEncoder(face, latent_dim=latent_dim)
    build_s = time.perf_counter() - start
    mlp = nn.Sequential(nn.Linear(face.n_blendshapes, 256), nn.ELU(), nn.Linear(256, latent_dim))
    coefficients = torch.randn(batch, face.n_blendshapes, device=device)
    mesh = _throughput(encoder.to(device), coefficients, device, repeats)
    mesh.update(level_sizes=encoder.level_sizes, build_s=round(build_s, 3))
    return {"mesh_encoder": mesh, "mlp_encoder": _throughput(mlp.to(device), coefficients, device, repeats)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--resolution", type=int, default=51, help="default face resolution (51: 2,770 vertices)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    face = default_face_model(resolution=args.resolution)
    report = {
        "face": {"resolution": args.resolution, "n_vertices": face.n_vertices, "n_blendshapes": face.n_blendshapes},
        "batch": args.batch,
        "encoder": {"channels": [16, 32, 32, 64], "order": 3, "pool_factor": 4, "latent_dim": args.latent_dim},
        "mlp": f"Linear({face.n_blendshapes}, 256) -> ELU -> Linear(256, {args.latent_dim})",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "results": {},
    }
    for name in devices:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            parser.error("cuda was requested but no CUDA GPU is available")
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
        result = benchmark(face, device, args.batch, args.repeats, args.latent_dim)
        report["results"][name] = {"device": label, **result}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
