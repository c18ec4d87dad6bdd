"""Sphinx configuration of the skbiomech documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The build is offline and fast: nothing is downloaded (no intersphinx) and no
example is executed (the gallery shows the scripts' code and text only).
"""

import importlib
import re
from pathlib import Path

import skbiomech

HERE = Path(__file__).resolve().parent

project = "skbiomech"
author = "skbiomech developers"
copyright = "skbiomech developers"
release = skbiomech.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"
nitpicky = False
default_role = "literal"

# -- autodoc / autosummary ---------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# Show default values as written in the source (``optimizer=torch.optim.Adam``,
# not ``<class 'torch.optim.adam.Adam'>``).
autodoc_preserve_defaults = True

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# -- sphinx-gallery ----------------------------------------------------------
# Every script in examples/ is rendered (its module docstring, an RST title
# underlined with "=", becomes the page header); none is executed: the doc
# build stays fast and offline. Run the scripts themselves to see their output.
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"^$",  # execute nothing (plot_gallery is off anyway)
    "ignore_pattern": r"(__init__\.py|[\\/]_[^\\/]*\.py)$",  # private helpers
    "plot_gallery": "False",
    "download_all_examples": False,
    "write_computation_times": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

# -- HTML --------------------------------------------------------------------
html_theme = "alabaster"
html_theme_options = {
    "description": "Facial action units through muscle force modelling",
    "fixed_sidebar": True,
}
html_static_path = []
html_show_sourcelink = False

# -- API completeness --------------------------------------------------------
# Every name in the ``__all__`` of a documented module must appear in api.rst;
# a missing one is a warning, hence an error under ``sphinx-build -W``.
API_MODULES = (
    "skbiomech.face",
    "skbiomech.physics",
    "skbiomech.datasets",
    "skbiomech.estimators",
    "skbiomech.video",
    "skbiomech.detect",
    "skbiomech.pretrained",
    "skbiomech.nn",
    "skbiomech.metrics",
    "skbiomech.plotting",
)


def _check_api_listing(app):
    from sphinx.util import logging

    logger = logging.getLogger("skbiomech.docs")
    text = (HERE / "api.rst").read_text(encoding="utf-8")
    listed = set()
    module = None
    for line in text.splitlines():
        match = re.match(r"\s*\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
            continue
        match = re.match(r"\s{3,}([A-Za-z_][A-Za-z0-9_]*)\s*$", line)
        if match and module is not None:
            listed.add(f"{module}.{match.group(1)}")
    for name in API_MODULES:
        for public in importlib.import_module(name).__all__:
            if f"{name}.{public}" not in listed:
                logger.warning(
                    "%s.%s is public (in __all__) but missing from docs/api.rst",
                    name,
                    public,
                )


# In a numpydoc parameter line such as ``feature_prefix : str, default="z2d_"``
# or ``frames : DataFrame of shape (n_frames, n_features_out_)`` the type is
# parsed as RST, where a word ending in ``_`` is a hyperlink reference to an
# undefined target. Escape such underscores in the type part of parameter
# lines (before numpydoc reads the docstring), so docstrings stay plain text.
_PARAM_LINE = re.compile(r"^(\s*\*{0,2}[A-Za-z_][A-Za-z0-9_, *]*\s:\s)(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])_(?![A-Za-z0-9_])")


def _escape_reference_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match:
            lines[i] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\\_", match.group(2))


def setup(app):
    app.connect("builder-inited", _check_api_listing)
    # Before numpydoc (priority 500) parses the docstring.
    app.connect(
        "autodoc-process-docstring", _escape_reference_underscores, priority=400
    )
