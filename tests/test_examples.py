"""Every example in ``examples/`` runs to completion in its quick mode.

``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks each example to a smoke test; each runs
in a fresh temporary folder (where its figures go) with the Agg backend and
its own cache folder.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def test_examples_found():
    assert EXAMPLES, "no examples/*.py found"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    env = {
        **os.environ,
        "SKBIOMECH_EXAMPLE_QUICK": "1",
        "MPLBACKEND": "Agg",
        "SKBIOMECH_CACHE": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, str(path)], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{path.name} printed nothing"
