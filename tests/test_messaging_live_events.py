"""A delivery receipt is announced to the ticket's open pages once it is committed."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import connection, transaction

from channels_ingest.base import DeliveryStatus
from tests.messaging_helpers import conversation, meta_account
from tickets.delivery import record_delivery_status
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_delivery_receipt_is_published_to_the_ticket_group():
    account = meta_account("whatsapp", external_id="1122334455667")
    ticket, reply = conversation(account, thread="972987654321")
    Message.objects.filter(pk=reply.pk).update(external_id="wamid.live", delivery_state="sent")
    layer = get_channel_layer()

    async def listen() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(f"ticket-{ticket.pk}", channel)
        loop = asyncio.get_running_loop()

        def record() -> None:
            try:
                with transaction.atomic():
                    record_delivery_status(account=account,
                                           status=DeliveryStatus(state="read", external_id="wamid.live"))
            finally:
                connection.close()  # this thread's own connection

        await loop.run_in_executor(None, record)
        received = []
        try:
            while True:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=3))
        except TimeoutError:
            pass
        await layer.group_discard(f"ticket-{ticket.pk}", channel)
        return received

    received = asyncio.run(listen())
    delivery = [event for event in received if event["type"] == "message.delivery"]
    assert delivery == [{"type": "message.delivery", "ticket_id": ticket.pk, "message_id": reply.pk, "state": "read"}]
