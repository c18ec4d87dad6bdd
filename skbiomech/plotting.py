"""Plots: per-AU F1 bars, muscle forces against AU labels over time, forces on the mesh.

matplotlib is optional (``pip install "skbiomech[plot]"``); it is imported
inside each function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_au_f1", "plot_detection", "plot_force_on_mesh", "plot_forces_and_labels"]


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


def plot_force_on_mesh(face, vertex_forces, *, ax=None, title=None, label="force magnitude"):
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
    label : str, default="force magnitude"
        The colorbar's label.

    Returns
    -------
    ax : matplotlib Axes
        With a colorbar labelled ``label`` (``ax.collections[0]`` is the
        tripcolor).

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
    ax.figure.colorbar(mesh, ax=ax, label=label, shrink=0.8)
    if title:
        ax.set_title(title)
    return ax


def plot_detection(table, face, *, path=None, title=None, n_muscles=8):
    """One input's detection: AU intensities and muscle activations over time, and the face.

    The paper's Figures 4 and 5 on the user's own video: the ``AUxx_r``
    intensities (0-5) and the strongest ``force_<muscle>`` activations
    against time, and the activations drawn on the face mesh at the frame
    where a muscle is most active: each muscle's effective area (its column
    of ``face.distribution``, scaled to peak 1) times its activation, summed
    over muscles. Scaling each area keeps muscles of very different
    strengths (a lip sheet, the jaw) visible side by side.

    Parameters
    ----------
    table : DataFrame
        A table of :func:`skbiomech.detect.detect` (``timestamp``, ``AUxx_r``
        and ``force_<muscle>`` columns).
    face : FaceModel
        The face model whose muscles the ``force_`` columns name.
    path : path-like, default=None
        Where to write the figure as PNG (atomically); ``None`` returns it open.
    title : str, default=None
    n_muscles : int, default=8
        Muscles drawn, the most active first.

    Returns
    -------
    figure : matplotlib Figure
    """
    from ._io import atomic_write

    plt = _pyplot()
    time = table["timestamp"].to_numpy(dtype=float)
    aus = [c for c in table.columns if isinstance(c, str) and c.startswith("AU") and c.endswith("_r")]
    forces = [f"force_{m}" for m in face.muscle_names]
    missing = [c for c in forces if c not in table.columns]
    if missing:
        raise ValueError(f"The table lacks the activations of {face.name!r}'s muscles: {missing[:4]}...")
    activations = table[forces].to_numpy(dtype=float)
    figure = plt.figure(figsize=(12, 6.5))
    grid = figure.add_gridspec(2, 2, width_ratios=(2.2, 1))
    ax_au, ax_force, ax_mesh = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[1, 0]), figure.add_subplot(grid[:, 1])
    for au in aus:
        ax_au.plot(time, table[au].to_numpy(dtype=float), label=au[:-2], lw=1.2)
    ax_au.set_ylabel("AU intensity (0-5)")
    ax_au.set_ylim(0, 5)
    ax_au.legend(ncol=6, fontsize=7, loc="upper left")
    strongest = np.argsort(-np.nan_to_num(activations).max(axis=0))
    for m in strongest[:n_muscles]:
        ax_force.plot(time, activations[:, m], label=face.muscle_names[m], lw=1.2)
    ax_force.set_xlabel("time (s)")
    ax_force.set_ylabel("muscle activation")
    ax_force.legend(ncol=2, fontsize=7, loc="upper left")
    tracked = np.isfinite(activations).all(axis=1)
    if tracked.any():
        frame = int(np.flatnonzero(tracked)[np.argmax(activations[tracked].max(axis=1))])
        peak = face.distribution.max(axis=0)
        areas = face.distribution / np.where(peak > 0, peak, 1.0)
        plot_force_on_mesh(
            face, areas @ activations[frame], ax=ax_mesh, title=f"activations at {time[frame]:.2f} s",
            label="muscle activation x area (peak 1)",
        )  # fmt: skip
    else:
        ax_mesh.set_axis_off()
        ax_mesh.set_title("no face found")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is None:
        return figure
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=90)
    plt.close(figure)
    return figure
