"""WhatsApp Cloud API (/hooks/whatsapp/<account>/): handshake, signature, every WhatsApp sample of
the shared corpus (messages, media fetched through a Graph server on loopback, statuses onto our
replies), the customer as one person across SMS and WhatsApp, and business-scoped user ids."""

from __future__ import annotations

import hashlib

import pytest

from channels_ingest.models import InboundEvent
from tests.factories import CustomerFactory
from tests.messaging_helpers import VERIFY_TOKEN, WA_TOKEN, conversation, meta_account, post_meta
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import corpus_bytes, fixture_bytes, process_stored_event
from tickets.models import ChannelIdentity, Customer, Message

pytestmark = pytest.mark.django_db

CORPUS = "webhooks/whatsapp-cloud/"
PHONE_NUMBER_ID = "1122334455667"
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 50
PDF = b"%PDF-1.4 invoice"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def graph():
    with ShopServer() as server:
        for media_id, content, mime in (("65463453", JPEG, "image/jpeg"),
                                         ("1234567890987654321", PDF, "application/pdf")):
            server.route("GET", f"/v21.0/{media_id}", [Answer(200, {
                "messaging_product": "whatsapp", "url": f"{server.url}/whatsapp_business/attachments/{media_id}",
                "mime_type": mime, "sha256": hashlib.sha256(content).hexdigest(), "file_size": len(content),
                "id": media_id})])
            server.route("GET", f"/whatsapp_business/attachments/{media_id}",
                         [Answer(200, content, {"Content-Type": mime})])
        yield server


@pytest.fixture
def account(graph):
    return meta_account("whatsapp", external_id=PHONE_NUMBER_ID, graph_base_url=graph.url)


def deliver(client, account, name: str):
    return process_stored_event(post_meta(client, "whatsapp", account, corpus_bytes(CORPUS + name)))


def test_handshake_and_signature(client, account):
    ok = client.get(f"/hooks/whatsapp/{account.public_id}/",
                    {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "wa-1"})
    assert (ok.status_code, ok.content) == (200, b"wa-1")
    assert client.get(f"/hooks/whatsapp/{account.public_id}/",
                      {"hub.mode": "subscribe", "hub.verify_token": "no", "hub.challenge": "wa-1"}).status_code == 403
    body = corpus_bytes(CORPUS + "message-text.json")
    assert post_meta(client, "whatsapp", account, body, None).status_code == 401
    assert post_meta(client, "whatsapp", account, body, "sha256=deadbeef").status_code == 401
    assert InboundEvent.objects.count() == 0


def test_replay_is_stored_once(client, account):
    body = corpus_bytes(CORPUS + "message-text.json")
    first = post_meta(client, "whatsapp", account, body)
    assert post_meta(client, "whatsapp", account, body).json()["status"] == "duplicate"
    assert InboundEvent.objects.get().event_id == "msg:wamid.xyzxyz"
    process_stored_event(first)
    assert Message.objects.count() == 1


def test_text_message_and_the_customers_phone_number(client, account):
    event, [message] = deliver(client, account, "message-text.json")
    assert message.body_text == "Body Text"
    assert message.ticket.external_thread_id == "972987654321"
    customer = message.ticket.customer
    assert (customer.name, customer.phone) == ("Test Name", "+972987654321")
    kinds = set(ChannelIdentity.objects.filter(customer=customer).values_list("kind", "value", "account"))
    assert kinds == {("whatsapp", "972987654321", None), ("phone", "+972987654321", None)}


def test_customer_known_from_sms_is_the_same_person(client, account):
    known = CustomerFactory(name="Dana", phone="+972987654321")
    ChannelIdentity.objects.create(customer=known, kind="phone", value="+972987654321")
    event, [message] = deliver(client, account, "message-text.json")
    assert message.ticket.customer_id == known.pk
    assert Customer.objects.count() == 1


def test_message_from_a_business_scoped_user_id(client, account):
    event, [message] = deliver(client, account, "courier-hello-from-bsuid.json")
    assert message.body_text == "Hello World"
    assert message.ticket.external_thread_id == "US.1234"
    assert message.metadata["bsuid"] == "US.1234"
    identity = ChannelIdentity.objects.get(customer=message.ticket.customer)
    assert (identity.kind, identity.value, identity.account_id) == ("whatsapp", "US.1234", account.pk)
    assert message.ticket.customer.name == "Kerry Fisher"


