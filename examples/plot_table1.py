"""
Physics, image and data-driven features (Table 1)
=================================================

The paper's Table 1 compares AU detectors built on different features:
the 3D encoder's latent code (geometry), the estimated muscle forces, the
reconstructed blendshape coefficients (position), both (physics), ImageNet
ResNet features (image), and physics + image. Each row is one setting of
``BiomechAUClassifier(inputs=...)``; one more row is a plain baseline, a
scikit-learn ``LogisticRegression`` per AU on the standardized blendshape
coefficients. :func:`skbiomech.demo.run_demo` cross-validates all of them by
subject on the synthetic benchmark, as ``skbiomech demo`` does. Run as ``python examples/plot_table1.py``;
``SKBIOMECH_EXAMPLE_QUICK=1`` shrinks it to a smoke test. It writes the
table and plots to ``table1/`` in the current folder.
"""

import os

from skbiomech.demo import BASELINE_NAME, TABLE1_SETTINGS, format_table, run_demo

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
options = dict(n_subjects=3, sequence_length=40, max_epochs=2, image_size=32) if QUICK else {}

for name, inputs in TABLE1_SETTINGS.items():
    print(f"{name:<14} BiomechAUClassifier(inputs={inputs})")
print(f"{BASELINE_NAME}: StandardScaler + LogisticRegression per AU, thresholds tuned on the training frames")

# %%
# Three-fold subject-grouped cross-validation; F1 per AU in percent.
results = run_demo("table1", **options)
print(format_table(results["table"]))
print(f"image weights: {results['image_weights']}; {results['seconds']} s")
