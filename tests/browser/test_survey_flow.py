"""The survey end to end: an agent solves a ticket; a real Celery worker sends the survey email to
a real SMTP server on loopback; the customer opens its score link in real Chromium (a phone-sized
window), confirms the score and adds a comment; the answer is stored.

`survey_answered_in_browser` runs the whole flow and returns what it produced, so that further
checks (the answer on the managers' dashboard) can be added to the flow's test or to new ones.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from surveys.models import Survey, SurveyAnswer, SurveySettings
from tests.factories import (
    ChannelIdentityFactory,
    CustomerFactory,
    MessageFactory,
    TicketFactory,
    UserFactory,
)
from tests.test_email_send import mailbox_account, smtp_server  # noqa: F401  (smtp_server is a fixture)
from tests.workers import celery_worker_process  # noqa: F401  (a fixture)
from tickets.models import ChannelIdentity, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCORE_LINK = re.compile(r"(http://\S+/s/\S+/\?kind=csat&score=(\d))")
MAIL_TIMEOUT_SECONDS = 60


@dataclass
class SurveyFlow:
    ticket: Ticket
    survey: Survey
    answer: SurveyAnswer
    page: object  # the customer's Playwright page, still open on the thank-you page
    agent: object


def in_plain_thread(function, *args, **kwargs):
    """Run an action outside this thread, whose running Playwright event loop stops actions from
    publishing their live events (async_to_sync); its database connection is closed after."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            function(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]


def screenshot(page, name: str) -> None:
    """A full-page screenshot when HELPDESK_SCREENSHOT_DIR is set, to look at the pages."""
    directory = os.environ.get("HELPDESK_SCREENSHOT_DIR")
    if directory:
        page.screenshot(path=os.path.join(directory, f"{name}.png"), full_page=True)


def wait_for_mail(smtp_server, worker):  # noqa: F811
    deadline = time.monotonic() + MAIL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if smtp_server.messages:
            return smtp_server.messages[0]
        time.sleep(0.2)
    pytest.fail(f"no survey email within {MAIL_TIMEOUT_SECONDS} s; worker log:\n{worker.log()[-5000:]}")


def survey_answered_in_browser(browser, live_server, smtp_server, celery_worker_process, *, score: int,  # noqa: F811
                               comment: str) -> SurveyFlow:
    from tickets.actions import change_status

    account = mailbox_account(smtp_server.port)
    SurveySettings.objects.create(store=account.store, delay_minutes=0, ask_csat=True)
    agent = UserFactory(username="alice", role="agent")
    customer = CustomerFactory(name="Jane Doe", email="jane@example.org", language="en")
    ChannelIdentityFactory(customer=customer, kind=ChannelIdentity.Kind.EMAIL, value=customer.email)
    ticket = TicketFactory(store=account.store, channel_account=account, customer=customer, assignee=agent,
                           subject="Where is my order?")
    MessageFactory(ticket=ticket, channel_account=account, body_text="My parcel has not arrived.",
                   metadata={"from": customer.email, "message_id": "jane.1@example.org"})
    worker = celery_worker_process(queues=("outbound",), env={"HELPDESK_PUBLIC_URL": live_server.url})

    in_plain_thread(change_status, ticket=ticket, status=Ticket.Status.SOLVED, actor=agent)

    mail = wait_for_mail(smtp_server, worker)
    assert smtp_server.handler.envelopes[0].rcpt_tos == ["jane@example.org"]
    text = mail.get_body(("plain",)).get_content()
    links = {int(found[1]): found[0] for found in SCORE_LINK.findall(text)}
    assert sorted(links) == [1, 2, 3, 4, 5]

    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(links[score])
    # Opening the link shows the score chosen; it is recorded only when the customer confirms.
    expect(page.locator(".survey-chosen")).to_contain_text(str(score))
    assert not SurveyAnswer.objects.exists()
    screenshot(page, "survey-confirm")
    page.locator("#confirm-score").tap()
    expect(page.locator(".survey-saved")).to_have_attribute("data-score", str(score))
    screenshot(page, "survey-thanks")
    page.locator("#comment").fill(comment)
    page.get_by_role("button", name="Send comment").click()
    expect(page.get_by_role("status")).to_be_visible()

    answer = SurveyAnswer.objects.get()
    return SurveyFlow(ticket=ticket, survey=Survey.objects.get(ticket=ticket), answer=answer, page=page, agent=agent)


def test_survey_flow_solve_email_browser_answer_stored(browser, live_server, smtp_server,  # noqa: F811
                                                       celery_worker_process):  # noqa: F811
    before = timezone.now()

    flow = survey_answered_in_browser(browser, live_server, smtp_server, celery_worker_process, score=4,
                                      comment="Quick and friendly, thank you.")

    assert flow.survey.status == Survey.Status.SENT
    assert (flow.answer.kind, flow.answer.score) == ("csat", 4)
    assert flow.answer.comment == "Quick and friendly, thank you."
    assert flow.answer.ticket == flow.ticket
    assert flow.answer.agent == flow.agent
    assert flow.answer.channel == "email"
    assert flow.answer.answered_at >= before
    # The page fits a phone: nothing wider than the screen.
    assert flow.page.evaluate("document.documentElement.scrollWidth") <= 390
    flow.page.context.close()


def test_changing_the_answer_in_the_browser_updates_it(browser, live_server, smtp_server,  # noqa: F811
                                                       celery_worker_process):  # noqa: F811
    flow = survey_answered_in_browser(browser, live_server, smtp_server, celery_worker_process, score=5,
                                      comment="")
    page = flow.page

    page.get_by_role("link", name="Change my answer").click()
    page.locator('button[name="score"][value="2"]').click()

    expect(page.locator(".survey-saved")).to_have_attribute("data-score", "2")
    answer = SurveyAnswer.objects.get()
    assert answer.pk == flow.answer.pk
    assert answer.score == 2
    page.context.close()


def test_one_tap_on_the_page_records_an_nps_score(browser, live_server, settings):
    from django.urls import reverse

    from surveys.tokens import make_token
    from tests.factories import StoreFactory

    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")
    SurveySettings.objects.create(store=store, ask_csat=False, ask_nps=True, review_url="https://reviews.example.org/x")
    ticket = TicketFactory(store=store, status=Ticket.Status.SOLVED, solved_at=timezone.now())
    now = timezone.now()
    survey = Survey.objects.create(
        ticket=ticket, store=store, customer=ticket.customer, channel="chat", kinds=["nps"], language="en",
        status=Survey.Status.SENT, due_at=now, sent_at=now, expires_at=now + timezone.timedelta(days=7),
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()

    page.goto(reverse("surveys:answer", args=[make_token(survey.pk, survey.expires_at)]))
    expect(page.get_by_text("How likely are you to recommend Cosy Mugs to a friend or colleague?")).to_be_visible()
    screenshot(page, "survey-nps")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator('button[name="score"][value="9"]').tap()

    expect(page.locator(".survey-saved")).to_have_attribute("data-score", "9")
    expect(page.get_by_role("link", name="Write a review")).to_have_attribute("href", "https://reviews.example.org/x")
    assert list(SurveyAnswer.objects.values_list("kind", "score")) == [("nps", 9)]
    context.close()
