import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skbiomech.nn import BiomechLoss, BiomechNetwork, au_loss, clean_loss, reconstruction_loss, smooth_loss
from skbiomech.physics import unit_reduced_model


def test_au_loss_ignores_unknown_labels_and_padding():
    logits = torch.randn(2, 5, 3)
    labels = torch.randint(0, 2, (2, 5, 3)).float()
    labels[0, 1, 2] = float("nan")
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 4] = False
    known = torch.isfinite(labels) & mask[..., None]
    expected = F.binary_cross_entropy_with_logits(logits[known], labels[known])
    torch.testing.assert_close(au_loss(logits, labels, mask), expected)
    none = torch.full_like(labels, float("nan"))
    loss = au_loss(logits.requires_grad_(), none, mask)
    assert loss.item() == 0.0 and loss.requires_grad


def test_masked_losses():
    forces = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert clean_loss(forces, mask).item() == 2.0
    assert smooth_loss(forces, mask).item() == 4.0  # only the step between real frames
    positions = torch.zeros(1, 3, 2)
    targets = torch.tensor([[[1.0, 2.0], [1.0, 2.0], [9.0, 9.0]]])
    assert reconstruction_loss(positions, targets, mask, torch.tensor([1.0, 2.0])).item() == 1.0


@pytest.mark.parametrize("lambdas", [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (1, 1, 1e-3, 1e-3)])
def test_biomech_loss_weights(lambdas):
    loss = BiomechLoss(*lambdas)
    outputs = {
        "forces": torch.rand(2, 4, 3), "positions": torch.rand(2, 4, 3), "logits": torch.randn(2, 4, 2),
    }  # fmt: skip
    batch = {"coefficients": torch.rand(2, 4, 1, 3), "mask": torch.ones(2, 4, dtype=torch.bool)}
    labels = torch.randint(0, 2, (2, 4, 2)).float()
    terms = loss.terms(outputs, labels, batch)
    weights = dict(zip(("3d", "au", "clean", "smooth"), lambdas))
    expected = sum(weights[name] * value for name, value in terms.items())
    torch.testing.assert_close(loss(outputs, labels, batch), expected)
    assert set(terms) == {name for name, w in weights.items() if w}


@pytest.fixture
def network():
    return BiomechNetwork(unit_reduced_model(["a", "b", "c"]), n_aus=2, inputs=("force", "position", "geometry"), hidden_size=8, latent_size=4, head_hidden_size=4)


def test_network_outputs_and_gradients(network):
    coefficients = torch.rand(5, 6, 1, 3)
    outputs = network(coefficients, torch.zeros(5, 6), torch.ones(5, 6, dtype=torch.bool))
    assert outputs["forces"].shape == (5, 6, 3) and torch.all(outputs["forces"] >= 0)
    assert outputs["positions"].shape == (5, 6, 3) and outputs["logits"].shape == (5, 6, 2)
    outputs["logits"].sum().backward()
    assert all(p.grad is not None for p in network.parameters())
    assert list(network.decoder.parameters()) == []  # the ODE decoder has no weights


def test_network_argument_errors():
    reduced = unit_reduced_model(["a"])
    with pytest.raises(ValueError, match="inputs must be among"):
        BiomechNetwork(reduced, n_aus=1, inputs=("audio",))
    with pytest.raises(ValueError, match="needs a face"):
        BiomechNetwork(reduced, encoder="meshconv")
    with pytest.raises(TypeError, match="ReducedModel"):
        BiomechNetwork(np.eye(2))
    with pytest.raises(ValueError, match="no inputs"):
        BiomechNetwork(reduced, n_aus=1, inputs=("image",))
