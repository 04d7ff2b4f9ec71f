"""Pausing a channel account really stops it: webhooks are still checked and stored but wait,
replies stay queued with the reason on the ticket, nothing is polled, reconciled or synced; resuming
processes what waited and sends the held replies. Each action is recorded with who did it."""

from __future__ import annotations

import json

import pytest

from channels_ingest import outbound, shop_sync
from channels_ingest.accounts import actions
from channels_ingest.actions import (
    drain_waiting_events,
    process_event,
    process_events,
    requeue_pending_events,
)
from channels_ingest.adapters.amazon_sp import sqs
from channels_ingest.adapters.ebay import messages as ebay_messages
from channels_ingest.adapters.ebay.tasks import (
    poll_ebay_account_task,
    sync_ebay_account_orders_task,
)
from channels_ingest.adapters.generic.adapter import sign as generic_sign
from channels_ingest.adapters.imap.tasks import mailboxes_to_poll, poll_mailbox_task
from channels_ingest.models import InboundEvent
from channels_ingest.shop_tasks import backfill_order_task, reconcile_shop_task
from tests.ebay_helpers import ebay_account
from tests.factories import ChannelAccountFactory, StoreFactory
from tests.messaging_helpers import TWILIO_SID, conversation, twilio_account
from tests.shop_helpers import Answer, ShopServer, shopify_account
from tests.webhook_helpers import post_webhook
from tickets.models import Channel, ChannelAccount, ChannelAccountEvent, Message

pytestmark = pytest.mark.django_db

SECRET = "generic-signing-secret-5521"
SEND_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


def generic_account() -> ChannelAccount:
    account = ChannelAccountFactory(store=StoreFactory(), provider="generic", channel=Channel.MARKETPLACE)
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def post_generic(client, account, n: int, signature: str | None = None):
    body = json.dumps({"id": f"evt-{n}", "type": "message.created", "message": {
        "id": f"msg-{n}", "thread_id": "conv-1", "customer": {"id": "buyer-77"}, "text": f"Message {n}"}}).encode()
    return post_webhook(client, "generic", account, body, "application/json",
                        {"X-Helpdesk-Signature": signature or generic_sign(SECRET, body)})


def test_webhooks_to_a_paused_account_are_verified_and_stored_but_wait_for_the_resume(
        client, charlie, django_capture_on_commit_callbacks):
    account = generic_account()
    actions.pause_account(account=account, actor=charlie)

    assert post_generic(client, account, 1, signature="sha256=" + "0" * 64).status_code == 401
    assert post_generic(client, account, 1).status_code == 200
    assert post_generic(client, account, 2).status_code == 200
    first, second = InboundEvent.objects.order_by("pk")

    assert process_event(first.pk) == "held"
    assert process_events(second.pk, batch_size=50) == "held"
    assert drain_waiting_events(batch_size=50) == 0
    assert requeue_pending_events(older_than=__import__("datetime").timedelta(0)) == 0
    assert set(InboundEvent.objects.values_list("state", "attempts")) == {("pending", 0)}
    assert not Message.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks:
        resumed = actions.resume_account(account=account, actor=charlie)

    assert resumed == actions.Resumed(events=2, replies=0)
    assert len(callbacks) == 1  # queues both events after the commit
    account.refresh_from_db()
    assert (account.status, account.paused_at) == ("active", None)
    # What the workers then do:
    assert process_event(first.pk) == "processed" and process_event(second.pk) == "processed"
    assert list(Message.objects.order_by("pk").values_list("body_text", flat=True)) == ["Message 1", "Message 2"]
    assert list(ChannelAccountEvent.objects.filter(account=account).values_list("kind", "actor", "data")) == [
        ("paused", charlie.pk, {"previous_status": "active"}),
        ("resumed", charlie.pk, {"waiting_events": 2, "held_replies": 0}),
    ]