@pytest.mark.parametrize("sample, text, metadata", [
    ("message-forwarded.json", "forwarded text", {"forwarded": True}),
    ("message-current-location.json", "[location] 12.25089, 43.90539", {"forwarded": True}),
    ("courier-button-reply.json", "Yes", {"interactive": {"type": "button_reply", "id": "id_button_reply"}}),
    ("courier-group-message.json", "Hello World, group message", {"group_id": "555555555"}),
    ("message-referral.json", "BODY", {"referral": {"source_url": "AD_OR_POST_FB_URL", "source_id": "ADID",
                                                     "source_type": "ad or post", "headline": "AD_TITLE",
                                                     "body": "AD_DESCRIPTION", "media_type": "image or video",
                                                     "image_url": "RAW_IMAGE_URL", "video_url": "RAW_VIDEO_URL",
                                                     "thumbnail_url": "RAW_THUMBNAIL_URL", "ctwa_clid": "CTWA_CLID"}}),
    ("message-unsupported.json", "[unsupported message: Message type unknown: Message type is currently not supported. (131051)]",
     {"unsupported": {"type": "unsupported", "code": "131051",
                      "error": "Message type unknown: Message type is currently not supported. (131051)"}}),
])
def test_message_kinds(client, account, sample, text, metadata):
    event, [message] = deliver(client, account, sample)
    assert message.body_text == text
    for key, value in metadata.items():
        assert message.metadata[key] == value


def test_order_message_lists_the_items(client, account):
    event, [message] = deliver(client, account, "message-order.json")
    assert message.body_text.splitlines() == [
        "[order] catalog 354160437058781", "3 x HAMBURGER @ 30 ILS", "2 x FRENCH_FRIES @ 35 ILS", "2 x SODA @ 10 ILS"]
    assert message.metadata["order"]["catalog_id"] == "354160437058781"


def test_reply_context_joins_the_answered_messages_ticket(client, account):
    ticket, reply = conversation(account, thread="someone-else")
    Message.objects.filter(pk=reply.pk).update(external_id="wamid.xyzxyz==")
    event, [message] = deliver(client, account, "message-reply.json")
    assert message.ticket_id == ticket.pk
    assert message.metadata["references"] == ["wamid.xyzxyz=="]


def test_image_is_fetched_through_the_graph_api_with_the_token(client, account, graph):
    event, [message] = deliver(client, account, "message-image.json")
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type, attachment.size) == ("image-65463453.jpg", "image/jpeg", len(JPEG))
    assert attachment.file.read() == JPEG
    assert [r.path for r in graph.requests] == ["/v21.0/65463453", "/whatsapp_business/attachments/65463453"]
    assert all(r.headers["Authorization"] == f"Bearer {WA_TOKEN}" for r in graph.requests)


def test_document_keeps_its_name_and_caption(client, account):
    event, [message] = deliver(client, account, "message-document.json")
    assert message.body_text == "caption"
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type) == ("filename.pdf", "application/pdf")


def test_voice_note_is_stored_as_audio(client, account):
    event, [message] = deliver(client, account, "message-voice.json")
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type) == ("audio-1234567890987654321.ogg", "audio/ogg")
    assert message.metadata["voice"] is True


