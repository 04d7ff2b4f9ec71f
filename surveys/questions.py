"""What a survey says: the question of each kind and the words on its scale, in the customer's
language. Call these inside `translation.override(language)`; a store's own wording for a kind and
language (SurveyQuestion) replaces the standard question.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from surveys.formulas import scale_for
from surveys.models import SurveyKind, SurveySettings


def standard_question(kind: str, store_name: str) -> str:
    if kind == SurveyKind.CSAT:
        return _("How satisfied are you with the service you received?")
    if kind == SurveyKind.NPS:
        return _("How likely are you to recommend %(store)s to a friend or colleague?") % {"store": store_name}
    return _("How easy was it to get your issue resolved?")


def question_text(kind: str, *, settings: SurveySettings | None, language: str, store_name: str) -> str:
    if settings is not None:
        custom = next(
            (question.text for question in settings.questions.all() if question.kind == kind and question.language == language),
            "",
        )
        if custom:
            return custom.replace("{store}", store_name)
    return standard_question(kind, store_name)


def score_label(kind: str, score: int) -> str:
    """The words for one point of the scale ("" for the NPS points between its two ends)."""
    if kind == SurveyKind.CSAT:
        return {
            1: _("Very dissatisfied"),
            2: _("Dissatisfied"),
            3: _("Neither satisfied nor dissatisfied"),
            4: _("Satisfied"),
            5: _("Very satisfied"),
        }[score]
    if kind == SurveyKind.NPS:
        return {0: _("Not at all likely"), 10: _("Extremely likely")}.get(score, "")
    return {
        1: _("Extremely easy"),
        2: _("Very easy"),
        3: _("Fairly easy"),
        4: _("Neither easy nor difficult"),
        5: _("Fairly difficult"),
        6: _("Very difficult"),
        7: _("Extremely difficult"),
    }[score]


def scale(kind: str) -> list[tuple[int, str]]:
    """(score, label) for every point of the kind's scale, lowest first."""
    return [(score, score_label(kind, score)) for score in scale_for(kind)]
