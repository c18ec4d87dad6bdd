"""scikit-learn's estimator checks on every estimator, with the expected failures written down."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skbiomech.estimators import BiomechAUClassifier, BlendshapeODEForceEstimator

# Small, fast, face-free (plain arrays of any width) and on CPU.
_FAST = dict(face=None, max_epochs=2, horizon=2, hidden_size=8, latent_size=4, batch_size=8, device="cpu", random_state=0)


def _estimators():
    return [
        BlendshapeODEForceEstimator(lambda_au=0.0, **_FAST),
        # Enough training to separate sklearn's easy blobs (accuracy > 0.83).
        BiomechAUClassifier(head_hidden_size=8, **{**_FAST, "max_epochs": 30, "lr": 0.01}),
    ]


_TEMPORAL = (
    "A temporal model: each frame's output depends on the other frames of its sequence (its "
    "neighbours and the window rollout), and plain arrays are one sequence of consecutive frames, "
    "so predictions on a {} of the rows differ by design (DESIGN §3)."
)


def _expected_failures(estimator):
    return {
        "check_methods_sample_order_invariance": _TEMPORAL.format("reordering"),
        "check_methods_subset_invariance": _TEMPORAL.format("subset"),
    }


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
