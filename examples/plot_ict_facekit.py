"""
The benchmark on ICT-FaceKit's face model
=========================================

Everything in ``skbiomech`` works on any :class:`~skbiomech.face.FaceModel`.
This example builds one from the ICT-FaceKit light face model (USC
Institute for Creative Technologies, MIT License) with
:func:`skbiomech.face.load_ict_facekit`, prints its size, muscles and
licence notice, generates a small synthetic AU benchmark on it and fits one
short :class:`~skbiomech.estimators.BiomechAUClassifier`.

The model is not shipped with ``skbiomech``: point ``$ICT_FACEKIT`` at the
``FaceXModel`` folder of an ICT-FaceKit checkout
(https://github.com/ICT-VGL/ICT-FaceKit); otherwise the example looks in
``../shared/data/ict-facekit/FaceXModel`` next to the repository, and exits
with a message when neither exists. Run as
``python examples/plot_ict_facekit.py``; ``SKBIOMECH_EXAMPLE_QUICK=1``
shrinks it to a smoke test. With matplotlib it writes ``ict_facekit.png``
to the current folder.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

QUICK = os.environ.get("SKBIOMECH_EXAMPLE_QUICK") == "1"
N_SUBJECTS, SEQUENCE_LENGTH, MAX_EPOCHS = (2, 48, 1) if QUICK else (4, (150, 200), 30)
REPOSITORY = Path(__file__).resolve().parent.parent
candidates = [Path(p) for p in (os.environ.get("ICT_FACEKIT"),) if p]
candidates.append(REPOSITORY.parent / "shared" / "data" / "ict-facekit" / "FaceXModel")
path = next((p for p in candidates if p.is_dir()), None)
if path is None:
    print("ICT-FaceKit not found (looked in: " + ", ".join(str(p) for p in candidates) + ").")
    print("Clone https://github.com/ICT-VGL/ICT-FaceKit and set ICT_FACEKIT=<checkout>/FaceXModel to run this example.")
    sys.exit(0)

from skbiomech.datasets import make_synthetic_au_dataset
from skbiomech.estimators import BiomechAUClassifier
from skbiomech.face import load_ict_facekit
from skbiomech.metrics import au_f1_scores

start = time.perf_counter()
face = load_ict_facekit(path)
print(f"{face.name} from {path}")
print(f"{face.n_vertices} vertices, {len(face.triangles)} triangles, {face.n_blendshapes} blendshapes, "
      f"{face.n_muscles} muscles")
print("muscles:", ", ".join(face.muscle_names))
print("AUs:", ", ".join(face.aus))
print("notice:", face.notice.splitlines()[0])
print(f"loaded in {time.perf_counter() - start:.1f} s")

# %%
# A tiny benchmark on the ICT face: two subjects for training, one held out.
data = make_synthetic_au_dataset(
    n_subjects=N_SUBJECTS + 1, n_sequences=2, sequence_length=SEQUENCE_LENGTH, face=face, random_state=0
)
test = data.groups == np.unique(data.groups)[-1]
print(f"\nsynthetic benchmark on the ICT face: {len(data.frames)} frames, {N_SUBJECTS + 1} subjects, "
      f"{data.labels.shape[1]} AUs")
t = time.perf_counter()
model = BiomechAUClassifier(face, max_epochs=MAX_EPOCHS, threshold="tune", device="cpu", random_state=0)
model.fit(data.frames[~test], data.labels[~test])
scores = au_f1_scores(data.labels[test], model.predict(data.frames[test]))
print(f"classifier ({MAX_EPOCHS} epochs, {time.perf_counter() - t:.1f} s), F1 (%) on the held-out subject:")
print((100 * scores).round(1).to_frame("F1").T.to_string())
print(f"mean F1 {100 * np.nanmean(scores):.1f}%")
print(f"\n{time.perf_counter() - start:.1f} s")

# %%
# The AU12 muscles' force field on the ICT mesh.
try:
    import matplotlib  # noqa: F401
except ImportError:
    print("matplotlib is not installed: pip install 'skbiomech[plot]' for the figure")
else:
    from skbiomech.physics import muscle_vertex_forces
    from skbiomech.plotting import plot_force_on_mesh

    smile = np.zeros(face.n_muscles)
    smile[[face.muscle_names.index(m) for m in face.au_muscles["AU12"]]] = 1.0
    ax = plot_force_on_mesh(face, np.linalg.norm(muscle_vertex_forces(face, smile), axis=1),
                            title="ICT-FaceKit: AU12 muscles at unit activation")
    ax.figure.tight_layout()
    ax.figure.savefig("ict_facekit.png", dpi=100)
    print("wrote ict_facekit.png")
