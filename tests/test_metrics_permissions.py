"""Who sees which figures, by every route: the dashboard page, the CSV export and the API.
Agents see their own figures; managers the stores of their teams; admins everything."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from metrics.models import DailyRollup
from metrics.rollup import refresh_store_rollups
from tests.factories import StoreFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 10, 5)
RANGE = {"from": "2026-10-01", "to": "2026-10-10"}


@pytest.fixture
def world(db):
    spain, romania = StoreFactory(slug="p-spain"), StoreFactory(slug="p-romania")
    alice = UserFactory(username="p-alice", role="agent")
    bob = UserFactory(username="p-bob", role="agent")
    manager = UserFactory(username="p-manager", role="manager")
    TeamFactory(name="P Spain", store=spain).members.add(manager.agent_profile)
    everywhere = UserFactory(username="p-lead", role="manager")
    TeamFactory(name="P All", store=None, lead=everywhere)
    lonely = UserFactory(username="p-lonely", role="manager")
    admin = UserFactory(username="p-admin", role="admin")
    outsider = UserFactory(username="p-outsider")
    DailyRollup.objects.create(day=DAY, store=spain, channel="email", agent=alice, created=1, solved=2)
    DailyRollup.objects.create(day=DAY, store=spain, channel="email", agent=bob, created=10, solved=20)
    DailyRollup.objects.create(day=DAY, store=romania, channel="chat", agent=alice, created=100, solved=200)
    refresh_store_rollups()
    return locals()


def summary(client, user, **params):
    client.force_login(user)
    return client.get("/api/v1/metrics/summary/", {**RANGE, **params})


def csv_rows(client, user, **params):
    client.force_login(user)
    response = client.get(reverse("metrics:export"), {**RANGE, "by": "agent", **params})
    return response, list(csv.DictReader(io.StringIO(response.content.decode()))) if response.status_code == 200 else []


def page(client, user, **params):
    client.force_login(user)
    return client.get(reverse("metrics:dashboard"), {**RANGE, **params})


@pytest.mark.parametrize(("who", "solved"), [
    ("alice", 202), ("bob", 20), ("manager", 22), ("everywhere", 222), ("admin", 222), ("lonely", 0),
])
def test_each_role_sees_its_own_share_by_api_csv_and_page(client, world, who, solved):
    user = world[who]
    assert summary(client, user).json()["current"]["solved"] == solved
    response, rows = csv_rows(client, user)
    assert response.status_code == 200
    assert sum(int(row["solved"]) for row in rows) == solved
    response = page(client, user)
    assert response.status_code == 200
    assert response.context["cards"][1]["value"] == str(solved)


def test_an_agent_gets_only_their_own_rows_in_the_agent_table(client, world):
    _response, rows = csv_rows(client, world["alice"])
    assert [row["agent"] for row in rows] == ["P-alice"]
    assert [row["agent"] for row in page(client, world["alice"]).context["agent_rows"]] == ["P-alice"]


@pytest.mark.parametrize("route", ["api", "csv", "page"])
def test_an_agent_asking_for_another_agent_is_refused(client, world, route):
    other = {"agent": world["bob"].pk}
    response = {"api": summary, "csv": lambda c, u, **p: csv_rows(c, u, **p)[0], "page": page}[route](
        client, world["alice"], **other)
    assert response.status_code == 403


@pytest.mark.parametrize("route", ["api", "csv", "page"])
def test_a_manager_asking_for_a_store_they_do_not_manage_is_refused(client, world, route):
    other = {"store": world["romania"].pk}
    response = {"api": summary, "csv": lambda c, u, **p: csv_rows(c, u, **p)[0], "page": page}[route](
        client, world["manager"], **other)
    assert response.status_code == 403
    allowed = {"store": world["spain"].pk}
    response = {"api": summary, "csv": lambda c, u, **p: csv_rows(c, u, **p)[0], "page": page}[route](
        client, world["manager"], **allowed)
    assert response.status_code == 200


def test_an_admin_may_ask_for_any_store_and_agent(client, world):
    data = summary(client, world["admin"], store=world["romania"].pk, agent=world["alice"].pk).json()
    assert data["current"]["solved"] == 200


@pytest.mark.parametrize("path", ["summary", "rows", "comments"])
def test_api_refuses_anonymous_and_non_helpdesk_users(client, world, path):
    assert client.get(f"/api/v1/metrics/{path}/").status_code == 401
    client.force_login(world["outsider"])
    assert client.get(f"/api/v1/metrics/{path}/").status_code == 403


@pytest.mark.parametrize("name", ["metrics:dashboard", "metrics:export", "metrics:customers"])
def test_pages_send_anonymous_visitors_to_login_and_refuse_non_helpdesk_users(client, world, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(world["outsider"])
    assert client.get(reverse(name)).status_code == 403


def test_customer_segments_are_for_managers_and_admins(client, world):
    client.force_login(world["alice"])
    assert client.get(reverse("metrics:customers")).status_code == 403
    for who in ("manager", "admin"):
        client.force_login(world[who])
        assert client.get(reverse("metrics:customers")).status_code == 200


def test_token_authentication_works_for_the_metrics_api(client, world):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=world["bob"])
    response = client.get("/api/v1/metrics/summary/", RANGE, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["current"]["solved"] == 20
