"""
Force recovery on held-out subjects: corrected vs paper dynamics
================================================================

The paper could not check its estimated forces: no AU dataset records
muscle activity. The synthetic benchmark does (``data.forces``, the
simulator's true muscle activations). Here
:class:`~skbiomech.estimators.BlendshapeODEForceEstimator` is fitted on some
subjects with the reconstruction loss only, and on OTHER subjects the
estimated forces (the force columns of ``transform``) are correlated with
the true activations, muscle by muscle, for the corrected elastic dynamics
(``dynamics="elastic"``, the default) and for the paper's Eq. 5-6
(``dynamics="paper"``). Run as ``python examples/plot_force_recovery.py``;
``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks it to a smoke test. With matplotlib it
writes ``force_recovery.png`` to the current folder.
"""

import os
import time

import numpy as np
import pandas as pd

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.face import default_face_model

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, SEQUENCE_LENGTH, MAX_EPOCHS = (4, 64, 2) if QUICK else (9, (200, 300), 80)
DYNAMICS = ("elastic", "paper")
start = time.perf_counter()

face = default_face_model(resolution=31)
data = make_synthetic_au_dataset(
    n_subjects=N_SUBJECTS, n_sequences=3, sequence_length=SEQUENCE_LENGTH, face=face, random_state=0
)
subjects = np.unique(data.groups)
held_out = subjects[-max(1, N_SUBJECTS // 3):]
test = np.isin(data.groups, held_out)
print(f"fit on {len(subjects) - len(held_out)} subjects ({(~test).sum()} frames), "
      f"evaluate on {list(held_out)} ({test.sum()} frames); {MAX_EPOCHS} epochs")


def pearson(a, b):
    """Per-column Pearson r; NaN where a column is constant (a muscle never active)."""
    a, b = a - a.mean(0), b - b.mean(0)
    denominator = np.sqrt((a**2).sum(0) * (b**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 1e-12, (a * b).sum(0) / denominator, np.nan)


# %%
# Fit each dynamics on the training subjects; correlate on the held-out ones.
true = data.forces.to_numpy()
active = true[test].std(0) > 0.05  # muscles that move on the held-out subjects
correlations, training_fit = {}, {}
for dynamics in DYNAMICS:
    estimator = BlendshapeODEForceEstimator(
        face, dynamics=dynamics, max_epochs=MAX_EPOCHS, device="cpu", random_state=0
    )
    estimator.fit(data.frames[~test])
    estimated = estimator.transform(data.frames)[:, : face.n_muscles]
    if not np.all(np.isfinite(estimated)):
        print(f"{dynamics}: non-finite forces")
    correlations[dynamics] = pd.Series(pearson(estimated[test], true[test]), index=face.muscle_names)
    training_fit[dynamics] = np.nanmean(pearson(estimated[~test], true[~test])[active])
table = pd.DataFrame(correlations)

print("\nPearson r between estimated and true muscle activations on held-out subjects")
print(f"({active.sum()} of {len(active)} muscles active on them, std > 0.05; the others are listed but not averaged)")
for dynamics in DYNAMICS:
    r = table[dynamics][active]
    print(f"  {dynamics:<8} held-out mean r {np.nanmean(r):.3f}  median {np.nanmedian(r):.3f}  "
          f"r > 0.5: {(r > 0.5).sum()}/{r.notna().sum()}  |  training subjects mean r {training_fit[dynamics]:.3f}")
print("\nper muscle:")
print(table.round(3).to_string())
print(f"\n{time.perf_counter() - start:.1f} s")

# %%
# Per-muscle bars.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    fig, ax = plt.subplots(figsize=(max(8, 0.25 * len(table)), 4))
    x = np.arange(len(table))
    for i, dynamics in enumerate(DYNAMICS):
        ax.bar(x + (i - 0.5) * 0.4, table[dynamics].fillna(0), 0.4,
               label=f"{dynamics} (held-out mean r {np.nanmean(table[dynamics][active]):.2f})")
    ax.set_xticks(x, table.index, rotation=90, fontsize="small")
    ax.set(ylabel="Pearson r", title="Force recovery on held-out subjects", ylim=(-0.2, 1))
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
    fig.tight_layout()
    fig.savefig("force_recovery.png", dpi=100)
    print("wrote force_recovery.png")
