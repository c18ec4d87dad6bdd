"""AU event timelines: onset, apex and offset envelopes with realistic co-occurrence.

Each AU is driven by a Poisson stream of its own events plus the events of
the composite expressions it belongs to (a smile is AU6 + AU12, a brow raise
AU1 + AU2, ...). An event has a duration of 0.3-3 s, a raised-cosine onset
and offset, a plateau (the apex) and a peak intensity; an AU's intensity is
the maximum over its events, and it is coded present where the intensity
exceeds the subject's threshold.

Because the set of frames above threshold is a Boolean model of Poisson
events, the fraction of time an AU is present is ``1 - exp(-sum_s lambda_s
E[L_s])`` with ``E[L]`` the mean time one event stays above threshold. The
event rates are solved from this to hit each AU's target base rate.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "BASE_RATES",
    "DISFA_BASE_RATES",
    "COMPOSITES",
    "EventModel",
    "au_intensities",
    "plan_event_rates",
]

#: Approximate fraction of frames in which each AU is present (BP4D for its
#: 12 AUs, DISFA at intensity >= 2 for AU5/9/20/25/26); other AUs get 0.1.
BASE_RATES = {
    "AU01": 0.21, "AU02": 0.17, "AU04": 0.20, "AU05": 0.05, "AU06": 0.46,
    "AU07": 0.55, "AU09": 0.05, "AU10": 0.59, "AU12": 0.56, "AU14": 0.47,
    "AU15": 0.17, "AU17": 0.35, "AU20": 0.05, "AU23": 0.17, "AU24": 0.15,
    "AU25": 0.27, "AU26": 0.11,
}  # fmt: skip
_DEFAULT_RATE = 0.10

#: Approximate base rates of the DISFA protocol's AUs (intensity >= 2).
DISFA_BASE_RATES = {
    "AU01": 0.06, "AU02": 0.05, "AU04": 0.16, "AU06": 0.08,
    "AU09": 0.04, "AU12": 0.13, "AU25": 0.27, "AU26": 0.11,
}  # fmt: skip

#: Composite expressions: name -> (AU, probability the AU joins the event).
COMPOSITES = {
    "smile": (("AU12", 1.0), ("AU06", 0.9), ("AU10", 0.4), ("AU25", 0.3)),
    "brow_raise": (("AU01", 1.0), ("AU02", 0.9)),
    "frown": (("AU04", 1.0), ("AU07", 0.8)),
    "chin_raise": (("AU17", 1.0), ("AU24", 0.7), ("AU15", 0.3)),
    "lip_press": (("AU24", 1.0), ("AU23", 0.8)),
}
_COMPOSITE_SHARE = 0.8  # share of a composite's rarest member's activity it supplies


class EventModel:
    """Distributions of one event; the defaults are what the generator uses.

    Attributes
    ----------
    duration : (float, float)
        Log-uniform range of event durations, seconds.
    peak : (float, float)
        Uniform range of peak intensity (times the subject's expressiveness).
    ramp : (float, float)
        Uniform range of the onset and of the offset, as fractions of the duration.
    threshold : (float, float)
        Uniform range of a subject's presence threshold.
    jitter : float
        Standard deviation (s) of a composite member's onset around the event's.
    """

    duration = (0.3, 3.0)
    peak = (0.35, 1.0)
    ramp = (0.15, 0.35)
    threshold = (0.15, 0.30)
    jitter = 0.12


def _ramp_inverse(y):
    """Fraction of a raised-cosine ramp spent below level ``y`` in [0, 1]."""
    return 2.0 / np.pi * np.arcsin(np.sqrt(np.clip(y, 0.0, 1.0)))


@lru_cache(maxsize=1)
def _mean_time_above_threshold(n_samples=200_000):
    rng = np.random.default_rng(12345)
    m = EventModel
    duration = np.exp(rng.uniform(*np.log(m.duration), n_samples))
    peak = rng.uniform(*m.peak, n_samples)
    ramps = rng.uniform(*m.ramp, (2, n_samples)).sum(0) * duration
    threshold = rng.uniform(*m.threshold, n_samples)
    above = duration - ramps + ramps * (1 - _ramp_inverse(threshold / peak))
    return float(np.mean(np.where(peak > threshold, above, 0.0)))


def plan_event_rates(aus, base_rates=None):
    """Poisson event rates (events/s) that give each AU its target base rate.

    Parameters
    ----------
    aus : sequence of str
        The AUs to animate (canonical names, ``"AU12"``).
    base_rates : dict of str to float, default=None
        Target fraction of frames present per AU; defaults to
        :data:`BASE_RATES` (0.1 for AUs it does not list).

    Returns
    -------
    single : dict of str to float
        Rate of each AU's own events.
    composite : dict of str to float
        Rate of each composite expression with at least one member in ``aus``.
    """
    rates = dict(BASE_RATES if base_rates is None else base_rates)
    activity = {au: -np.log1p(-min(rates.get(au, _DEFAULT_RATE), 0.95)) for au in aus}
    mean_above = _mean_time_above_threshold()
    intensities, shares = {}, {}
    for name, members in COMPOSITES.items():
        present = [(au, p) for au, p in members if au in activity]
        if len(present) < 2:
            continue
        # Sized on the rarest member so that it alone is never over its target.
        intensities[name] = _COMPOSITE_SHARE * min(activity[au] / p for au, p in present)
        shares[name] = present

    def supplied():
        total = dict.fromkeys(aus, 0.0)
        for name, present in shares.items():
            for au, p in present:
                total[au] += p * intensities[name]
        return total

    # An AU in several composites (AU24) must not be oversupplied by their sum.
    before = supplied()
    for name, present in shares.items():
        intensities[name] *= min(min(1.0, _COMPOSITE_SHARE * activity[au] / before[au]) for au, _ in present)
    after = supplied()
    composite = {name: value / mean_above for name, value in intensities.items()}
    single = {au: max(activity[au] - after[au], 0.0) / mean_above for au in aus}
    return single, composite


def _envelopes(times, onsets, durations, peaks, rises, falls):
    """Intensity (E, T) of each event over ``times``: ramp up, plateau, ramp down."""
    t = times[None, :] - onsets[:, None]
    up = np.clip(t / rises[:, None], 0.0, 1.0)
    down = np.clip((durations[:, None] - t) / falls[:, None], 0.0, 1.0)
    return peaks[:, None] * np.sin(0.5 * np.pi * np.minimum(up, down)) ** 2


def _draw_events(rng, rate, span, expressiveness):
    """Poisson events with onsets over ``[-max duration, span - max duration)``."""
    n = rng.poisson(rate * span)
    m = EventModel
    durations = np.exp(rng.uniform(*np.log(m.duration), n))
    # Events may start before the clip so that the first frames are not all neutral.
    onsets = rng.uniform(-m.duration[1], span - m.duration[1], n)
    peaks = rng.uniform(*m.peak, n) * expressiveness
    rises = rng.uniform(*m.ramp, n) * durations
    falls = rng.uniform(*m.ramp, n) * durations
    return onsets, durations, peaks, rises, falls


def au_intensities(rng, aus, n_frames, fps, single_rates, composite_rates, expressiveness=1.0):
    """Intensity time courses (T, A) of ``aus`` for one sequence.

    Parameters
    ----------
    rng : numpy.random.Generator
    aus : sequence of str
    n_frames : int
    fps : float
    single_rates, composite_rates : dict
        From :func:`plan_event_rates`.
    expressiveness : float, default=1.0
        Multiplies every peak.

    Returns
    -------
    intensities : ndarray of shape (T, A)
    """
    times = np.arange(n_frames) / fps
    span = n_frames / fps + EventModel.duration[1]
    index = {au: j for j, au in enumerate(aus)}
    intensity = np.zeros((n_frames, len(aus)))
    for au in aus:
        events = _draw_events(rng, single_rates[au], span, expressiveness)
        if len(events[0]):
            intensity[:, index[au]] = _envelopes(times, *events).max(axis=0)
    for name, rate in composite_rates.items():
        onsets, durations, peaks, rises, falls = _draw_events(rng, rate, span, expressiveness)
        for au, probability in COMPOSITES[name]:
            if au not in index or not len(onsets):
                continue
            joins = rng.random(len(onsets)) < probability
            if not joins.any():
                continue
            jitter = rng.normal(0.0, EventModel.jitter, joins.sum())
            scale = rng.uniform(0.9, 1.1, joins.sum())
            member = _envelopes(
                times, onsets[joins] + jitter, durations[joins], peaks[joins] * scale, rises[joins], falls[joins]
            )
            intensity[:, index[au]] = np.maximum(intensity[:, index[au]], member.max(axis=0))
    return intensity
