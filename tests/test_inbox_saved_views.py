"""Saved views: an agent saves the current filters and sort under a name, finds it in the sidebar,
renames and deletes it; nobody else sees or touches it."""

from __future__ import annotations

import re

import pytest

from tests.factories import StoreFactory, TicketFactory, UserFactory
from tickets.models import Channel, SavedView, Ticket

pytestmark = pytest.mark.django_db

INBOX = "/tickets/"


def ticket_ids(response) -> list[int]:
    return sorted(
        int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_saving_the_current_view_keeps_its_filters_and_sort(client, alice):
    store = StoreFactory()
    wanted = TicketFactory(store=store, channel=Channel.WHATSAPP, status=Ticket.Status.PENDING)
    TicketFactory(store=store, channel=Channel.EMAIL, status=Ticket.Status.PENDING)
    client.force_login(alice)

    response = client.post(
        "/tickets/views/save/",
        {
            "name": "WhatsApp waiting",
            "query": f"view=pending&store={store.pk}&channel=whatsapp&sort=created",
        },
    )

    saved = SavedView.objects.get(owner=alice)
    assert saved.name == "WhatsApp waiting"
    assert saved.filters == {"view": "pending", "store": str(store.pk), "channel": "whatsapp"}
    assert saved.sort == "created"
    assert response.status_code == 302
    assert (
        response.url
        == f"/tickets/?view=pending&store={store.pk}&channel=whatsapp&sort=created&saved={saved.pk}"
    )
    page = client.get(response.url)
    assert ticket_ids(page) == [wanted.pk]
    body = page.content.decode()
    assert re.search(
        rf'<a class="view-link" href="{re.escape(response.url.replace("&", "&amp;"))}" aria-current="page">',
        body,
    )
    assert "WhatsApp waiting" in body


def test_saved_views_are_per_agent(client, alice):
    olga = UserFactory(username="olga", role="agent")
    theirs = SavedView.objects.create(
        owner=olga, name="Olga's urgent", filters={"view": "open"}, sort="priority"
    )
    client.force_login(alice)

    body = client.get(INBOX).content.decode()
    assert "urgent" not in body

    assert (
        client.post(f"/tickets/views/{theirs.pk}/rename/", {"name": "Mine now"}).status_code == 404
    )
    assert client.post(f"/tickets/views/{theirs.pk}/delete/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Olga's urgent"
    # Opening Olga's view by its URL highlights nothing of hers: it is just a filtered list.
    page = client.get(
        INBOX, {"view": "open", "sort": "priority", "saved": theirs.pk}
    ).content.decode()
    assert "urgent" not in page
    assert 'aria-current="page"' not in page.split("My views")[1].split("</ul>")[0]


def test_rename_and_delete(client, alice):
    saved = SavedView.objects.create(owner=alice, name="Spain", filters={"view": "open"})
    SavedView.objects.create(owner=alice, name="France", filters={"view": "open"})
    client.force_login(alice)

    client.post(f"/tickets/views/{saved.pk}/rename/", {"name": "Spain, open"})
    saved.refresh_from_db()
    assert saved.name == "Spain, open"

    refused = client.post(f"/tickets/views/{saved.pk}/rename/", {"name": "france"}, follow=True)
    saved.refresh_from_db()
    assert saved.name == "Spain, open"
    assert "You already have a view with this name." in messages_of(refused)

    client.post(f"/tickets/views/{saved.pk}/delete/")
    assert list(SavedView.objects.filter(owner=alice).values_list("name", flat=True)) == ["France"]


def test_a_name_is_required_and_unique_per_agent(client, alice):
    SavedView.objects.create(owner=alice, name="Mine", filters={})
    SavedView.objects.create(
        owner=UserFactory(username="olga", role="agent"), name="Open", filters={}
    )
    client.force_login(alice)

    client.post("/tickets/views/save/", {"name": "  ", "query": "view=open"})
    client.post("/tickets/views/save/", {"name": "MINE", "query": "view=open"})
    client.post("/tickets/views/save/", {"name": "Open", "query": "view=open"})

    assert sorted(SavedView.objects.filter(owner=alice).values_list("name", flat=True)) == [
        "Mine",
        "Open",
    ]


def test_a_saved_view_with_stale_values_still_opens(client, alice):
    ticket = TicketFactory()
    saved = SavedView.objects.create(
        owner=alice, name="Old", filters={"store": "999999", "channel": "telex"}, sort="bogus"
    )
    client.force_login(alice)

    sidebar = client.get(INBOX).content.decode()
    url = re.search(rf'href="([^"]*saved={saved.pk})"', sidebar).group(1).replace("&amp;", "&")
    response = client.get(url)

    assert response.status_code == 200
    assert ticket_ids(response) == []  # store 999999 has no tickets; the bad channel is dropped
    assert ticket.pk not in ticket_ids(response)
