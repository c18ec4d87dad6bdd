"""Settings shared by the estimator tests: a coarse face, short sequences, tiny networks."""

FAST = dict(max_epochs=3, horizon=8, hidden_size=16, latent_size=8, batch_size=16, device="cpu", random_state=0)
