"""Merging two tickets, splitting a message into a new ticket, and linking tickets: the actions and
the ticket page's forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    MessageFactory,
    OrderFactory,
    StoreFactory,
    TagFactory,
    TicketFactory,
    agent_of,
)
from tickets import actions, ticket_actions
from tickets.models import Attachment, Message, Ticket, TicketEvent, TicketLink

pytestmark = pytest.mark.django_db


def body_of(client, ticket: Ticket) -> str:
    response = client.get(reverse("tickets:detail", args=[ticket.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- Merge --------------------------------------------------------------------------------------


@pytest.fixture
def two_tickets(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    store = StoreFactory()
    source = TicketFactory(store=store, subject="Second email about it")
    target = TicketFactory(store=store, customer=source.customer, subject="Broken mug")
    now = timezone.now()
    kept = MessageFactory(ticket=target, created_at=now - timedelta(hours=3))
    moved = MessageFactory(ticket=source, created_at=now - timedelta(hours=1), body_text="Photo attached")
    attachment = Attachment(message=moved, filename="photo.txt", content_type="text/plain", size=5)
    attachment.file.save("photo.txt", ContentFile(b"photo"), save=True)
    order = OrderFactory(store=store, customer=source.customer, number="#2001")
    source.orders.add(order)
    source.tags.add(TagFactory(name="damaged"))
    TicketEvent.objects.create(ticket=source, kind=TicketEvent.Kind.PRIORITY_CHANGED, data={"from": 2, "to": 3})
    return {"source": source, "target": target, "kept": kept, "moved": moved, "attachment": attachment,
            "order": order}


def test_merge_keeps_every_message_order_tag_and_event(alice, two_tickets):
    source, target = two_tickets["source"], two_tickets["target"]

    result = actions.merge_tickets(source=source, target=target, actor=alice)

    source.refresh_from_db()
    assert result.pk == target.pk
    assert set(Message.objects.filter(ticket=target).values_list("pk", flat=True)) == {
        two_tickets["kept"].pk, two_tickets["moved"].pk}
    assert Attachment.objects.get(pk=two_tickets["attachment"].pk).message.ticket_id == target.pk
    assert list(target.orders.values_list("number", flat=True)) == ["#2001"]
    assert list(target.tags.values_list("name", flat=True)) == ["damaged"]
    assert (source.status, source.merged_into_id) == (Ticket.Status.CLOSED, target.pk)
    # The source's own events stay where they were; each timeline records the merge.
    assert list(source.events.order_by("pk").values_list("kind", flat=True)) == [
        TicketEvent.Kind.PRIORITY_CHANGED, TicketEvent.Kind.MERGED]
    assert source.events.get(kind=TicketEvent.Kind.MERGED).data == {"merged_into": target.pk, "messages": 1}
    assert target.events.get(kind=TicketEvent.Kind.MERGED).data == {"merged_ticket": source.pk, "messages": 1}


def test_merged_tickets_events_show_on_the_targets_timeline(client, alice, two_tickets):
    source, target = two_tickets["source"], two_tickets["target"]
    actions.merge_tickets(source=source, target=target, actor=alice)
    client.force_login(alice)

    body = body_of(client, target)
    source_body = body_of(client, source)

    timeline = body[body.index('id="timeline-heading"'):]
    assert f"Ticket #{source.pk} merged into this one" in timeline
    assert "Priority changed from Normal to High" in timeline
    assert f"(on #{source.pk})" in timeline
    assert f'This ticket was merged into <a href="/tickets/{target.pk}/">#{target.pk}</a>.' in source_body


@pytest.mark.parametrize("case", ["itself", "already merged", "into a merged ticket"])
def test_merge_refusals_change_nothing(alice, two_tickets, case):
    source, target = two_tickets["source"], two_tickets["target"]
    third = TicketFactory(store=source.store, customer=source.customer)
    if case == "itself":
        pair, expected = (source, source), "A ticket cannot be merged into itself."
    elif case == "already merged":
        actions.merge_tickets(source=third, target=target)
        pair, expected = (third, source), f"Ticket #{third.pk} was already merged into #{target.pk}."
    else:
        actions.merge_tickets(source=third, target=target)
        pair = (source, third)
        expected = f"Ticket #{third.pk} was merged into #{target.pk}: merge into that one instead."
    before = sorted(Message.objects.values_list("pk", "ticket_id"))

    with pytest.raises(actions.MergeError) as refused:
        actions.merge_tickets(source=pair[0], target=pair[1], actor=alice)

    assert str(refused.value) == expected
    assert sorted(Message.objects.values_list("pk", "ticket_id")) == before
    source.refresh_from_db()
    assert source.merged_into_id is None


def test_merge_form_merges_this_ticket_into_another(client, alice, two_tickets):
    source, target = two_tickets["source"], two_tickets["target"]
    client.force_login(alice)

    response = client.post(reverse("tickets:merge", args=[source.pk]), {"direction": "into", "other": f"#{target.pk}"})

    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{target.pk}/"
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk
    assert f"Ticket #{source.pk} merged into #{target.pk}." in client.get(response["Location"]).content.decode()


def test_merge_form_merges_another_ticket_into_this_one(client, alice, two_tickets):
    source, target = two_tickets["source"], two_tickets["target"]
    client.force_login(alice)

    client.post(reverse("tickets:merge", args=[target.pk]), {"direction": "from", "other": str(source.pk)})

    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk


def test_merge_form_refuses_a_ticket_the_agent_cannot_see(client, two_tickets):
    source = two_tickets["source"]
    hidden = TicketFactory(store=StoreFactory())
    client.force_login(agent_of(source.store))

    response = client.post(reverse("tickets:merge", args=[source.pk]), {"direction": "into", "other": str(hidden.pk)},
                           follow=True)

    assert f"No ticket #{hidden.pk} that you can see." in response.content.decode()
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.MERGED).exists()


# --- Split --------------------------------------------------------------------------------------


def test_split_moves_the_message_into_a_new_ticket_and_records_both_timelines(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = TicketFactory(subject="Broken mug", priority=Ticket.Priority.HIGH)
    order = OrderFactory(store=ticket.store, customer=ticket.customer)
    ticket.orders.add(order)
    now = timezone.now()
    first = MessageFactory(ticket=ticket, created_at=now - timedelta(hours=2))
    second = MessageFactory(ticket=ticket, created_at=now - timedelta(hours=1), body_text="Also, change my address")
    attachment = Attachment(message=second, filename="a.txt", content_type="text/plain", size=1)
    attachment.file.save("a.txt", ContentFile(b"a"), save=True)
    ticket.last_customer_message_at = second.created_at
    ticket.save()

    new = ticket_actions.split_message(message=second, actor=alice, subject="Address change")

    ticket.refresh_from_db()
    assert list(Message.objects.filter(ticket=ticket).values_list("pk", flat=True)) == [first.pk]
    assert list(Message.objects.filter(ticket=new).values_list("pk", flat=True)) == [second.pk]
    assert Attachment.objects.get(pk=attachment.pk).message.ticket_id == new.pk
    assert (new.customer_id, new.store_id, new.channel, new.subject, new.priority) == (
        ticket.customer_id, ticket.store_id, ticket.channel, "Address change", Ticket.Priority.HIGH)
    assert list(new.orders.all()) == [order]
    assert ticket.last_customer_message_at == first.created_at
    assert new.last_customer_message_at == second.created_at
    assert ticket.events.get(kind=TicketEvent.Kind.SPLIT).data == {"message_id": second.pk, "to_ticket": new.pk}
    assert new.events.get(kind=TicketEvent.Kind.SPLIT).data == {"message_id": second.pk, "from_ticket": ticket.pk}
    assert TicketLink.objects.filter(from_ticket=new, to_ticket=ticket, kind="related").exists()


def test_a_tickets_only_message_cannot_be_split_off(alice):
    message = MessageFactory()

    with pytest.raises(ticket_actions.TicketActionError, match="A ticket's only message cannot be split off."):
        ticket_actions.split_message(message=message, actor=alice)

    assert Ticket.objects.count() == 1
    assert not TicketEvent.objects.exists()


def test_split_button_opens_the_new_ticket(client, alice):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    second = MessageFactory(ticket=ticket)
    client.force_login(alice)

    page = body_of(client, ticket)
    response = client.post(reverse("tickets:split", args=[ticket.pk, second.pk]))

    assert f'action="/tickets/{ticket.pk}/messages/{second.pk}/split/"' in page
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response["Location"] == f"/tickets/{new.pk}/"
    body = client.get(response["Location"]).content.decode()
    assert f"The message is now ticket #{new.pk}." in body
    assert f"Split off from #{ticket.pk}" in body


def test_split_of_another_tickets_message_is_404(client, alice):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    elsewhere = MessageFactory()
    client.force_login(alice)

    assert client.post(reverse("tickets:split", args=[ticket.pk, elsewhere.pk])).status_code == 404


# --- Links --------------------------------------------------------------------------------------


def test_link_shows_on_both_tickets_and_both_timelines(client, alice):
    original = TicketFactory(subject="Mug broken")
    duplicate = TicketFactory(subject="Mug broken (again)")
    client.force_login(alice)

    response = client.post(reverse("tickets:link_ticket", args=[duplicate.pk]),
                           {"kind": "duplicate", "other": str(original.pk)})

    assert response.status_code == 302
    link = TicketLink.objects.get()
    assert (link.from_ticket, link.to_ticket, link.kind, link.created_by) == (duplicate, original, "duplicate", alice)
    duplicate_page, original_page = body_of(client, duplicate), body_of(client, original)
    assert "Duplicate of" in duplicate_page and f'href="/tickets/{original.pk}/">#{original.pk} Mug broken</a>' in duplicate_page
    assert "Has a duplicate" in original_page and f"#{duplicate.pk} Mug broken (again)</a>" in original_page
    assert duplicate.events.get(kind=TicketEvent.Kind.LINKED).data == {
        "link_id": link.pk, "kind": "duplicate", "to_ticket": original.pk}
    assert original.events.get(kind=TicketEvent.Kind.LINKED).data == {
        "link_id": link.pk, "kind": "duplicate", "from_ticket": duplicate.pk}


def test_tickets_are_linked_once_whichever_way_round(alice):
    a, b = TicketFactory(), TicketFactory()
    ticket_actions.link_tickets(ticket=a, other=b, actor=alice)

    with pytest.raises(ticket_actions.TicketActionError, match="are linked already"):
        ticket_actions.link_tickets(ticket=b, other=a, kind="duplicate", actor=alice)
    with pytest.raises(ticket_actions.TicketActionError, match="cannot be linked to itself"):
        ticket_actions.link_tickets(ticket=a, other=a, actor=alice)
    with pytest.raises(ticket_actions.TicketActionError, match="Unknown kind of link"):
        ticket_actions.link_tickets(ticket=a, other=TicketFactory(), kind="parent", actor=alice)

    assert TicketLink.objects.count() == 1


def test_removing_a_link_records_it_on_both_timelines(client, alice):
    a, b = TicketFactory(), TicketFactory()
    link = ticket_actions.link_tickets(ticket=a, other=b, actor=alice)
    client.force_login(alice)

    response = client.post(reverse("tickets:unlink_ticket", args=[b.pk, link.pk]))

    assert response.status_code == 302
    assert not TicketLink.objects.exists()
    assert a.events.filter(kind=TicketEvent.Kind.UNLINKED).count() == 1
    assert b.events.filter(kind=TicketEvent.Kind.UNLINKED).count() == 1
    assert "No linked tickets." in body_of(client, a)


def test_links_to_tickets_the_agent_cannot_see_are_not_shown(client):
    store = StoreFactory()
    mine = TicketFactory(store=store)
    hidden = TicketFactory(store=StoreFactory(), subject="Other store's secret")
    ticket_actions.link_tickets(ticket=mine, other=hidden)
    client.force_login(agent_of(store))

    body = body_of(client, mine)

    assert "Other store" not in body
    assert "No linked tickets." in body


# --- API ----------------------------------------------------------------------------------------


def test_api_merges_splits_and_links(client, alice):
    source, target = TicketFactory(), TicketFactory()
    MessageFactory(ticket=source)
    keep = MessageFactory(ticket=target)
    off = MessageFactory(ticket=target)
    client.force_login(alice)

    merged = client.post(f"/api/v1/tickets/{source.pk}/merge/", {"target": target.pk}, content_type="application/json")
    again = client.post(f"/api/v1/tickets/{source.pk}/merge/", {"target": target.pk}, content_type="application/json")
    split = client.post(f"/api/v1/tickets/{target.pk}/split/", {"message": off.pk, "subject": "Other matter"},
                        content_type="application/json")
    new_id = split.json()["ticket"]
    listed = client.get(f"/api/v1/tickets/{new_id}/links/").json()
    other = TicketFactory()
    linked = client.post(f"/api/v1/tickets/{target.pk}/links/", {"ticket": other.pk, "kind": "duplicate"},
                         content_type="application/json")
    removed = client.delete(f"/api/v1/tickets/{other.pk}/links/{linked.json()['id']}/")

    assert (merged.status_code, merged.json()) == (200, {"source": source.pk, "target": target.pk})
    assert again.status_code == 409
    assert again.json() == {"detail": f"Ticket #{source.pk} was already merged into #{target.pk}."}
    assert split.status_code == 201
    assert Message.objects.get(pk=off.pk).ticket_id == new_id
    assert Message.objects.get(pk=keep.pk).ticket_id == target.pk
    assert [(row["from_ticket"], row["to_ticket"], row["kind"]) for row in listed] == [(new_id, target.pk, "related")]
    assert (linked.status_code, linked.json()["kind"], linked.json()["from_ticket"]) == (201, "duplicate", target.pk)
    assert removed.status_code == 204
    assert not TicketLink.objects.filter(kind="duplicate").exists()


def test_api_never_reaches_a_ticket_the_agent_cannot_see(client):
    store = StoreFactory()
    mine = TicketFactory(store=store)
    MessageFactory(ticket=mine)
    hidden = TicketFactory(store=StoreFactory())
    client.force_login(agent_of(store))

    merge = client.post(f"/api/v1/tickets/{mine.pk}/merge/", {"target": hidden.pk}, content_type="application/json")
    merge_hidden = client.post(f"/api/v1/tickets/{hidden.pk}/merge/", {"target": mine.pk},
                               content_type="application/json")
    link = client.post(f"/api/v1/tickets/{mine.pk}/links/", {"ticket": hidden.pk}, content_type="application/json")

    assert (merge.status_code, merge_hidden.status_code, link.status_code) == (404, 404, 404)
    assert Ticket.objects.filter(merged_into__isnull=False).count() == 0
    assert not TicketLink.objects.exists()
