"""Which blendshapes each muscle moves: the static response table of a face model.

At unit activation muscle ``m`` alone settles (quasi-statically, in the
reduced elastic model) at ``c_m = K_B^-1 G[:, m]``. A muscle is calibrated
when ``c_m`` points at the shapes FACS ties to it; the table says how far
each one is from that, and where it lands instead.
"""

from __future__ import annotations

import numpy as np

from ._reduction import reduce_face_model

__all__ = ["muscle_response_table", "muscle_targets"]

_COLUMNS = ["muscle", "line_of_action", "targets", "cosine", "largest_shape", "largest_value"]


def muscle_targets(face):
    """Each muscle's target blendshapes on ``face``: the shapes it should move.

    A muscle named like a blendshape targets that shape (the procedural
    :func:`~skbiomech.face.default_face_model`, whose blendshape ``m`` is
    muscle ``m``'s own response); on an ICT-FaceKit model
    (``face.name`` starting with ``"ict-facekit"``) the other muscles take the
    ICT shapes FACS ties to them
    (:func:`skbiomech.face._ict.ict_muscle_shapes`).

    Parameters
    ----------
    face : FaceModel

    Returns
    -------
    targets : dict of str to tuple of str
        Muscle name -> blendshape names, in the face's muscle order.

    Raises
    ------
    ValueError
        If a muscle has no target on this face; pass ``targets`` to
        :func:`muscle_response_table` yourself then.

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import muscle_targets
    >>> muscle_targets(default_face_model(resolution=21))["procerus"]
    ('procerus',)
    """
    known = set(face.blendshape_names)
    ict = {}
    if face.name.startswith("ict-facekit"):
        from ..face._ict import ict_muscle_shapes

        ict = ict_muscle_shapes()
    targets, missing = {}, []
    for muscle in face.muscle_names:
        if muscle in known:
            targets[muscle] = (muscle,)
        elif muscle in ict and set(ict[muscle]) <= known:
            targets[muscle] = ict[muscle]
        else:
            missing.append(muscle)
    if missing:
        raise ValueError(
            f"No target blendshapes known for muscles {missing} of {face.name!r}: they are "
            "neither blendshape names nor ICT-FaceKit muscles; pass targets={muscle: shapes}."
        )
    return targets


def muscle_response_table(face, targets=None, reduced=None):
    """Per-muscle static response: how well each muscle hits its target shapes.

    Parameters
    ----------
    face : FaceModel
    targets : dict of str to sequence of str, default=None
        Muscle -> blendshape names it should move (each weighted 1, the
        rest 0); ``None`` uses :func:`muscle_targets`. Every muscle needs one.
    reduced : ReducedModel, default=None
        ``reduce_face_model(face)``, if already at hand.

    Returns
    -------
    table : pandas.DataFrame
        One row per muscle, in the face's order: ``muscle``;
        ``line_of_action``, ``"anchor"`` (pulls toward its anchor) or
        ``"field"`` (explicit directions, see ``FaceModel``); ``targets``
        (the shape names joined by ``+``); ``cosine`` between the response
        ``c_m = K_B^-1 G[:, m]`` and the target indicator (1 = exactly the
        targets, equally); ``largest_shape`` and ``largest_value``: the
        coefficient of largest magnitude in ``c_m`` and its signed value.

    Raises
    ------
    ValueError
        If a muscle has no targets, or names a blendshape the face lacks.

    Examples
    --------
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import muscle_response_table
    >>> table = muscle_response_table(default_face_model(resolution=21))
    >>> bool((table["cosine"] > 0.999).all())
    True
    >>> table.loc[0, ["muscle", "largest_shape"]].tolist()
    ['frontalis_medialis_L', 'frontalis_medialis_L']
    """
    import pandas as pd

    targets = muscle_targets(face) if targets is None else dict(targets)
    names = list(face.blendshape_names)
    missing = [m for m in face.muscle_names if not targets.get(m)]
    if missing:
        raise ValueError(f"targets gives no blendshapes for muscles {missing}.")
    unknown = sorted({s for m in face.muscle_names for s in targets[m]} - set(names))
    if unknown:
        raise ValueError(f"targets names blendshapes {unknown} that {face.name!r} lacks.")
    reduced = reduce_face_model(face) if reduced is None else reduced
    if reduced.force_activation.shape != (face.n_blendshapes, face.n_muscles):
        raise ValueError(
            f"reduced has G of shape {reduced.force_activation.shape}; the face needs "
            f"({face.n_blendshapes}, {face.n_muscles}): is it this face's reduction?"
        )
    response = np.linalg.solve(reduced.stiffness, reduced.force_activation)  # (K, M)
    rows, explicit = [], face.explicit_muscles
    for j, muscle in enumerate(face.muscle_names):
        c = response[:, j]
        t = np.isin(names, list(targets[muscle])).astype(np.float64)
        norm = np.linalg.norm(c) * np.linalg.norm(t)
        k = int(np.argmax(np.abs(c)))
        cosine = float(c @ t / norm) if norm > 0 else 0.0
        kind = "field" if explicit[j] else "anchor"
        rows.append((muscle, kind, "+".join(targets[muscle]), cosine, names[k], float(c[k])))
    return pd.DataFrame(rows, columns=_COLUMNS)
