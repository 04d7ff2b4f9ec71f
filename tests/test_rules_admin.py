"""Rules are written in the Django admin: check boxes and comma-separated lists become the rule's
conditions, and a rule that cannot work is refused with a message saying why (nothing stored)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import TagFactory, TeamFactory, TicketFactory
from tests.routing_helpers import make_agent
from tickets.models import AgentProfile, AutomationRule, Channel, Team, Ticket

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/tickets/automationrule/add/"


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def form(**changes) -> dict:
    data = {
        "name": "Spanish refunds", "description": "", "is_active": "on", "position": "10",
        "on_ticket_created": "on", "business_hours": "any", "marketplaces": "", "subject_contains": "",
        "text_contains": "", "languages": "", "set_language": "", "acknowledgement_text": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_add_page_explains_the_fields(admin_client):
    response = admin_client.get(ADD_URL)
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("When", "Then", "Comma-separated", "{{ expected_answer }}", 'type="checkbox" name="channels"'):
        assert text in page


def test_a_rule_is_stored_from_the_form(admin_client):
    team = TeamFactory(name="Soporte ES")
    refund, vip = TagFactory(name="refund"), TagFactory(name="vip")

    response = admin_client.post(ADD_URL, form(
        channels=[Channel.EMAIL, Channel.AMAZON], marketplaces="amazon.es, Amazon.DE", text_contains="reembolso, devolución",
        languages="es", tags=[vip.pk], priorities=["3", "4"], set_team=str(team.pk), add_tags=[refund.pk],
        assign="on", send_acknowledgement="on", acknowledgement_text="Hola {{ customer_first_name }}",
    ))

    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AutomationRule.objects.get()
    assert rule.channels == ["email", "amazon"]
    assert rule.marketplaces == ["amazon.es", "amazon.de"]
    assert rule.text_contains == ["reembolso", "devolución"]
    assert rule.languages == ["es"]
    assert rule.priorities == [3, 4]
    assert list(rule.tags.all()) == [vip] and list(rule.add_tags.all()) == [refund]
    assert (rule.set_team, rule.assign, rule.send_acknowledgement) == (team, True, True)


@pytest.mark.parametrize(("changes", "message"), [
    ({"on_ticket_created": None}, "Choose when the rule runs"),
    ({}, "The rule does nothing"),
    ({"send_acknowledgement": "on", "acknowledgement_text": "Hi {{ first_name }}"},
     "Unknown placeholders: first_name"),
    ({"send_acknowledgement": "on", "channels": [Channel.WHATSAPP]}, "sent by email only"),
    ({"set_priority": "4", "acknowledgement_text": "Hola"}, "send an acknowledgement"),
    ({"set_priority": "4", "marketplaces": "amazon.es amazon.de"}, "Separate the values with commas"),
])
def test_a_rule_that_cannot_work_is_refused(admin_client, changes, message):
    response = admin_client.post(ADD_URL, form(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AutomationRule.objects.exists()


def test_a_rule_whose_only_action_is_tagging_is_accepted(admin_client):
    tag = TagFactory(name="refund")
    response = admin_client.post(ADD_URL, form(add_tags=[tag.pk], text_contains="refund"))
    assert response.status_code == 302
    assert list(AutomationRule.objects.get().add_tags.all()) == [tag]


def test_setting_an_agent_offline_in_the_admin_returns_their_tickets(admin_client):
    team = TeamFactory(name="Chat", offline_policy=Team.OfflinePolicy.RETURN)
    ana = make_agent("ana", team)
    ticket = TicketFactory(team=team, assignee=ana, status=Ticket.Status.OPEN)
    profile = ana.agent_profile

    response = admin_client.post(f"/admin/tickets/agentprofile/{profile.pk}/change/", {
        "user": ana.pk, "role": "agent", "teams": [team.pk], "language": "en", "time_zone": "UTC",
        "availability": "offline", "capacity": "0", "languages": "",
    })

    assert response.status_code == 302, response.content.decode()[:3000]
    profile.refresh_from_db()
    ticket.refresh_from_db()
    assert profile.availability == AgentProfile.Availability.OFFLINE
    assert ticket.assignee is None
