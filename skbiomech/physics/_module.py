"""``ReducedDynamics``: a weightless ``nn.Module`` decoder over the rollouts."""

from __future__ import annotations

import torch
from torch import nn

from ._discretize import EXPLICIT_INTEGRATORS, HOLDS, discretize
from ._reduction import ReducedModel
from ._rollout import (
    DYNAMICS,
    INTEGRATORS,
    generalized_force,
    impulse_response_matrix,
    impulse_rollout,
    linear_rollout,
    rollout,
)

__all__ = ["ReducedDynamics"]

FORCE_MODELS = ("activation", "vector")


class ReducedDynamics(nn.Module):
    """Muscle forces -> blendshape-coefficient trajectories, with no learnable weights.

    The reduced matrices are buffers (they move with ``.to(device)`` and
    load on a CPU-only machine after GPU training). The exact per-frame
    transition, or the impulse-response matrix, is computed once per dtype,
    device and sequence length and reused, unless a per-sample ``mass`` is
    passed to :meth:`forward`.

    Parameters
    ----------
    reduced : ReducedModel
        From :func:`reduce_face_model`.
    dynamics : {"elastic", "quasistatic", "paper"}, default="elastic"
        ``"paper"`` uses the paper's mass (with its factor 1/2), unit time
        step and no stiffness or damping.
    integrator : {"exact", "impulse", "euler", "semi_implicit", "rk4"}, default="exact"
    hold : {"first", "zero"}, default="first"
    dt : float, default=1/30
        Frame interval in seconds.
    force_model : {"activation", "vector"}, default="activation"
        Muscle forces as one scalar activation per muscle along its line of
        action, shape (..., T, M), or the paper's 3-vector per muscle, shape
        (..., T, M, 3).

    Examples
    --------
    >>> import torch
    >>> from skbiomech.face import default_face_model
    >>> from skbiomech.physics import ReducedDynamics, reduce_face_model
    >>> decoder = ReducedDynamics(reduce_face_model(default_face_model(resolution=21)))
    >>> activations = torch.zeros(4, 16, 37)
    >>> activations[:, 4:, 0] = 1.0
    >>> decoder(activations).shape
    torch.Size([4, 16, 37])
    >>> sum(p.numel() for p in decoder.parameters())
    0
    """

    def __init__(
        self,
        reduced,
        *,
        dynamics="elastic",
        integrator="exact",
        hold="first",
        dt=1 / 30,
        force_model="activation",
    ):
        super().__init__()
        if not isinstance(reduced, ReducedModel):
            raise TypeError(
                f"reduced must be a ReducedModel from reduce_face_model(face); got {type(reduced).__name__}."
            )
        for name, value, allowed in (
            ("dynamics", dynamics, DYNAMICS),
            ("integrator", integrator, INTEGRATORS),
            ("hold", hold, HOLDS),
            ("force_model", force_model, FORCE_MODELS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
        if not dt > 0:
            raise ValueError(f"dt must be a positive frame interval in seconds; got {dt}.")
        self.dynamics = dynamics
        self.integrator = integrator
        self.hold = hold
        self.dt = float(dt)
        self.force_model = force_model
        mass = reduced.paper_mass if dynamics == "paper" else reduced.mass
        for name, value in (
            ("mass", mass),
            ("stiffness", reduced.stiffness),
            ("damping", reduced.damping),
            ("region_masses", reduced.region_masses),
            ("force_operator", reduced.force_operator(force_model)),
        ):
            # float64 buffers: the transition is computed in double and cast per call.
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float64))
        self._cache = {}

    def _apply(self, fn, *args, **kwargs):
        self._cache = {}
        return super()._apply(fn, *args, **kwargs)

    def __getstate__(self):
        # Cached transitions may live on a GPU; rebuild them after unpickling.
        state = super().__getstate__()
        state["_cache"] = {}
        return state

    def extra_repr(self):
        return (
            f"dynamics={self.dynamics!r}, integrator={self.integrator!r}, hold={self.hold!r}, "
            f"dt={self.dt:.4g}, force_model={self.force_model!r}, n_blendshapes={self.mass.shape[0]}"
        )

    def _step(self, dtype):
        """The exact one-frame transition in ``dtype``, cached (buffers' device)."""
        if dtype not in self._cache:
            if torch.float64 not in self._cache:
                # Discretize in float64: matrix_exp in float32 loses digits.
                self._cache[torch.float64] = discretize(
                    self.mass.double(), self.stiffness.double(), self.damping.double(), self.dt, hold=self.hold
                )
            step = self._cache[torch.float64]
            self._cache[dtype] = type(step)(*(m.to(dtype) for m in step))
        return self._cache[dtype]

    def generalized_force(self, muscle_forces):
        """``Q = G vec(F_mus)``, shape (..., K)."""
        return generalized_force(muscle_forces, self.force_operator)

    def region_mass(self, scales):
        """``M = sum_r s_r M_r`` for positive per-region mass scales (..., R)."""
        if scales.shape[-1] != self.region_masses.shape[0]:
            raise ValueError(
                f"scales must have shape (..., R={self.region_masses.shape[0]}); got {tuple(scales.shape)}."
            )
        return torch.einsum("...r,rij->...ij", scales, self.region_masses.to(scales))

    def forward(self, muscle_forces, initial_state=None, mass=None):
        """Roll the dynamics over the muscle forces.

        Parameters
        ----------
        muscle_forces : Tensor of shape (..., T, M) or (..., T, M, 3)
        initial_state : Tensor of shape (..., 2K), default=None
            ``[c, c']`` at frame 0; rest when ``None``.
        mass : Tensor of shape (..., K, K), default=None
            A per-sample mass matrix (e.g. from :meth:`region_mass`) in place
            of the face's; it disables the cached transition.

        Returns
        -------
        positions : Tensor of shape (..., T, K)
        """
        forces = self.generalized_force(muscle_forces)
        dtype = forces.dtype
        stiffness, damping = self.stiffness.to(dtype), self.damping.to(dtype)
        cacheable = (
            mass is None
            and self.dynamics == "elastic"
            and self.integrator not in EXPLICIT_INTEGRATORS
        )
        if not cacheable:
            mass = self.mass.to(dtype) if mass is None else mass
            return rollout(
                forces, mass, stiffness, damping, self.dt,
                dynamics=self.dynamics, integrator=self.integrator, hold=self.hold,
                initial_state=initial_state,
            )  # fmt: skip
        if self.integrator == "impulse":
            key = (dtype, "impulse", forces.shape[-2])
            if key not in self._cache:
                # Built from the float64 transition, then cast once.
                self._cache[key] = impulse_response_matrix(self._step(torch.float64), forces.shape[-2]).to(dtype)
            return impulse_rollout(forces, self._cache[key], initial_state)
        step = self._step(dtype)
        return linear_rollout(forces, step, initial_state)[..., : self.mass.shape[0]]
