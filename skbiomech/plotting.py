"""Plots: per-AU F1 bars, muscle forces against AU labels over time, forces on the mesh.

matplotlib is optional (``pip install "skbiomech[plot]"``); it is imported
inside each function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_au_f1", "plot_force_on_mesh", "plot_forces_and_labels"]


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


def plot_force_on_mesh(face, vertex_forces, *, ax=None, title=None):
    """Per-vertex force magnitude on the frontal view of the face (the paper's Figure 5).

    Parameters
    ----------
    face : FaceModel
        The face whose ``vertices`` (N, 3) and ``triangles`` are drawn; the
        frontal projection keeps x and y.
    vertex_forces : array-like of shape (N,)
        Force magnitude per vertex, e.g. ``face.distribution @ activations``
        or ``np.linalg.norm(muscle_vertex_forces(face, activations), axis=1)``.
    ax : matplotlib Axes, default=None
        A new figure when ``None``.
    title : str, default=None

    Returns
    -------
    ax : matplotlib Axes
        With a colorbar labelled "force magnitude" (``ax.collections[0]`` is
        the tripcolor).

    Examples
    --------
    >>> import numpy as np
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import muscle_vertex_forces
    >>> from skbiomech.plotting import plot_force_on_mesh
    >>> face = default_face_model(resolution=21)
    >>> smile = np.zeros(face.n_muscles)
    >>> smile[[face.muscle_names.index(m) for m in face.au_muscles["AU12"]]] = 1.0
    >>> magnitude = np.linalg.norm(muscle_vertex_forces(face, smile), axis=1)
    >>> ax = plot_force_on_mesh(face, magnitude, title="AU12")  # doctest: +SKIP
    """
    vertices = np.asarray(face.vertices, dtype=float)
    triangles = np.asarray(face.triangles)
    values = np.asarray(vertex_forces, dtype=float)
    if values.shape != (len(vertices),):
        raise ValueError(
            f"vertex_forces must have shape ({len(vertices)},), one magnitude per vertex of the face; "
            f"got {values.shape} (take np.linalg.norm(..., axis=1) of (N, 3) vertex forces)."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("vertex_forces must be finite.")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    mesh = ax.tripcolor(vertices[:, 0], vertices[:, 1], triangles, values, shading="gouraud", cmap="inferno")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(mesh, ax=ax, label="force magnitude", shrink=0.8)
    if title:
        ax.set_title(title)
    return ax
