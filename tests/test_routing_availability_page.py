"""Agents set their own availability from the top bar of every page."""

from __future__ import annotations

import pytest

from tests.factories import TeamFactory, TicketFactory
from tests.routing_helpers import make_agent
from tickets.models import AgentProfile, Team, Ticket

pytestmark = pytest.mark.django_db

URL = "/routing/availability/"


def test_the_top_bar_shows_the_agents_availability(client):
    ana = make_agent("ana", availability=AgentProfile.Availability.AWAY)
    client.force_login(ana)

    page = client.get("/tickets/").content.decode()

    assert 'action="/routing/availability/"' in page
    assert '<option value="away" selected>Away</option>' in page
    assert '<option value="online">Online</option>' in page


def test_users_without_an_agent_profile_see_no_availability(client, mallory):
    client.force_login(mallory)
    response = client.get("/login/")
    assert "availability-select" not in response.content.decode()


def test_going_online_then_offline_from_the_top_bar(client):
    team = TeamFactory(name="Chat", offline_policy=Team.OfflinePolicy.RETURN)
    ana = make_agent("ana", team, availability=AgentProfile.Availability.OFFLINE)
    client.force_login(ana)

    response = client.post(URL, {"availability": "online", "next": "/tickets/?status=open"})

    assert response.status_code == 302 and response["Location"] == "/tickets/?status=open"
    assert AgentProfile.objects.get(user=ana).availability == "online"

    ticket = TicketFactory(team=team, assignee=ana, status=Ticket.Status.OPEN)
    response = client.post(URL, {"availability": "offline", "next": "/tickets/"}, follow=True)

    ticket.refresh_from_db()
    assert ticket.assignee is None
    page = response.content.decode()
    assert "You are now offline." in page
    assert "1 open ticket went back to its team&#x27;s queue." in page


def test_an_unsafe_next_address_goes_home(client):
    client.force_login(make_agent("ana"))
    response = client.post(URL, {"availability": "away", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_unknown_availability_is_refused_and_nothing_changes(client):
    ana = make_agent("ana", availability=AgentProfile.Availability.ONLINE)
    client.force_login(ana)

    assert client.post(URL, {"availability": "lunch"}).status_code == 400
    assert AgentProfile.objects.get(user=ana).availability == "online"


def test_only_agents_and_only_by_post(client, mallory):
    assert client.post(URL, {"availability": "online"}).status_code == 302  # to the login page
    client.force_login(mallory)
    assert client.post(URL, {"availability": "online"}).status_code == 403
    client.force_login(make_agent("ana"))
    assert client.get(URL).status_code == 405
