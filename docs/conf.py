"""Sphinx configuration (the full site, with the gallery, is built out in a later issue)."""

import skbiomech

project = "skbiomech"
author = "skbiomech developers"
release = skbiomech.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
