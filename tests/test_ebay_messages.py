"""eBay member messages through the Trading API, against a local server on 127.0.0.1 answering
eBay's documented XML: polling with a cursor, storage once per MessageID, threading per item and
buyer, answers through AddMemberMessageRTQ, eBay's error XML, the 518 call limit and token renewal."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from defusedxml import ElementTree

from channels_ingest import outbound
from channels_ingest.actions import process_event
from channels_ingest.adapters.ebay import messages, trading
from channels_ingest.base import ChannelError, TransientError
from channels_ingest.models import InboundEvent
from tests.ebay_helpers import (
    NS,
    TOKEN_PATH,
    TRADING_PATH,
    TradingApi,
    ebay_account,
    error_xml,
    full_message,
    header,
    token_answer,
)
from tests.shop_helpers import ShopServer
from tickets import actions
from tickets.models import ChannelAccount, Message, Ticket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


@pytest.fixture
def api(server):
    trading_api = TradingApi({"81001": full_message("81001"), "81002": full_message("81002", sender="Buyer_Ben",
                                                                                    text="Can you ship to Austria?")})
    server.route("POST", TRADING_PATH, trading_api)
    server.route("POST", TOKEN_PATH, token_answer)
    return trading_api


@pytest.fixture
def account(server):
    return ebay_account(server.url)


def _process_all() -> None:
    for pk in InboundEvent.objects.filter(state=InboundEvent.State.PENDING).values_list("pk", flat=True):
        process_event(pk)


def test_poll_sends_the_trading_api_headers_and_stores_each_message_once(server, api, account):
    report = messages.poll_messages(account, now=NOW)
    assert (report.seen, report.stored, report.error) == (2, 2, "")
    first = server.requests[0]
    assert header(first, "X-EBAY-API-CALL-NAME") == "GetMyMessages"
    assert header(first, "X-EBAY-API-SITEID") == "77"
    assert header(first, "X-EBAY-API-COMPATIBILITY-LEVEL") == trading.COMPATIBILITY_LEVEL
    assert header(first, "X-EBAY-API-IAF-TOKEN") == "v^1.1#user-token"
    assert sorted(InboundEvent.objects.values_list("event_id", flat=True)) == ["message:81001", "message:81002"]
    assert api.fetched == ["81001", "81002"]


def test_messages_are_threaded_per_item_and_buyer(server, api, account):
    messages.poll_messages(account, now=NOW)
    _process_all()
    anna = Message.objects.get(external_id="81001")
    assert anna.ticket.external_thread_id == "ebay:110012345678:buyer_anna"
    assert anna.body_text == "Does the jacket come in size M?"
    assert anna.metadata["ebay"]["item_id"] == "110012345678"
    identity = anna.author_customer.identities.get()
    assert (identity.kind, identity.value) == ("ebay_user", "buyer_anna")
    assert Message.objects.get(external_id="81002").ticket.external_thread_id == "ebay:110012345678:buyer_ben"
    assert Ticket.objects.count() == 2


def test_cursor_moves_on_and_nothing_is_read_twice_or_skipped(server, api, account):
    messages.poll_messages(account, now=NOW)
    api.messages["81003"] = full_message("81003", text="And in blue?")
    later = NOW + timedelta(minutes=2)
    report = messages.poll_messages(account, now=later)
    assert (report.seen, report.stored) == (3, 1)
    assert api.fetched == ["81001", "81002", "81003"]  # bodies already stored are not asked for again
    first, second = api.windows
    assert first == ("2026-11-21T10:00:00.000Z", "2026-11-22T10:00:00.000Z")
    # The second window starts before the first one ended: no gap, whatever eBay's indexing delay.
    assert second == ("2026-11-22T09:55:00.000Z", "2026-11-22T10:02:00.000Z")
    account.refresh_from_db()
    assert account.settings[messages.CURSOR_SETTING] == later.isoformat()
    assert InboundEvent.objects.count() == 3


def test_failed_poll_keeps_the_cursor(server, api, account):
    messages.poll_messages(account, now=NOW)
    api.fail_with = error_xml("GetMyMessages", "10007", "Internal error to the application.",
                              "Internal error to the application.", classification="SystemError")
    with pytest.raises(trading.TradingError):
        messages.poll_messages(account, now=NOW + timedelta(minutes=2))
    account.refresh_from_db()
    assert account.settings[messages.CURSOR_SETTING] == NOW.isoformat()
    assert "10007" in account.last_error


def test_call_limit_518_backs_off_until_the_next_window_and_says_why(server, api, account):
    api.fail_with = error_xml("GetMyMessages", "518", "Call usage limit has been reached.",
                              "Your application has exceeded usage limit on this call, please make call to "
                              "Developer Analytics API to check your call usage.")
    report = messages.poll_messages(account, now=NOW)
    assert "518" in report.error
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ACTIVE
    assert "call limit reached (error 518)" in account.last_error
    resume = datetime.fromisoformat(account.settings[messages.BACKOFF_SETTING])
    assert resume > datetime.now(UTC)
    assert resume.astimezone(trading.PACIFIC).hour == 0  # eBay's day starts at midnight Pacific time
    calls = len(server.requests)
    api.fail_with = None
    skipped = messages.poll_messages(account, now=datetime.now(UTC))
    assert skipped.skipped_reason.startswith("call limit reached")
    assert len(server.requests) == calls  # no call made while backing off
    after = messages.poll_messages(account, now=resume + timedelta(seconds=1))
    assert after.stored == 2


def test_expired_token_error_is_refreshed_once(server, api, account):
    answers = [error_xml("GetMyMessages", "21917053", "Token has expired.", "The token has expired.")]
    server.route("POST", TRADING_PATH, lambda r: answers.pop(0) if answers else api(r))
    messages.poll_messages(account, now=NOW)
    token_calls = [r for r in server.requests if r.path == TOKEN_PATH]
    assert len(token_calls) == 1 and "grant_type=refresh_token" in token_calls[0].body.decode()
    assert header(server.requests[-1], "X-EBAY-API-IAF-TOKEN") == "v^1.1#refreshed-user-token"
    assert InboundEvent.objects.count() == 2


def test_token_still_refused_after_refresh_marks_the_credentials_expired(server, api, account):
    api.fail_with = error_xml("GetMyMessages", "932", "Auth token is hard expired.", "Auth token is hard expired.")
    report = messages.poll_messages(account, now=NOW)
    assert report.error
    account.refresh_from_db()
    assert account.status == ChannelAccount.Status.ERROR
    assert "credentials expired" in account.last_error and "Reconnect" in account.last_error


def test_per_account_rate_limiter_stops_calls_beyond_the_budget(account):
    minute = random.randrange(10**9) * 60.0  # a window no earlier run has counted in
    limiter = trading.RateLimiter(account.pk, calls_per_minute=2, clock=lambda: minute + 15)
    limiter.take()
    limiter.take()
    with pytest.raises(trading.RateLimited) as raised:
        limiter.take()
    assert raised.value.retry_after == 45
    next_minute = trading.RateLimiter(account.pk, calls_per_minute=2, clock=lambda: minute + 75)
    next_minute.take()  # a new window, a new budget


def test_malicious_xml_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<GetMyMessagesResponse>&lol2;</GetMyMessagesResponse>")
    with pytest.raises(trading.TradingError):
        trading.parse_xml(bomb)


# --- Replies: AddMemberMessageRTQ ----------------------------------------------------------------


def _queued_reply(account) -> Message:
    messages.poll_messages(account, now=NOW)
    _process_all()
    question = Message.objects.get(external_id="81001")
    return actions.add_message(ticket=question.ticket, direction=Message.Direction.OUTBOUND,
                               body_text="Yes, size M is in stock.", delivery_state=Message.DeliveryState.QUEUED)


def test_reply_is_sent_as_an_answer_to_the_question(server, api, account):
    reply = _queued_reply(account)
    outbound.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.SENT, reply.failure_reason
    sent = ElementTree.fromstring(api.replies[0])
    assert sent.tag == f"{{{NS}}}AddMemberMessageRTQRequest"
    field = lambda path: sent.find(path, {"e": NS}).text  # noqa: E731
    assert field("e:ItemID") == "110012345678"
    assert field("e:MemberMessage/e:ParentMessageID") == "810010"
    assert field("e:MemberMessage/e:RecipientID") == "buyer_anna"
    assert field("e:MemberMessage/e:Body") == "Yes, size M is in stock."
    assert header(server.requests[-1], "X-EBAY-API-CALL-NAME") == "AddMemberMessageRTQ"


def test_reply_refused_by_ebay_fails_with_ebays_reason(server, api, account):
    reply = _queued_reply(account)
    api.reply_answers.append(error_xml("AddMemberMessageRTQ", "20137", "Invalid parent message.",
                                       "The parent message ID is invalid."))
    outbound.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.FAILED
    assert reply.failure_reason == "20137 The parent message ID is invalid."


def test_reply_during_an_ebay_system_error_stays_queued_for_a_retry(server, api, account):
    reply = _queued_reply(account)
    api.reply_answers.append(error_xml("AddMemberMessageRTQ", "10007", "Internal error.", "Internal error.",
                                       classification="SystemError"))
    with pytest.raises(TransientError):
        outbound.send_message(reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_state == Message.DeliveryState.QUEUED
    assert "10007" in reply.metadata["last_send_error"]


def test_reply_on_a_call_limit_is_not_permanent(server, api, account):
    reply = _queued_reply(account)
    api.reply_answers.append(error_xml("AddMemberMessageRTQ", "518", "Call usage limit has been reached.", "Limit."))
    from channels_ingest.registry import get_adapter

    with pytest.raises(ChannelError) as raised:
        get_adapter("ebay").send_reply(Message.objects.get(pk=reply.pk))
    assert raised.value.permanent is False


def test_message_naming_an_order_number_is_linked_to_that_order(server, api, account):
    from channels_ingest.adapters.ebay.orders import normalize_order
    from tests.test_ebay_orders import ORDER
    from tickets.orders import upsert_order

    upsert_order(account=account, normalized=normalize_order(ORDER))
    api.messages = {"81009": full_message("81009", text="Where is my order 12-03456-78901?")}
    messages.poll_messages(account, now=NOW)
    _process_all()
    message = Message.objects.get(external_id="81009")
    assert message.metadata["order_reference"] == "12-03456-78901"
    assert list(message.ticket.orders.values_list("external_id", flat=True)) == ["12-03456-78901"]


def test_stored_message_that_is_not_xml_fails_with_its_reason(account):
    from channels_ingest.actions import record_event

    event, _ = record_event(provider="ebay", account=account, event_id="message:broken",
                            body=b"<Message><Sender>x</Sender>", headers={})
    process_event(event.pk)
    event.refresh_from_db()
    assert event.state == InboundEvent.State.FAILED
    assert "not acceptable XML" in event.error
    assert Message.objects.count() == 0


def test_poll_task_polls_active_accounts_only(server, api, account):
    from channels_ingest.adapters.ebay.tasks import poll_ebay_account_task

    assert poll_ebay_account_task(account.pk) == 2
    ChannelAccount.objects.filter(pk=account.pk).update(status=ChannelAccount.Status.PAUSED)
    api.messages["81003"] = full_message("81003")
    assert poll_ebay_account_task(account.pk) == 0
    assert InboundEvent.objects.count() == 2


def test_beat_polls_ebay_messages_and_orders():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"ingest.poll_ebay_messages", "ingest.sync_ebay_orders"} <= tasks
