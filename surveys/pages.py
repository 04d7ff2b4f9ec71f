"""What the public answer page shows, worked out here so that the templates only display it.

The page shows one question at a time:

- **ask**: the question and its scale, each score a button that records it in one click (a POST).
  Arriving from a score link in the email (`?kind=csat&score=4`), the chosen score is shown
  selected with a "Send" button: a GET never records anything, because mail security scanners and
  link previewers open every link of a mail, and would otherwise answer the survey with every score
  in turn. The customer's tap on "Send" (or on another score) is the POST that records.
- **thanks**: the answer is saved; a comment box (optional), a way to change the answer, the
  store's review invitation after a high score (never for Amazon or eBay tickets), and the next
  question when the store asks more than one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from surveys.formulas import scale_for
from surveys.models import Survey, SurveyAnswer, SurveySettings, marketplace_forbids_surveys
from surveys.questions import question_text, scale, score_label


@dataclass
class ScoreChoice:
    score: int
    label: str
    selected: bool


@dataclass
class Question:
    kind: str
    text: str
    choices: list[ScoreChoice]
    low_label: str
    high_label: str
    wide: bool  # eleven points (NPS): laid out as a grid on narrow screens


@dataclass
class AnswerPage:
    mode: str  # "ask" | "thanks"
    store_name: str
    question: Question
    answer: SurveyAnswer | None = None
    answer_label: str = ""
    preselected: ScoreChoice | None = None
    review_url: str = ""
    next_question: Question | None = None
    comment_saved: bool = False
    answered: list[SurveyAnswer] = field(default_factory=list)


def parse_score(kind: str, value: str | None) -> int | None:
    """A score from a link's query string, or None when it is missing or off the scale."""
    try:
        score = int(value or "")
    except ValueError:
        return None
    return score if score in scale_for(kind) else None


def build_question(survey: Survey, kind: str, settings: SurveySettings | None, selected: int | None) -> Question:
    choices = [ScoreChoice(score, label, score == selected) for score, label in scale(kind)]
    return Question(
        kind=kind,
        text=question_text(kind, settings=settings, language=survey.language, store_name=survey.store.name),
        choices=choices,
        low_label=choices[0].label,
        high_label=choices[-1].label,
        wide=len(choices) > 7,
    )


def review_url_for(survey: Survey, answer: SurveyAnswer, settings: SurveySettings | None) -> str:
    if (
        settings is None
        or not settings.review_url
        or marketplace_forbids_surveys(survey.channel, survey.ticket.marketplace)
    ):
        return ""
    return settings.review_url if settings.is_high(answer.kind, answer.score) else ""


def answer_page(
    survey: Survey,
    settings: SurveySettings | None,
    *,
    kind: str | None = None,
    score: str | None = None,
    change: bool = False,
    comment_saved: bool = False,
) -> AnswerPage:
    """The page for a survey, given the link's query (`kind`, `score`, `change`)."""
    answers = {answer.kind: answer for answer in survey.answers.all()}
    kinds = list(survey.kinds)
    unanswered = [k for k in kinds if k not in answers]
    current = kind if kind in kinds else (unanswered[0] if unanswered else kinds[0])
    answer = answers.get(current)
    preselected_score = parse_score(current, score)
    store_name = survey.store.name
    answered = [answers[k] for k in kinds if k in answers]

    if preselected_score is not None and (answer is None or answer.score != preselected_score):
        question = build_question(survey, current, settings, preselected_score)
        preselected = next(choice for choice in question.choices if choice.selected)
        return AnswerPage("ask", store_name, question, answer=answer, preselected=preselected, answered=answered)
    if answer is None or change:
        question = build_question(survey, current, settings, answer.score if answer else None)
        return AnswerPage("ask", store_name, question, answer=answer, answered=answered)

    remaining = [k for k in unanswered if k != current]
    return AnswerPage(
        "thanks",
        store_name,
        build_question(survey, current, settings, answer.score),
        answer=answer,
        answer_label=score_label(current, answer.score),
        review_url=review_url_for(survey, answer, settings),
        next_question=build_question(survey, remaining[0], settings, None) if remaining else None,
        comment_saved=comment_saved,
        answered=answered,
    )
