"""The survey flow continued onto the managers' dashboard: after the customer answers in real
Chromium, the minute task runs on a real Celery worker, and a manager signed in in Chromium sees
the answer in the CSAT figure, the score distribution and the comments, linked to its ticket."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from metrics.models import StoreDailyRollup
from tests.browser.test_survey_flow import survey_answered_in_browser
from tests.factories import PASSWORD, TeamFactory, UserFactory
from tests.test_email_send import smtp_server  # noqa: F401  (a fixture)
from tests.workers import celery_worker_process  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_answer_given_in_the_browser_shows_on_the_dashboard(browser, live_server, smtp_server,  # noqa: F811
                                                               celery_worker_process):  # noqa: F811
    flow = survey_answered_in_browser(browser, live_server, smtp_server, celery_worker_process, score=4,
                                      comment="Fast answer, parcel found.")
    flow.page.context.close()
    manager = UserFactory(username="marta", role="manager")
    TeamFactory(name="Support", store=flow.ticket.store).members.add(manager.agent_profile)

    # The minute task, through the broker, on a real worker serving the metrics queue.
    worker = celery_worker_process(queues=("metrics",))
    from metrics.tasks import refresh_recent

    refresh_recent.delay()
    deadline = time.monotonic() + 60
    while not StoreDailyRollup.objects.filter(store=flow.ticket.store, csat_scores__3=1).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the rollups never counted the answer; worker log:\n{worker.log()[-5000:]}")
        time.sleep(0.3)

    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/metrics/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/metrics/$"))
    page.get_by_label("Username").fill("marta")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/metrics/$"))

    csat = page.locator('[data-figure="csat_percent"]')
    expect(csat.locator(".figure__value")).to_have_text("100.0%")
    expect(csat).to_contain_text("answers of 4 or 5 ÷ all answers × 100")
    expect(page.locator('[data-distribution="csat"] svg title').first).to_have_text("Answers per score: CSAT")
    expect(page.locator('[data-distribution="csat"] rect title').nth(3)).to_have_text("4: 1")
    comments = page.locator("#survey-comments")
    expect(comments).to_contain_text("Fast answer, parcel found.")
    comments.get_by_role("link", name=f"Ticket #{flow.ticket.pk}").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{flow.ticket.pk}/$"))
    context.close()
