"""
Data efficiency: the reconstruction loss with few labels (Table 4)
==================================================================

The paper's Table 4: with only part of the frames labelled, training the AU
head together with the physics reconstruction loss (``lambda_3d=1``) should
beat the AU loss alone (``lambda_3d=0, lambda_clean=0, lambda_smooth=0``),
because the physics losses use every frame while the AU loss only sees the
labelled ones. Unlabelled frames carry NaN labels, which
:class:`~skbiomech.estimators.BiomechAUClassifier` masks out of the AU loss.

Three-fold subject-grouped cross-validation on the synthetic benchmark; the
labelled frames are drawn at random among the training frames, the test
folds are always fully labelled. Run as
``python examples/plot_table4_data_efficiency.py``;
``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks it to a smoke test. With matplotlib it
writes ``table4_data_efficiency.png`` to the current folder.
"""

import os
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BiomechAUClassifier
from skbiomech.face import default_face_model
from skbiomech.metrics import mean_au_f1

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, SEQUENCE_LENGTH, MAX_EPOCHS = (3, 64, 2) if QUICK else (9, (200, 300), 100)
FRACTIONS = (0.05, 0.20, 0.50, 1.0)
SETTINGS = {
    "AU loss only": {"lambda_3d": 0.0, "lambda_clean": 0.0, "lambda_smooth": 0.0},
    "AU + reconstruction": {"lambda_3d": 1.0},
}
start = time.perf_counter()

face = default_face_model(resolution=31)
data = make_synthetic_au_dataset(
    n_subjects=N_SUBJECTS, n_sequences=3, sequence_length=SEQUENCE_LENGTH, face=face, random_state=0
)
print(f"{len(data.frames)} frames, {N_SUBJECTS} subjects, {data.labels.shape[1]} AUs, {MAX_EPOCHS} epochs")

# %%
# Mask all but a fraction of the training frames (the same frames for both
# settings), fit both settings on each fold and score the held-out subjects.
rng = np.random.default_rng(0)
order = rng.permutation(len(data.frames))  # frame i is labelled at fraction f if rank[i] < f * n
rank = np.empty_like(order)
rank[order] = np.arange(len(order))
folds = list(GroupKFold(n_splits=3).split(data.frames, groups=data.groups))
scores = {name: {f: [] for f in FRACTIONS} for name in SETTINGS}
for k, (train, test) in enumerate(folds, 1):
    for fraction in FRACTIONS:
        labels = data.labels.iloc[train].copy()
        unlabelled = rank[train] >= fraction * len(data.frames)
        labels.iloc[unlabelled, :] = np.nan
        for name, weights in SETTINGS.items():
            model = BiomechAUClassifier(
                face, max_epochs=MAX_EPOCHS, threshold="tune", device="cpu", random_state=0, **weights
            )
            model.fit(data.frames.iloc[train], labels)
            scores[name][fraction].append(mean_au_f1(data.labels.iloc[test], model.predict(data.frames.iloc[test])))
    print(f"fold {k}/3 done ({time.perf_counter() - start:.0f} s)", flush=True)

table = pd.DataFrame({name: {f"{f:.0%}": np.mean(v) for f, v in per.items()} for name, per in scores.items()}).T
print("\nMean F1 (%) over AUs, 3-fold subject-independent CV, by fraction of labelled training frames")
print((100 * table).round(1).to_string())
print("\npaper (BP4D, 50/20/5%): AU+recon 46.2/44.3/33.0, AU only 39.0/34.7/27.9")
print(f"\n{time.perf_counter() - start:.1f} s")

# %%
# The curve of mean F1 against the fraction of labels.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, row in table.iterrows():
        ax.plot([100 * f for f in FRACTIONS], 100 * row.to_numpy(), "o-", label=name)
    ax.set(xscale="log", xlabel="labelled training frames (%)", ylabel="mean F1 (%)", title="Table 4: data efficiency")
    ax.set_xticks([100 * f for f in FRACTIONS], [f"{f:.0%}" for f in FRACTIONS])
    ax.legend()
    fig.tight_layout()
    fig.savefig("table4_data_efficiency.png", dpi=100)
    print("wrote table4_data_efficiency.png")
