"""
Estimated muscle forces against AU labels (Figure 4)
====================================================

The paper's Figure 4: over a video, the estimated force of the muscles
behind an AU rises and falls with the AU's labels. Here the physics branch
(:class:`~skbiomech.estimators.BlendshapeODEForceEstimator`) is fitted on
some subjects of the synthetic benchmark and applied to a held-out one; the
forces of zygomaticus major (AU12) and of the frontalis (AU1, AU2) are drawn
against the labels. Run as ``python examples/plot_forces_vs_labels.py``;
``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks it to a smoke test. With matplotlib it
writes ``forces_vs_labels.png``.
"""

import os

import numpy as np
import pandas as pd

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.face import default_face_model

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, LENGTH, EPOCHS = (3, 64, 2) if QUICK else (7, 300, 100)

face = default_face_model(resolution=31)
data = make_synthetic_au_dataset(n_subjects=N_SUBJECTS, n_sequences=2, sequence_length=LENGTH, face=face, random_state=0)
held_out = data.groups == data.groups[-1]
physics = BlendshapeODEForceEstimator(face, max_epochs=EPOCHS, device="cpu", random_state=0)
physics.fit(data.frames[~held_out], data.labels[~held_out])

# %%
# Forces on the first sequence of the held-out subject, and how well each
# AU's muscle forces separate its labelled frames from the others.
frames = data.frames[held_out]
sequence = frames[frames["sequence"] == frames["sequence"].iloc[0]]
forces = pd.DataFrame(physics.transform(sequence), columns=physics.get_feature_names_out(), index=sequence.index)
for au in ("AU12", "AU01", "AU02"):
    columns = [f"force_{m}" for m in face.au_muscles[au]]
    strength = forces[columns].mean(axis=1)
    labels = data.labels.loc[sequence.index, au]
    on, off = strength[labels == 1].mean(), strength[labels == 0].mean()
    print(f"{au}: mean force {on:.3f} when labelled, {off:.3f} when not ({np.sum(labels == 1)} labelled frames)")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skbiomech.plotting import plot_forces_and_labels
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for ax, au in zip(axes, ("AU12", "AU01")):
        columns = [f"force_{m}" for m in face.au_muscles[au]]
        plot_forces_and_labels(forces[columns], data.labels.loc[sequence.index, au], ax=ax, title=au)
    fig.tight_layout()
    fig.savefig("forces_vs_labels.png", dpi=100)
    print("wrote forces_vs_labels.png")
