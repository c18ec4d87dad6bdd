"""
Grid search over the loss weights, locally and on a dask cluster
================================================================

``GridSearchCV`` over the reconstruction weight ``lambda_3d`` and the force
smoothness weight ``lambda_smooth`` of
:class:`~skbiomech.estimators.BiomechAUClassifier`, with subject-grouped
folds (``GroupKFold(3)``) and :data:`skbiomech.metrics.au_f1_scorer` (mean
per-AU F1, NaN labels ignored). The same search then runs on a
``dask.distributed`` ``LocalCluster`` through joblib's dask backend, when
dask is installed (``pip install "skbiomech[dask]"``); each fit checkpoints
into its own folder, so parallel fits never collide. Run as
``python examples/plot_grid_search.py``; ``SKBIOMECH_EXAMPLE_QUICK=1``
shrinks it to a smoke test. With matplotlib it writes ``grid_search.png`` to
the current folder.
"""

import os
import time

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, GroupKFold

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BiomechAUClassifier
from skbiomech.face import default_face_model
from skbiomech.metrics import au_f1_scorer

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, SEQUENCE_LENGTH, MAX_EPOCHS = (3, 48, 1) if QUICK else (6, (200, 300), 20)
GRID = {"lambda_3d": [0.0, 0.1, 1.0], "lambda_smooth": [0.0, 1e-2]}
if QUICK:
    GRID = {"lambda_3d": [0.0, 1.0], "lambda_smooth": [0.0]}
start = time.perf_counter()

face = default_face_model(resolution=31)
data = make_synthetic_au_dataset(
    n_subjects=N_SUBJECTS, n_sequences=2, sequence_length=SEQUENCE_LENGTH, face=face, random_state=0
)
model = BiomechAUClassifier(face, max_epochs=MAX_EPOCHS, threshold="tune", device="cpu", random_state=0)
print(f"{len(data.frames)} frames, {N_SUBJECTS} subjects; grid {GRID}; {MAX_EPOCHS} epochs")


def report(search, label, seconds):
    print(f"\n{label}: best {search.best_params_}, mean F1 {100 * search.best_score_:.1f}% ({seconds:.1f} s)")
    results = pd.DataFrame(search.cv_results_)
    table = results.pivot(index="param_lambda_3d", columns="param_lambda_smooth", values="mean_test_score")
    print("mean F1 (%) by lambda_3d (rows) and lambda_smooth (columns):")
    print((100 * table).round(1).to_string())
    return table


# %%
# The local search, one fit at a time (2-core machine).
t = time.perf_counter()
search = GridSearchCV(model, GRID, cv=GroupKFold(3), scoring=au_f1_scorer, n_jobs=1)
search.fit(data.frames, data.labels, groups=data.groups)
table = report(search, "local", time.perf_counter() - t)

# %%
# The same search on a dask.distributed LocalCluster. Threads in a single
# process (``processes=False``) keep the example light on a small machine;
# a real cluster gives each worker its own process or machine.
try:
    from dask.distributed import Client, LocalCluster
except ImportError:
    print('\ndask.distributed is not installed: pip install "skbiomech[dask]" to run the search on a cluster')
else:
    t = time.perf_counter()
    distributed = GridSearchCV(model, GRID, cv=GroupKFold(3), scoring=au_f1_scorer, n_jobs=-1)
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster, Client(cluster), joblib.parallel_config(backend="dask"):
        distributed.fit(data.frames, data.labels, groups=data.groups)
    report(distributed, "dask LocalCluster", time.perf_counter() - t)
    difference = np.abs(search.cv_results_["mean_test_score"] - distributed.cv_results_["mean_test_score"]).max()
    same = search.best_params_ == distributed.best_params_
    print(f"same best parameters as the local search: {same}; largest score difference {100 * difference:.2f} points")
    print("(fits running side by side in threads share torch's process-wide state, so they need not be bit-identical)")
print(f"\n{time.perf_counter() - start:.1f} s")

# %%
# The local search's scores as a heat map.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    image = ax.imshow(100 * table.to_numpy(dtype=float), cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index])
    ax.set(xlabel="lambda_smooth", ylabel="lambda_3d", title="GridSearchCV: mean F1 (%)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig("grid_search.png", dpi=100)
    print("wrote grid_search.png")
