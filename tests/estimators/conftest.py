import pytest

from skbiomech.datasets import make_synthetic_au_dataset


@pytest.fixture(scope="session")
def dataset(small_face):
    return make_synthetic_au_dataset(
        n_subjects=4, n_sequences=2, sequence_length=40, face=small_face, random_state=0
    )
