"""A store's survey settings are edited in the Django admin: channels to turn off (never offering
Amazon or eBay, which are always off), and at least one question when surveys are on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from surveys.models import SurveySettings
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def form_data(store, **changes) -> dict:
    data = {
        "store": store.pk, "enabled": "on", "ask_csat": "on", "delay_minutes": "90", "period_days": "14",
        "token_lifetime_days": "10", "low_score_action": "reopen", "csat_low_max": "2", "nps_low_max": "6",
        "ces_low_min": "6", "review_url": "https://reviews.example.org/cosy", "review_csat_min": "5",
        "review_nps_min": "9", "disabled_channels": ["sms", "chat"],
        "questions-TOTAL_FORMS": "1", "questions-INITIAL_FORMS": "0", "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-kind": "csat", "questions-0-language": "ro", "questions-0-text": "Cum a fost?",
    }
    data.update(changes)
    return data


def test_a_store_sets_up_its_surveys(admin_client):
    store = StoreFactory(name="Cosy Mugs", slug="cosy-mugs")

    response = admin_client.post(reverse("admin:surveys_surveysettings_add"), form_data(store))

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = SurveySettings.objects.get(store=store)
    assert saved.disabled_channels == ["sms", "chat"]
    assert (saved.delay_minutes, saved.period_days, saved.token_lifetime_days) == (90, 14, 10)
    assert saved.kinds == ["csat"]
    assert list(saved.questions.values_list("kind", "language", "text")) == [("csat", "ro", "Cum a fost?")]


def test_amazon_and_ebay_are_not_offered_as_switchable(admin_client):
    page = admin_client.get(reverse("admin:surveys_surveysettings_add")).content.decode()
    assert 'value="whatsapp"' in page
    assert 'value="amazon"' not in page
    assert 'value="ebay"' not in page


def test_surveys_on_without_a_question_are_refused(admin_client):
    store = StoreFactory()
    data = form_data(store)
    del data["ask_csat"]

    response = admin_client.post(reverse("admin:surveys_surveysettings_add"), data)

    assert response.status_code == 200
    assert "Choose at least one question to ask" in response.content.decode()
    assert not SurveySettings.objects.exists()


def test_a_threshold_off_the_scale_is_refused(admin_client):
    store = StoreFactory()
    response = admin_client.post(reverse("admin:surveys_surveysettings_add"), form_data(store, csat_low_max="6"))
    assert response.status_code == 200
    assert "At most 5." in response.content.decode()
    assert not SurveySettings.objects.exists()
