"""
The paper's dynamics vs the corrected dynamics
==============================================

Drive the default face with a smile, a cheek raise, a brow raise and a jaw
drop; simulate the full nonlinear spring-mass skin; project the meshes onto
the blendshapes; and compare the reduced models driven by the same forces.
Run as ``python examples/physics_verification.py``; with matplotlib installed
(``pip install skbiomech[plot]``) it also writes
``physics_verification.png`` to the current folder.
"""

import numpy as np
import torch

from skbiomech.face import default_face_model, project_to_blendshapes
from skbiomech.physics import reduce_face_model, rollout, simulate_cartesian, verification_activations

face = default_face_model(resolution=41)
reduced = reduce_face_model(face)
dt = 1 / 30
activations = verification_activations(face, n_frames=60, dt=dt)
truth = project_to_blendshapes(simulate_cartesian(face, activations, dt), face)

forces = torch.as_tensor(activations @ reduced.force_activation.T)
system = [torch.as_tensor(m) for m in (reduced.mass, reduced.stiffness, reduced.damping)]
models = {
    "elastic (first-order hold)": rollout(forces, *system, dt).numpy(),
    "quasi-static": rollout(forces, *system, dt, dynamics="quasistatic").numpy(),
    "paper, Eq. 5-6": rollout(forces, torch.as_tensor(reduced.paper_mass), *system[1:], dt, dynamics="paper").numpy(),
}
for name, c in models.items():
    error = np.linalg.norm(c - truth) / np.linalg.norm(truth)
    print(f"{name:<28} relative trajectory error {error:.3g}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    shape = face.blendshape_names.index("zygomaticus_major_L")
    t = np.arange(len(truth)) * dt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].plot(t, truth[:, shape], "k", lw=3, alpha=0.4, label="full simulation")
    for name, c in list(models.items())[:2]:
        axes[0].plot(t, c[:, shape], label=name)
    axes[0].set(xlabel="time (s)", ylabel="zygomaticus_major_L coefficient", title="corrected models")
    axes[0].legend()
    axes[1].semilogy(t, np.abs(models["paper, Eq. 5-6"][:, shape]) + 1e-12, "r")
    axes[1].set(xlabel="time (s)", title="paper's model: |coefficient| diverges")
    fig.tight_layout()
    fig.savefig("physics_verification.png", dpi=100)
    print("wrote physics_verification.png")
