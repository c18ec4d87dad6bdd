"""Plots: per-AU F1 bars, muscle forces against AU labels over time.

matplotlib is optional (``pip install "skbiomech[plot]"``); it is imported
inside each function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_au_f1", "plot_forces_and_labels"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'skbiomech[plot]' (or pip install matplotlib)."
        ) from None
    return plt


def plot_au_f1(table, *, ax=None, title="Per-AU F1"):
    """Grouped bars of F1 per AU (columns) for each model (rows).

    Parameters
    ----------
    table : DataFrame
        Rows: models; columns: AUs (an optional ``"mean"`` column is drawn
        last). Values in [0, 1].
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from skbiomech.plotting import plot_au_f1
    >>> table = pd.DataFrame({"AU01": [0.5, 0.6], "AU12": [0.8, 0.7]}, index=["physics", "image"])
    >>> ax = plot_au_f1(table)  # doctest: +SKIP
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty DataFrame: rows are models, columns AUs.")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.6 * table.shape[1] * max(1, table.shape[0] / 3)), 3.5))
    width = 0.8 / len(table)
    x = np.arange(table.shape[1])
    for i, (name, row) in enumerate(table.iterrows()):
        ax.bar(x + (i - (len(table) - 1) / 2) * width, 100 * row.to_numpy(dtype=float), width, label=str(name))
    ax.set_xticks(x, [str(c) for c in table.columns], rotation=45)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=min(3, len(table)))
    return ax


def plot_forces_and_labels(forces, labels, *, fps=25.0, ax=None, title=None):
    """Estimated force magnitude against AU labels over one sequence (the paper's Figure 4).

    Parameters
    ----------
    forces : DataFrame or array-like of shape (T, n_muscles)
        Per-frame force magnitude of the muscles behind the AU.
    labels : array-like of shape (T,)
        The AU's 0/1 labels (NaN: unknown).
    fps : float, default=25.0
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    forces = pd.DataFrame(forces)
    labels = np.asarray(labels, dtype=float)
    if len(forces) != len(labels) or len(labels) == 0:
        raise ValueError(f"forces ({len(forces)} frames) and labels ({len(labels)}) must have the same length.")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    t = np.arange(len(labels)) / fps
    peak = max(float(np.nanmax(np.abs(forces.to_numpy()))), 1e-12)
    ax.fill_between(t, 0, np.nan_to_num(labels), step="mid", alpha=0.2, color="k", label="AU label")
    for column in forces.columns:
        ax.plot(t, np.abs(forces[column].to_numpy()) / peak, label=str(column))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("force / label")
    ax.set_ylim(0, 1.05)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right")
    return ax
