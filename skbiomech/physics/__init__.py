"""Biomechanics: reduced dynamics in blendshape coordinates and a full simulator.

Precompute once per face model with :func:`reduce_face_model`; roll the
dynamics with :func:`rollout` (functional) or :class:`ReducedDynamics`
(weightless ``nn.Module``); verify the reduction against the nonlinear
Cartesian simulation :func:`simulate_cartesian`.
"""

from ._cartesian import internal_force, muscle_vertex_forces, simulate_cartesian
from ._discretize import Discretization, discretize, stable_substeps, state_matrices
from ._intensity import au_intensities, au_presence
from ._inverse import invert_activations
from ._module import ReducedDynamics
from ._reduction import (
    ReducedModel,
    check_mass_matrix,
    generalized_force_per_vertex,
    reduce_face_model,
    unit_reduced_model,
)
from ._response import muscle_response_table, muscle_targets
from ._rollout import (
    DYNAMICS,
    INTEGRATORS,
    explicit_rollout,
    generalized_force,
    impulse_response_matrix,
    impulse_rollout,
    linear_rollout,
    paper_rollout,
    quasistatic_rollout,
    rollout,
)
from ._verify import verification_activations, verify_reduction

__all__ = [
    "DYNAMICS",
    "INTEGRATORS",
    "Discretization",
    "ReducedDynamics",
    "ReducedModel",
    "au_intensities",
    "au_presence",
    "check_mass_matrix",
    "discretize",
    "explicit_rollout",
    "generalized_force",
    "generalized_force_per_vertex",
    "impulse_response_matrix",
    "impulse_rollout",
    "internal_force",
    "invert_activations",
    "linear_rollout",
    "muscle_response_table",
    "muscle_targets",
    "muscle_vertex_forces",
    "paper_rollout",
    "quasistatic_rollout",
    "reduce_face_model",
    "rollout",
    "simulate_cartesian",
    "stable_substeps",
    "state_matrices",
    "unit_reduced_model",
    "verification_activations",
    "verify_reduction",
]
