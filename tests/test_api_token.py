"""POST /api/v1/auth/token/ trades a helpdesk user's password for a token that then works alone."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from tests.factories import TicketFactory
from tickets.api.auth import TokenRequestThrottle

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The throttle counts in the shared Redis cache: start and end every test with a clean slate
    for the usernames used here (only those keys: other runs share the server)."""
    keys = [TokenRequestThrottle.key_for(name) for name in ("alice", "mallory", "nobody")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def test_agent_gets_a_token_that_authenticates_alone(anonymous, token_client, alice, password):
    ticket = TicketFactory()

    response = anonymous.post(URL, {"username": "alice", "password": password})

    assert response.status_code == 200
    key = response.json()["token"]
    assert response.json() == {"token": Token.objects.get(user=alice).key}
    listing = token_client(key).get("/api/v1/tickets/")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [ticket.pk]


def test_asking_twice_returns_the_same_token(anonymous, alice, password):
    first = anonymous.post(URL, {"username": "alice", "password": password}).json()["token"]
    second = anonymous.post(URL, {"username": "alice", "password": password}).json()["token"]

    assert first == second
    assert Token.objects.filter(user=alice).count() == 1


def test_form_encoded_credentials_work_too(anonymous, alice, password):
    response = anonymous.post(URL, {"username": "alice", "password": password}, format="multipart")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_wrong_password_gets_400_and_no_token(anonymous, alice):
    response = anonymous.post(URL, {"username": "alice", "password": "guess"})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


def test_missing_fields_are_named(anonymous):
    response = anonymous.post(URL, {})

    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_user_without_profile_gets_no_token(anonymous, mallory, password):
    response = anonymous.post(URL, {"username": "mallory", "password": password})

    assert response.status_code == 403
    assert response.json() == {"detail": "This account is not a helpdesk user."}
    assert not Token.objects.exists()


def test_password_guessing_is_throttled_per_username(anonymous, alice, password):
    for _ in range(10):
        assert anonymous.post(URL, {"username": "alice", "password": "guess"}).status_code == 400

    # Even the right password waits now: the limit is on attempts, not on failures.
    response = anonymous.post(URL, {"username": "alice", "password": password})

    assert response.status_code == 429
    assert not Token.objects.exists()
    # Other accounts are not held up.
    assert anonymous.post(URL, {"username": "nobody", "password": "guess"}).status_code == 400


def test_a_session_does_not_stand_in_for_the_password(client_for, alice):
    response = client_for(alice).post(URL, {})

    assert response.status_code == 400
    assert not Token.objects.exists()