def test_a_reply_on_a_paused_account_stays_queued_with_the_reason_and_goes_out_on_resume(
        server, charlie, django_capture_on_commit_callbacks):
    server.route("POST", SEND_PATH, [Answer(201, {"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued"})])
    account = twilio_account(api_base_url=server.url)
    ticket, reply = conversation(account, thread="+14133881111")
    actions.pause_account(account=account, actor=charlie)

    outbound.send_message(reply.pk)

    reply.refresh_from_db()
    assert (reply.delivery_state, reply.metadata["held"]) == ("queued", "account_paused")
    assert server.requests == []
    assert outbound.requeue_stuck_outbound(older_than_seconds=0) == 0

    with django_capture_on_commit_callbacks() as callbacks:
        resumed = actions.resume_account(account=account, actor=charlie)
    assert resumed == actions.Resumed(events=0, replies=1)
    assert len(callbacks) == 1
    reply.refresh_from_db()
    assert "held" not in reply.metadata

    outbound.send_message(reply.pk)  # what the outbound worker then does

    reply.refresh_from_db()
    assert (reply.delivery_state, reply.external_id) == ("sent", "SM1f0e8ae6ade43cb3c0ce4525424e404f")
    assert len(server.requests) == 1


def test_the_ticket_page_shows_why_a_reply_waits(client, charlie, server):
    account = twilio_account(api_base_url=server.url)
    ticket, reply = conversation(account, thread="+14133881111")
    actions.pause_account(account=account, actor=charlie)
    outbound.send_message(reply.pk)
    client.force_login(charlie)

    page = client.get(f"/tickets/{ticket.pk}/").content.decode()

    assert "Not sent yet: the channel account is paused." in page


def test_a_paused_account_is_not_polled_reconciled_or_synced(server, charlie):
    shop = shopify_account(api_base_url=server.url)
    ebay = ebay_account(server.url)
    mailbox = ChannelAccountFactory(provider="imap", settings={"imap_host": "127.0.0.1", "imap_port": 1})
    amazon = ChannelAccountFactory(provider="amazon", channel="amazon", settings={"sqs_queue_url": "http://127.0.0.1:1/q"})
    for account in (shop, ebay, mailbox, amazon):
        actions.pause_account(account=account, actor=charlie)

    assert mailboxes_to_poll() == []
    assert poll_mailbox_task(mailbox.pk)["skipped"] == "no such active IMAP account"
    assert list(shop_sync.accounts_to_reconcile()) == []
    assert reconcile_shop_task(shop.pk) == 0
    assert backfill_order_task(shop.pk, "450789469") is False
    assert list(ebay_messages.accounts_to_poll()) == []
    assert poll_ebay_account_task(ebay.pk) == 0
    assert sync_ebay_account_orders_task(ebay.pk) == 0
    assert list(sqs.accounts_to_poll()) == []
    assert server.requests == []  # nothing asked the shop or eBay

    actions.resume_account(account=mailbox, actor=charlie)
    assert mailboxes_to_poll() == [mailbox.pk]


def test_order_actions_on_a_paused_shop_are_refused_with_the_reason(server, charlie):
    from tests.factories import OrderFactory, TicketFactory
    from tickets.order_actions import OrderActionNotAllowed, add_order_note

    shop = shopify_account(api_base_url=server.url)
    order = OrderFactory(store=shop.store, channel_account=shop, marketplace="shopify")
    ticket = TicketFactory(store=shop.store, customer=order.customer)
    ticket.orders.add(order)
    actions.pause_account(account=shop, actor=charlie)

    with pytest.raises(OrderActionNotAllowed, match="paused"):
        add_order_note(ticket=ticket, order=order, note="Called the customer", actor=charlie)
    assert server.requests == []


def test_the_page_pauses_and_resumes_and_shows_the_state(client, charlie):
    account = generic_account()
    client.force_login(charlie)

    client.post(f"/channels/{account.pk}/pause/")
    account.refresh_from_db()
    assert account.status == "paused" and account.paused_at is not None
    page = client.get(f"/channels/{account.pk}/").content.decode()
    assert 'data-action="resume"' in page and 'data-action="pause"' not in page
    assert f'data-account-id="{account.pk}" data-health="paused"' in client.get("/channels/").content.decode()

    client.post(f"/channels/{account.pk}/resume/")
    account.refresh_from_db()
    assert account.status == "active"
    assert list(ChannelAccountEvent.objects.values_list("kind", flat=True)) == ["paused", "resumed"]