def test_expired_media_keeps_the_message_and_says_what_is_missing(client, account, graph):
    graph.route("GET", "/v21.0/65463453", [Answer(404, {"error": {
        "message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}})])
    event, [message] = deliver(client, account, "message-image.json")
    assert message.attachments.count() == 0
    assert "Unsupported get request. (code 100)" in message.metadata["media_errors"][0]["error"]


def test_media_server_outage_is_retried_not_lost(client, account, graph):
    graph.route("GET", "/v21.0/65463453", [Answer(503, b"busy")])
    response = post_meta(client, "whatsapp", account, corpus_bytes(CORPUS + "message-image.json"))
    from channels_ingest.actions import process_event
    from channels_ingest.base import TransientError

    with pytest.raises(TransientError):
        process_event(response.json()["event"])
    event = InboundEvent.objects.get()
    assert event.state == InboundEvent.State.PENDING
    assert Message.objects.count() == 0


def test_reaction_is_recorded_on_our_message(client, account):
    ticket, reply = conversation(account, thread="972987654321")
    Message.objects.filter(pk=reply.pk).update(external_id="wamid.yzxyzx=")
    event, messages = deliver(client, account, "message-reaction.json")
    reply.refresh_from_db()
    assert reply.metadata["reactions"][0]["emoji"] == "\U0001f62e"
    assert messages == [] and Message.objects.filter(ticket=ticket).count() == 2


# --- statuses onto our replies -------------------------------------------------------------------


def our_reply(account, external_id="wamid.xyzxyz", state="sent"):
    ticket, reply = conversation(account, thread="972987654321")
    Message.objects.filter(pk=reply.pk).update(external_id=external_id, delivery_state=state)
    return reply


def test_statuses_move_the_reply_forward(client, account):
    reply = our_reply(account, state="queued")
    for sample, state in (("status-sent.json", "sent"), ("status-delivered.json", "delivered"),
                          ("status-read.json", "read")):
        event, _ = deliver(client, account, sample)
        reply.refresh_from_db()
        assert reply.delivery_state == state
        assert event.state == InboundEvent.State.PROCESSED
    assert set(reply.metadata["delivery"]) == {"sent", "delivered", "read"}


def test_late_statuses_never_move_the_reply_back(client, account):
    reply = our_reply(account, state="read")
    for sample in ("status-delivered.json", "status-sent.json", "status-failed.json"):
        deliver(client, account, sample)
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.failure_reason) == ("read", "")


def test_failed_status_shows_metas_error(client, account):
    reply = our_reply(account)
    deliver(client, account, "status-failed.json")
    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert reply.failure_reason == ("User's number is part of an experiment: Failed to send message because this "
                                    "user's phone number is part of an experiment (130472)")
    assert reply.metadata["delivery_error_code"] == "130472"


def test_second_failed_sample(client, account):
    reply = our_reply(account, external_id="external_id")
    deliver(client, account, "courier-error-status.json")
    reply.refresh_from_db()
    assert reply.failure_reason == "Request for url https://URL.jpg failed with error: 404 (Not Found) (131014)"


def test_delivered_after_failed_proves_the_message_arrived(client, account):
    reply = our_reply(account)
    deliver(client, account, "status-failed.json")
    deliver(client, account, "status-delivered.json")
    reply.refresh_from_db()
    assert (reply.delivery_state, reply.failure_reason) == ("delivered", "")


def test_status_of_a_message_we_did_not_send_is_ignored(client, account):
    event, _ = deliver(client, account, "status-delivered.json")
    assert event.state == InboundEvent.State.IGNORED
    assert event.result["reason"] == "delivered receipt for a message not sent from the helpdesk"
    assert Message.objects.count() == 0


def test_each_status_of_one_message_is_its_own_event(client, account):
    for sample in ("status-sent.json", "status-delivered.json", "status-read.json"):
        assert post_meta(client, "whatsapp", account, corpus_bytes(CORPUS + sample)).json()["status"] == "accepted"
    assert sorted(InboundEvent.objects.values_list("event_id", flat=True)) == [
        "status:wamid.xyzxyz:delivered", "status:wamid.xyzxyz:read", "status:wamid.xyzxyz:sent"]


# --- documented kinds without a corpus sample (fixtures built on the corpus envelope) ------------


def deliver_fixture(client, account, name: str):
    return process_stored_event(post_meta(client, "whatsapp", account, fixture_bytes("whatsapp", name)))


def test_shared_contact_card(client, account):
    event, [message] = deliver_fixture(client, account, "message_contacts.json")
    assert message.body_text == "[contact] Ana Pop +40 721 000 111"
    assert message.metadata["contacts"][0]["phones"][0]["wa_id"] == "40721000111"


def test_list_reply(client, account):
    event, [message] = deliver_fixture(client, account, "message_list_reply.json")
    assert message.body_text == "Return an item"
    assert message.metadata["interactive"] == {"type": "list_reply", "id": "return_item"}


@pytest.mark.parametrize("name, media_id, content, mime, filename, caption", [
    ("message_video.json", "7788990011", b"\x00\x00\x00\x18ftypmp42", "video/mp4", "video-7788990011.mp4", "broken on arrival"),
    ("message_sticker.json", "5566778899", b"RIFF....WEBPVP8 ", "image/webp", "sticker-5566778899.webp", ""),
])
def test_video_and_sticker_are_fetched(client, account, graph, name, media_id, content, mime, filename, caption):
    graph.route("GET", f"/v21.0/{media_id}", [Answer(200, {"url": f"{graph.url}/media/{media_id}", "mime_type": mime,
                                                           "id": media_id, "messaging_product": "whatsapp"})])
    graph.route("GET", f"/media/{media_id}", [Answer(200, content, {"Content-Type": mime})])
    event, [message] = deliver_fixture(client, account, name)
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type, attachment.file.read()) == (filename, mime, content)
    assert message.body_text == caption
