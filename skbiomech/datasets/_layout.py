"""Dataset folder layout shared by the loaders: the label folder and image paths."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["label_folder", "resolve_image_dir", "image_column"]


def label_folder(root, relative, dataset, layout):
    """``root / relative`` after checking both exist, naming the expected layout."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{dataset} root {str(root)!r} is not a folder.")
    folder = root / relative
    if not folder.is_dir():
        raise FileNotFoundError(f"no label folder {str(folder)!r}; root must hold {layout}.")
    return folder


def resolve_image_dir(root, image_dir, default_name):
    """The image folder to use, or None when there is none.

    An explicit ``image_dir`` must exist; the conventional ``root/default_name``
    is used only when present, so that label-only copies load without images.
    """
    if image_dir is None:
        candidate = Path(root) / default_name
        return candidate if candidate.is_dir() else None
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"image_dir {str(image_dir)!r} is not a folder.")
    return image_dir


def image_column(image_dir, pattern, fields):
    """Paths ``image_dir / pattern.format(**row)``, NaN where no file exists.

    ``fields`` maps each name usable in ``pattern`` to one value per frame.
    Every folder is listed once: one ``stat`` per frame is slow on network
    drives holding ~150k images.
    """
    names = list(fields)
    try:
        relative = [pattern.format_map(dict(zip(names, row))) for row in zip(*fields.values())]
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"image_pattern {pattern!r} cannot be formatted ({exc!r}); it may use "
            f"the fields {', '.join('{' + n + '}' for n in names)}."
        ) from None
    base = str(image_dir)
    listings = {}
    paths = np.empty(len(relative), dtype=object)
    for i, rel in enumerate(relative):
        path = os.path.join(base, rel)
        folder, name = os.path.split(path)
        listing = listings.get(folder)
        if listing is None:
            try:
                listing = frozenset(os.listdir(folder))
            except (FileNotFoundError, NotADirectoryError):
                listing = frozenset()
            listings[folder] = listing
        paths[i] = path if name in listing else np.nan
    n_missing = sum(1 for p in paths if not isinstance(p, str))
    if n_missing:
        warnings.warn(
            f"{n_missing} of {len(paths)} frames have no image file under "
            f"{base!r} (image_pattern {pattern!r}); their 'image' is NaN and "
            "they are kept with their labels.",
            UserWarning,
            stacklevel=3,
        )
    return paths
