"""The documentation builds without a single warning (``sphinx-build -W``).

The build runs on copies of ``docs/`` and ``examples/`` in a temporary folder,
so the generated API pages, gallery pages and HTML never land in the
repository. No example is executed (``plot_gallery`` is off in
``docs/conf.py``) and nothing is downloaded.
"""

import importlib
import importlib.util
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_REQUIREMENTS = ("sphinx", "numpydoc", "sphinx_gallery")
# The modules whose ``__all__`` the API reference must cover, as docs/conf.py says.
API_MODULES = runpy.run_path(str(ROOT / "docs" / "conf.py"))["API_MODULES"]
# Folders the build generates inside the source tree; never copied.
GENERATED = (
    "_build",
    "generated",
    "auto_examples",
    "__pycache__",
    ".ipynb_checkpoints",
)

missing = [name for name in DOC_REQUIREMENTS if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"building the docs needs {', '.join(missing)}: pip install -e '.[docs]'",
)


def test_docs_build_without_warnings(tmp_path):
    shutil.copytree(
        ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns(*GENERATED)
    )
    shutil.copytree(
        ROOT / "examples",
        tmp_path / "examples",
        ignore=shutil.ignore_patterns(*GENERATED),
    )
    html = tmp_path / "html"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-q",
            str(tmp_path / "docs"),
            str(html),
        ],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"sphinx-build -W failed:\n{result.stdout}\n{result.stderr}"
    )

    for page in (
        "index.html",
        "api.html",
        "frame_table.html",
        "physics.html",
        "data.html",
        "scaling.html",
        "auto_examples/index.html",
    ):
        assert (html / page).is_file(), f"{page} was not built"
    # Every public name has its own API page.
    missing_pages = [
        f"{module}.{name}"
        for module in API_MODULES
        for name in importlib.import_module(module).__all__
        if not (html / "generated" / f"{module}.{name}.html").is_file()
    ]
    assert not missing_pages, f"no API page for {missing_pages}"
    # Every example script has its gallery page.
    scripts = [
        p.stem for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")
    ]
    assert scripts
    missing_examples = [
        s for s in scripts if not (html / "auto_examples" / f"{s}.html").is_file()
    ]
    assert not missing_examples, f"no gallery page for {missing_examples}"
