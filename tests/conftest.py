"""Shared fixtures: small face models built once per test session."""

import numpy as np
import pytest
import torch

from skbiomech.face import default_face_model
from skbiomech.physics import reduce_face_model


@pytest.fixture(scope="session")
def small_face():
    """The default face at its coarsest useful resolution (about 400 vertices)."""
    return default_face_model(resolution=21)


@pytest.fixture(scope="session")
def small_reduced(small_face):
    return reduce_face_model(small_face)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
