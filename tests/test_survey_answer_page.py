"""The public answer page: a signed link, no login. A GET shows the chosen score and never records
(link scanners open every link of a mail); the POST records; answering again updates; forged and
expired links get a clear page and store nothing; low scores reopen or flag, high scores invite a
review (never for Amazon or eBay)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from surveys import actions, pages
from surveys.models import Survey, SurveyAnswer, SurveySettings
from surveys.tokens import make_token
from tests.factories import CustomerFactory, StoreFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Channel, Message, Notification, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey_settings():
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    return SurveySettings.objects.create(
        store=store, ask_csat=True, ask_nps=True, low_score_action=SurveySettings.LowScoreAction.REOPEN,
        review_url="https://reviews.example.org/cosy-mugs",
    )


@pytest.fixture
def agent():
    return UserFactory(username="alice", role="agent")


def sent_survey(survey_settings, *, language="en", channel=Channel.EMAIL, agent=None, team=None,
                expires_in=timedelta(days=30)) -> Survey:
    store = survey_settings.store
    ticket = TicketFactory(
        store=store, channel=channel, status=Ticket.Status.SOLVED, solved_at=timezone.now(), assignee=agent,
        team=team, customer=CustomerFactory(language=language),
    )
    now = timezone.now()
    return Survey.objects.create(
        ticket=ticket, store=store, customer=ticket.customer, channel=channel, kinds=survey_settings.kinds,
        language=language, status=Survey.Status.SENT, due_at=now, sent_at=now, expires_at=now + expires_in,
        agent=agent, team=team,
    )


def link(survey: Survey) -> str:
    return reverse("surveys:answer", args=[make_token(survey.pk, survey.expires_at)])


# --- Showing -------------------------------------------------------------------------------------


def test_a_score_link_shows_the_score_and_records_nothing(client, survey_settings):
    survey = sent_survey(survey_settings)

    response = client.get(link(survey), {"kind": "csat", "score": "4"})

    assert response.status_code == 200
    page = response.context["page"]
    assert page.mode == "ask"
    assert page.preselected.score == 4
    assert "You chose <strong>4</strong> (Satisfied)." in response.content.decode()
    assert not SurveyAnswer.objects.exists()
    assert response["Cache-Control"].startswith("max-age=0")
    assert response["Referrer-Policy"] == "same-origin"


def test_the_page_is_in_the_customers_language(client, survey_settings):
    survey = sent_survey(survey_settings, language="ro")
    response = client.get(link(survey))
    assert '<html lang="ro">' in response.content.decode()


def test_a_store_can_word_its_own_question(client, survey_settings):
    survey_settings.questions.create(kind="csat", language="es", text="¿Qué tal te atendimos en {store}?")
    survey = sent_survey(survey_settings, language="es")
    response = client.get(link(survey))
    assert "¿Qué tal te atendimos en Cosy Mugs?" in response.content.decode()


def test_the_nps_question_names_the_store(client, survey_settings):
    survey = sent_survey(survey_settings)
    response = client.get(link(survey), {"kind": "nps"})
    assert "How likely are you to recommend Cosy Mugs to a friend or colleague?" in response.content.decode()
    assert [choice.score for choice in response.context["page"].question.choices] == list(range(0, 11))


# --- Recording -----------------------------------------------------------------------------------


def test_posting_a_score_records_it_with_the_tickets_dimensions(client, survey_settings, agent):
    team = TeamFactory(name="Returns")
    survey = sent_survey(survey_settings, agent=agent, team=team)

    response = client.post(link(survey), {"kind": "csat", "score": "5"})

    assert response.status_code == 302
    answer = SurveyAnswer.objects.get()
    assert (answer.kind, answer.score, answer.comment) == ("csat", 5, "")
    assert answer.survey == survey
    assert answer.store == survey.store
    assert answer.channel == "email"
    assert answer.team == team
    assert answer.agent == agent
    assert answer.ticket == survey.ticket
    assert answer.customer == survey.customer
    # The redirect shows the thank-you page, with the next question (NPS) below.
    page = client.get(response["Location"]).context["page"]
    assert page.mode == "thanks"
    assert page.answer.score == 5
    assert page.next_question.kind == "nps"


def test_answering_again_updates_the_same_answer(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "2"})
    first = SurveyAnswer.objects.get()

    client.post(link(survey), {"kind": "csat", "score": "4"})

    answer = SurveyAnswer.objects.get()
    assert answer.pk == first.pk
    assert answer.score == 4
    assert answer.answered_at == first.answered_at  # it still counts on the day first answered
    assert answer.changed_at > first.changed_at


def test_a_comment_is_added_without_changing_the_score(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "4"})

    response = client.post(link(survey), {"kind": "csat", "score": "4", "comment": "  Fast and kind. <b>Thanks</b> "})

    answer = SurveyAnswer.objects.get()
    assert answer.score == 4
    assert answer.comment == "Fast and kind. <b>Thanks</b>"
    page = client.get(response["Location"])
    assert page.context["page"].comment_saved
    assert "Fast and kind. &lt;b&gt;Thanks&lt;/b&gt;" in page.content.decode()  # shown as text


def test_each_kind_is_its_own_answer(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "5"})
    client.post(link(survey), {"kind": "nps", "score": "9"})
    assert sorted(SurveyAnswer.objects.values_list("kind", "score")) == [("csat", 5), ("nps", 9)]


@pytest.mark.parametrize(("kind", "score"), [("csat", "6"), ("csat", "0"), ("nps", "11"), ("csat", "four"),
                                             ("ces", "3")])
def test_bad_answers_are_refused_and_nothing_is_stored(client, survey_settings, kind, score):
    survey = sent_survey(survey_settings)  # asks CSAT and NPS, not CES
    response = client.post(link(survey), {"kind": kind, "score": score})
    assert response.status_code == 400
    assert not SurveyAnswer.objects.exists()


# --- Forged and expired links ---------------------------------------------------------------------


def test_a_forged_link_gets_a_clear_page_and_stores_nothing(client, survey_settings):
    survey = sent_survey(survey_settings)
    token = make_token(survey.pk, survey.expires_at)
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    url = reverse("surveys:answer", args=[forged])

    shown = client.get(url, {"kind": "csat", "score": "1"})
    posted = client.post(url, {"kind": "csat", "score": "1"})

    assert shown.status_code == posted.status_code == 404
    assert "This link is not valid" in posted.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_a_link_for_another_survey_cannot_be_made_without_the_key(client, survey_settings):
    from django.core import signing

    survey = sent_survey(survey_settings)
    other_key = signing.dumps({"s": survey.pk, "e": int(survey.expires_at.timestamp())}, key="not-the-secret",
                              salt="surveys.answer-link")
    response = client.post(reverse("surveys:answer", args=[other_key]), {"kind": "csat", "score": "1"})
    assert response.status_code == 404
    assert not SurveyAnswer.objects.exists()


def test_an_expired_link_gets_a_clear_page_and_stores_nothing(client, survey_settings):
    survey = sent_survey(survey_settings, language="es", expires_in=timedelta(seconds=-1))

    shown = client.get(link(survey), {"kind": "csat", "score": "5"})
    posted = client.post(link(survey), {"kind": "csat", "score": "5"})

    assert shown.status_code == posted.status_code == 410
    with translation.override("es"):
        assert translation.gettext("This survey has closed") in posted.content.decode()
    assert '<html lang="es">' in posted.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_an_answer_cannot_be_changed_after_the_link_expired(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "5"})
    Survey.objects.filter(pk=survey.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    survey.refresh_from_db()

    response = client.post(link(survey), {"kind": "csat", "score": "1"})

    assert response.status_code == 410
    assert SurveyAnswer.objects.get().score == 5


# --- Low scores -------------------------------------------------------------------------------


def test_a_low_csat_reopens_the_ticket_with_a_note(client, survey_settings):
    survey = sent_survey(survey_settings)

    client.post(link(survey), {"kind": "csat", "score": "2", "comment": "Still broken"})

    ticket = Ticket.objects.get(pk=survey.ticket_id)
    assert ticket.status == Ticket.Status.OPEN
    note = ticket.messages.get(direction=Message.Direction.NOTE)
    assert note.author_type == Message.AuthorType.SYSTEM
    assert note.body_text == (
        "The customer answered CSAT 2 in the satisfaction survey. Their comment: Still broken"
    )


def test_a_csat_of_three_is_not_low(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "3"})
    assert Ticket.objects.get(pk=survey.ticket_id).status == Ticket.Status.SOLVED


def test_a_detractor_reopens_but_a_passive_does_not(client, survey_settings):
    passive = sent_survey(survey_settings)
    detractor = sent_survey(survey_settings)
    client.post(link(passive), {"kind": "nps", "score": "7"})
    client.post(link(detractor), {"kind": "nps", "score": "6"})
    assert Ticket.objects.get(pk=passive.ticket_id).status == Ticket.Status.SOLVED
    assert Ticket.objects.get(pk=detractor.ticket_id).status == Ticket.Status.OPEN


def test_changing_one_low_score_to_another_acts_once(client, survey_settings):
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "1"})
    Ticket.objects.filter(pk=survey.ticket_id).update(status=Ticket.Status.SOLVED)

    client.post(link(survey), {"kind": "csat", "score": "2"})

    assert Ticket.objects.get(pk=survey.ticket_id).status == Ticket.Status.SOLVED
    assert Message.objects.filter(ticket_id=survey.ticket_id, direction=Message.Direction.NOTE).count() == 1


def test_a_low_score_flags_the_ticket_for_the_team_lead(client, survey_settings):
    SurveySettings.objects.filter(pk=survey_settings.pk).update(low_score_action=SurveySettings.LowScoreAction.FLAG)
    lead = UserFactory(username="lena", role="agent")
    team = TeamFactory(name="Returns", lead=lead)
    survey = sent_survey(survey_settings, team=team)

    client.post(link(survey), {"kind": "csat", "score": "1"})

    ticket = Ticket.objects.get(pk=survey.ticket_id)
    assert ticket.status == Ticket.Status.SOLVED  # flagged, not reopened
    notification = Notification.objects.get()
    assert notification.recipient == lead
    assert notification.ticket == ticket
    assert notification.kind == "survey_low_score"
    assert notification.text == "The customer answered CSAT 1 in the satisfaction survey."


def test_without_a_team_lead_the_managers_are_flagged(client, survey_settings):
    SurveySettings.objects.filter(pk=survey_settings.pk).update(low_score_action=SurveySettings.LowScoreAction.FLAG)
    manager = UserFactory(username="bob", role="manager")
    UserFactory(username="alice", role="agent")
    survey = sent_survey(survey_settings)

    client.post(link(survey), {"kind": "csat", "score": "1"})

    assert list(Notification.objects.values_list("recipient", flat=True)) == [manager.pk]


def test_a_low_score_does_nothing_when_the_store_says_so(client, survey_settings):
    SurveySettings.objects.filter(pk=survey_settings.pk).update(low_score_action=SurveySettings.LowScoreAction.NONE)
    survey = sent_survey(survey_settings)
    client.post(link(survey), {"kind": "csat", "score": "1"})
    assert Ticket.objects.get(pk=survey.ticket_id).status == Ticket.Status.SOLVED
    assert not Message.objects.filter(direction=Message.Direction.NOTE).exists()


# --- Review invitation -----------------------------------------------------------------------------


def test_a_high_score_invites_a_review(client, survey_settings):
    survey = sent_survey(survey_settings)
    response = client.post(link(survey), {"kind": "csat", "score": "5"}, follow=True)
    assert response.context["page"].review_url == "https://reviews.example.org/cosy-mugs"
    assert 'href="https://reviews.example.org/cosy-mugs"' in response.content.decode()


def test_a_satisfied_but_not_top_score_gets_no_review_invitation(client, survey_settings):
    survey = sent_survey(survey_settings)
    response = client.post(link(survey), {"kind": "csat", "score": "4"}, follow=True)
    assert response.context["page"].review_url == ""
    assert "reviews.example.org" not in response.content.decode()


@pytest.mark.parametrize("channel", [Channel.AMAZON, Channel.EBAY])
def test_never_a_review_invitation_for_amazon_or_ebay(survey_settings, channel):
    survey = sent_survey(survey_settings, channel=channel)
    answer = actions.record_answer(survey=survey, kind="csat", score=5)
    assert pages.review_url_for(survey, answer, survey_settings) == ""


def test_never_a_review_invitation_for_a_ticket_with_ebay_messages(survey_settings):
    survey = sent_survey(survey_settings)
    Ticket.objects.filter(pk=survey.ticket_id).update(marketplace="ebay.de")
    survey.refresh_from_db()
    answer = actions.record_answer(survey=survey, kind="csat", score=5)
    assert pages.review_url_for(Survey.objects.get(pk=survey.pk), answer, survey_settings) == ""


# --- Metrics hear of every answer --------------------------------------------------------------------


def test_metrics_hear_of_each_answer_and_the_score_it_replaced(
    client, survey_settings, monkeypatch, django_capture_on_commit_callbacks
):
    from metrics import rollup

    heard: list[tuple[int, int | None]] = []
    monkeypatch.setattr(rollup, "on_survey_answer", lambda answer, previous: heard.append((answer.score, previous)))
    survey = sent_survey(survey_settings)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(link(survey), {"kind": "csat", "score": "3"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link(survey), {"kind": "csat", "score": "4"})

    assert heard == [(3, None), (4, 3)]


def test_a_poor_ces_of_six_reopens_but_five_does_not(client, survey_settings):
    SurveySettings.objects.filter(pk=survey_settings.pk).update(ask_csat=False, ask_nps=False, ask_ces=True)
    survey_settings.refresh_from_db()
    fair = sent_survey(survey_settings)
    poor = sent_survey(survey_settings)
    client.post(link(fair), {"kind": "ces", "score": "5"})
    client.post(link(poor), {"kind": "ces", "score": "6"})
    assert Ticket.objects.get(pk=fair.ticket_id).status == Ticket.Status.SOLVED
    assert Ticket.objects.get(pk=poor.ticket_id).status == Ticket.Status.OPEN
