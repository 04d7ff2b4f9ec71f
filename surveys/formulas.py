"""The survey formulas: the single source for every figure shown on the dashboards.

Each function takes the answers of one period as a mapping ``{score: count}`` and returns a float,
or ``None`` when there are no answers at all (an empty period has no CSAT, not a CSAT of zero).
Scores outside the kind's scale are bad input and raise ``ValueError``; negative counts too.

The definitions are the standard ones:

* **CSAT** (1–5, 1 very dissatisfied … 5 very satisfied): the share of satisfied answers,
  ``answers of 4 or 5 ÷ all answers × 100``. The *top-box* variant counts only 5
  ("very satisfied"): ``answers of 5 ÷ all answers × 100``.
* **NPS** (0–10): ``% promoters (9–10) − % detractors (0–6)``; passives (7–8) count in the total
  only. From −100 (all detractors) to 100 (all promoters).
* **CES** (1–7, 1 extremely easy … 7 extremely difficult): the mean score; lower is better.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _

CSAT_SCALE = range(1, 6)
NPS_SCALE = range(0, 11)
CES_SCALE = range(1, 8)

CSAT_SATISFIED = frozenset({4, 5})
CSAT_TOP_BOX = frozenset({5})
NPS_PROMOTERS = frozenset({9, 10})
NPS_DETRACTORS = frozenset(range(0, 7))

# Shown beside each figure on the dashboards, so a manager knows exactly what is counted.
FORMULA_TEXT = {
    "csat": _("CSAT % = answers of 4 or 5 ÷ all answers × 100 (scale 1–5)."),
    "csat_top_box": _("Top-box CSAT % = answers of 5 ÷ all answers × 100 (scale 1–5)."),
    "nps": _("NPS = % promoters (9–10) − % detractors (0–6), from −100 to 100 (scale 0–10)."),
    "ces": _("CES = mean score (scale 1–7, 1 extremely easy … 7 extremely difficult); lower is better."),
}


def _checked_total(counts_by_score: Mapping[int, int], scale: range, kind: str) -> int:
    total = 0
    for score, count in counts_by_score.items():
        if int(score) not in scale:
            raise ValueError(f"{kind} score {score!r} is outside {scale.start}–{scale.stop - 1}")
        if count < 0:
            raise ValueError(f"{kind} count for score {score!r} is negative: {count!r}")
        total += count
    return total


def _count(counts_by_score: Mapping[int, int], scores: frozenset[int]) -> int:
    return sum(count for score, count in counts_by_score.items() if int(score) in scores)


def csat_percent(counts_by_score: Mapping[int, int], top_box: bool = False) -> float | None:
    """CSAT %: answers of 4 or 5 ÷ all answers × 100; with ``top_box`` only answers of 5 count.

    ``{1: 1, 3: 1, 4: 1, 5: 1}`` gives 50.0 (top-box 25.0); ``{}`` gives None.
    """
    total = _checked_total(counts_by_score, CSAT_SCALE, "CSAT")
    if total == 0:
        return None
    satisfied = _count(counts_by_score, CSAT_TOP_BOX if top_box else CSAT_SATISFIED)
    return satisfied * 100.0 / total


def nps(counts_by_score: Mapping[int, int]) -> float | None:
    """Net Promoter Score: % promoters (9–10) − % detractors (0–6), from −100 to 100.

    Passives (7–8) are part of the total only. ``{10: 2, 8: 1, 6: 1}`` gives 50 − 25 = 25.0;
    ``{}`` gives None.
    """
    total = _checked_total(counts_by_score, NPS_SCALE, "NPS")
    if total == 0:
        return None
    promoters = _count(counts_by_score, NPS_PROMOTERS)
    detractors = _count(counts_by_score, NPS_DETRACTORS)
    return (promoters - detractors) * 100.0 / total


def ces(counts_by_score: Mapping[int, int]) -> float | None:
    """Customer Effort Score: the mean score on 1–7 (1 extremely easy … 7 extremely difficult).

    Lower is better. ``{1: 2, 4: 1, 7: 1}`` gives (1+1+4+7)/4 = 3.25; ``{}`` gives None.
    """
    total = _checked_total(counts_by_score, CES_SCALE, "CES")
    if total == 0:
        return None
    return sum(int(score) * count for score, count in counts_by_score.items()) / total


def scale_for(kind: str) -> range:
    """The valid scores of a survey kind ("csat", "nps" or "ces")."""
    return {"csat": CSAT_SCALE, "nps": NPS_SCALE, "ces": CES_SCALE}[kind]
