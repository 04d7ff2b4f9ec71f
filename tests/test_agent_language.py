"""The language switcher keeps the agent's choice on their profile and in the language cookie."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tickets.models import AgentProfile

INBOX = "/tickets/"


def test_choice_is_kept_on_the_profile_and_in_the_cookie(client, alice):
    client.force_login(alice)

    response = client.post("/i18n/setlang/", {"language": "ro", "next": INBOX})

    assert response.status_code == 302
    assert response["Location"] == INBOX
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ro"
    assert AgentProfile.objects.get(user=alice).language == "ro"
    page = client.get(INBOX).content.decode()
    assert '<html lang="ro">' in page
    assert "Deconectare" in page  # "Log out"


def test_choice_follows_the_agent_to_another_browser(alice):
    first = Client()
    first.force_login(alice)
    first.post("/i18n/setlang/", {"language": "es", "next": INBOX})

    elsewhere = Client()  # no language cookie: the profile decides
    elsewhere.force_login(alice)
    page = elsewhere.get(INBOX, headers={"Accept-Language": "en"}).content.decode()

    assert '<html lang="es">' in page
    assert "Bandeja de entrada" in page


def test_unknown_language_is_refused_and_changes_nothing(client, alice):
    client.force_login(alice)

    response = client.post("/i18n/setlang/", {"language": "xx", "next": INBOX})

    assert response.status_code == 400
    assert "Unknown language." in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert AgentProfile.objects.get(user=alice).language == "en"


def test_next_off_site_goes_home_instead(client, alice):
    client.force_login(alice)

    response = client.post("/i18n/setlang/", {"language": "es", "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_visitor_without_a_profile_gets_the_cookie_only(client):
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/login/"})

    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert '<html lang="es">' in client.get("/login/").content.decode()
    assert not AgentProfile.objects.exists()


def test_switching_needs_a_post(client, alice):
    client.force_login(alice)

    assert client.get("/i18n/setlang/", {"language": "es"}).status_code == 405
    assert AgentProfile.objects.get(user=alice).language == "en"
