"""
Muscle forces on the face during a smile (Figure 5)
===================================================

The paper's Figure 5 draws the estimated muscle forces on the face mesh.
Here :class:`~skbiomech.estimators.BlendshapeODEForceEstimator` is fitted on
the synthetic benchmark (reconstruction loss only, no labels), and on a
held-out subject's frame with a strong smile (AU12) the per-vertex force
magnitude of the estimated muscle activations is drawn next to that of the
simulator's true activations, which no real dataset has.
:func:`skbiomech.plotting.plot_force_on_mesh` draws a tripcolor of the
frontal view. Run as ``python examples/plot_force_on_mesh.py``;
``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks it to a smoke test. With matplotlib it
writes ``force_on_mesh.png`` to the current folder.
"""

import os
import time

import numpy as np

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.face import default_face_model
from skbiomech.physics import muscle_vertex_forces

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, SEQUENCE_LENGTH, MAX_EPOCHS = (3, 64, 2) if QUICK else (8, (200, 300), 100)
start = time.perf_counter()

face = default_face_model(resolution=31)
data = make_synthetic_au_dataset(
    n_subjects=N_SUBJECTS, n_sequences=3, sequence_length=SEQUENCE_LENGTH, face=face, random_state=0
)
test_subject = np.unique(data.groups)[-1]
train = data.groups != test_subject
estimator = BlendshapeODEForceEstimator(face, max_epochs=MAX_EPOCHS, device="cpu", random_state=0)
estimator.fit(data.frames[train])
print(f"fitted on {train.sum()} frames of {N_SUBJECTS - 1} subjects, {MAX_EPOCHS} epochs")

# %%
# The held-out frame with the strongest AU12 (lip-corner puller), and the
# muscle activations estimated for it and simulated for it.
test = np.flatnonzero(~train)
frame = test[np.argmax(data.intensities["AU12"].to_numpy()[test])]
n_muscles = face.n_muscles
estimated = estimator.transform(data.frames.iloc[test])[:, :n_muscles][np.searchsorted(test, frame)]
true = data.forces.iloc[frame].to_numpy()
print(f"subject {test_subject}, frame {frame}: AU12 label {int(data.labels['AU12'].iloc[frame])}, "
      f"intensity {data.intensities['AU12'].iloc[frame]:.2f}")
print(f"\n{'muscle':<32} {'true':>7} {'estimated':>9}")
for j in np.argsort(-true)[:6]:
    print(f"{face.muscle_names[j]:<32} {true[j]:7.3f} {estimated[j]:9.3f}")
print("AU12 muscles:", ", ".join(face.au_muscles["AU12"]))

magnitude = {
    "true activations": np.linalg.norm(muscle_vertex_forces(face, true), axis=1),
    "estimated": np.linalg.norm(muscle_vertex_forces(face, np.clip(estimated, 0, None)), axis=1),
}
r = np.corrcoef(magnitude["true activations"], magnitude["estimated"])[0, 1]
print(f"\ncorrelation of the per-vertex force magnitudes (true vs estimated): {r:.3f}")
print(f"\n{time.perf_counter() - start:.1f} s")

# %%
# Side by side on the mesh.
try:
    import matplotlib  # noqa: F401
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    import matplotlib.pyplot as plt

    from skbiomech.plotting import plot_force_on_mesh

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    for ax, (name, values) in zip(axes, magnitude.items()):
        plot_force_on_mesh(face, values, ax=ax, title=f"AU12 frame: {name}")
    fig.tight_layout()
    fig.savefig("force_on_mesh.png", dpi=100)
    plt.close(fig)
    print("wrote force_on_mesh.png")
