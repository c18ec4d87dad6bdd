"""FACS facts: action unit names, the AU -> muscle map and benchmark AU sets.

Muscle names here are anatomical and side-free; face models split bilateral
muscles into ``<name>_L`` and ``<name>_R`` (DESIGN §6).
"""

from __future__ import annotations

import re

__all__ = [
    "AU_DESCRIPTIONS",
    "FACS_AU_MUSCLES",
    "BP4D_AUS",
    "DISFA_AUS",
    "au_name",
]

AU_DESCRIPTIONS = {
    "AU01": "inner brow raiser",
    "AU02": "outer brow raiser",
    "AU04": "brow lowerer",
    "AU05": "upper lid raiser",
    "AU06": "cheek raiser",
    "AU07": "lid tightener",
    "AU09": "nose wrinkler",
    "AU10": "upper lip raiser",
    "AU11": "nasolabial deepener",
    "AU12": "lip corner puller",
    "AU13": "sharp lip puller",
    "AU14": "dimpler",
    "AU15": "lip corner depressor",
    "AU16": "lower lip depressor",
    "AU17": "chin raiser",
    "AU18": "lip pucker",
    "AU20": "lip stretcher",
    "AU22": "lip funneler",
    "AU23": "lip tightener",
    "AU24": "lip pressor",
    "AU25": "lips part",
    "AU26": "jaw drop",
    "AU27": "mouth stretch",
}

#: FACS action unit -> muscles that produce it (side-free anatomical names).
FACS_AU_MUSCLES = {
    "AU01": ("frontalis_medialis",),
    "AU02": ("frontalis_lateralis",),
    "AU04": ("corrugator_supercilii", "depressor_supercilii", "procerus"),
    "AU05": ("levator_palpebrae_superioris",),
    "AU06": ("orbicularis_oculi_orbitalis",),
    "AU07": ("orbicularis_oculi_palpebralis",),
    "AU09": ("levator_labii_superioris_alaeque_nasi",),
    "AU10": ("levator_labii_superioris",),
    "AU11": ("zygomaticus_minor",),
    "AU12": ("zygomaticus_major",),
    "AU13": ("levator_anguli_oris",),
    "AU14": ("buccinator",),
    "AU15": ("depressor_anguli_oris",),
    "AU16": ("depressor_labii_inferioris",),
    "AU17": ("mentalis",),
    "AU18": ("incisivii_labii",),
    "AU20": ("risorius",),
    "AU22": ("orbicularis_oris",),
    "AU23": ("orbicularis_oris",),
    "AU24": ("orbicularis_oris",),
    "AU25": ("depressor_labii_inferioris",),
    "AU26": ("jaw_depressor",),
    "AU27": ("jaw_depressor",),
}

#: The 12 AUs of the BP4D protocol.
BP4D_AUS = (
    "AU01", "AU02", "AU04", "AU06", "AU07", "AU10",
    "AU12", "AU14", "AU15", "AU17", "AU23", "AU24",
)  # fmt: skip

#: The 8 AUs of the DISFA protocol (present when intensity >= 2).
DISFA_AUS = ("AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26")

_AU_PATTERN = re.compile(r"^(?:AU)?0*(\d{1,2})$", re.IGNORECASE)


def au_name(au):
    """Canonical AU column name: ``12``, ``"12"``, ``"au12"`` -> ``"AU12"``.

    Examples
    --------
    >>> au_name(1), au_name("au12"), au_name("AU04")
    ('AU01', 'AU12', 'AU04')
    """
    match = _AU_PATTERN.match(str(au).strip())
    if match is None:
        raise ValueError(
            f"{au!r} is not an action unit name; use an AU number such as 12 "
            "or a name such as 'AU12'."
        )
    return f"AU{int(match.group(1)):02d}"
