"""The whole SMS road with a real Celery worker: a signed Twilio webhook is threaded by the ingest
worker, the agent's answer is sent by the outbound worker to a Twilio API on loopback, and the
status callback marks it delivered."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest

from channels_ingest.models import InboundEvent
from tests.factories import UserFactory
from tests.messaging_helpers import TWILIO_SID, post_twilio, twilio_account
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import corpus_bytes
from tests.workers import celery_worker_process  # noqa: F401  (fixture)
from tickets.actions import add_message
from tickets.models import Message

SID = "SMe287d7109a5a925f182f0e07fe5b223b"


def wait_for(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


@pytest.mark.django_db(transaction=True)
def test_sms_in_reply_out_and_delivered(client, celery_worker_process):  # noqa: F811
    celery_worker_process(queues=("ingest", "outbound"),
                          include=("channels_ingest.tasks", "channels_ingest.outbound_tasks"))
    with ShopServer() as api:
        api.route("POST", f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
                  [Answer(201, {"sid": "SMreply0001", "status": "queued"})])
        account = twilio_account(api_base_url=api.url)

        assert post_twilio(client, account, corpus_bytes("webhooks/twilio-sms/courier-inbound-sms.txt")).status_code == 200
        inbound = wait_for(lambda: Message.objects.filter(external_id=SID).first())
        assert inbound is not None, list(InboundEvent.objects.values("state", "error"))
        assert inbound.body_text == "Msg"

        agent = UserFactory(username="andrei", role="agent")
        reply = add_message(ticket=inbound.ticket, direction=Message.Direction.OUTBOUND, body_text="Ajunge mâine.",
                            author_user=agent)
        sent = wait_for(lambda: Message.objects.filter(pk=reply.pk, delivery_state="sent").first())
        assert sent is not None, Message.objects.get(pk=reply.pk).failure_reason
        assert sent.external_id == "SMreply0001"
        fields = parse_qs(api.requests[0].body.decode())
        assert (fields["To"], fields["Body"]) == (["+14133881111"], ["Ajunge mâine."])

        callback = b"MessageSid=SMreply0001&MessageStatus=delivered&To=%2B14133881111"
        assert post_twilio(client, account, callback).status_code == 200
        assert wait_for(lambda: Message.objects.filter(pk=reply.pk, delivery_state="delivered").exists())
