"""The Channels page's connection test: one documented read call per provider, through the
provider's own client, against a local server on loopback answering as the provider does; a
401 (or OAuth's invalid_grant) marks the account's credentials expired, a later success clears it."""

from __future__ import annotations

import pytest

from channels_ingest.accounts.connection import check_connection
from tests.amazon_sp_helpers import TOKEN_PATH as LWA_TOKEN_PATH
from tests.amazon_sp_helpers import TokenEndpoint, amazon_account
from tests.ebay_helpers import TOKEN_PATH as EBAY_TOKEN_PATH
from tests.ebay_helpers import ebay_account, header, token_answer
from tests.factories import ChannelAccountFactory
from tests.messaging_helpers import TWILIO_SID, meta_account, twilio_account
from tests.shop_helpers import Answer, ShopServer, shopify_account, woo_account
from tests.test_email_send import smtp_server  # noqa: F401 - the loopback SMTP server fixture
from tickets.models import ChannelAccount, ChannelAccountEvent

pytestmark = pytest.mark.django_db

pytest_plugins = ["tests.imap_server"]


@pytest.fixture
def server():
    with ShopServer() as running:
        yield running


def expired(account: ChannelAccount) -> tuple[str, bool]:
    account.refresh_from_db()
    return account.status, account.credentials_expired_at is not None


def test_shopify_reads_shop_json_and_a_401_marks_the_credentials_expired(server):
    path = "/admin/api/2025-01/shop.json"
    server.route("GET", path, [Answer(200, {"shop": {"id": 548380009, "name": "John's Apparel",
                                                     "myshopify_domain": "johns-apparel.myshopify.com"}})])
    account = shopify_account(api_base_url=server.url)

    result = check_connection(account)

    assert result.ok and result.message == "Shopify answered for the shop John's Apparel (johns-apparel.myshopify.com)."
    assert server.requests[0].headers["X-Shopify-Access-Token"] == "shpat_test"
    assert expired(account) == ("active", False)

    server.route("GET", path, [Answer(401, {"errors": "[API] Invalid API key or access token (unrecognized login "
                                                     "or wrong password)"})])
    result = check_connection(account)

    assert not result.ok and "Invalid API key or access token" in result.message
    assert expired(account) == ("error", True)
    assert "Invalid API key" in account.last_error and "shpat_test" not in account.last_error


def test_a_success_after_new_credentials_clears_the_expired_mark(server):
    path = "/admin/api/2025-01/shop.json"
    server.route("GET", path, [Answer(401, {"errors": "Invalid API key or access token"}),
                               Answer(200, {"shop": {"name": "John's Apparel"}})])
    account = shopify_account(api_base_url=server.url)
    assert not check_connection(account).ok
    assert expired(account) == ("error", True)

    assert check_connection(account).ok

    assert expired(account) == ("active", False)
    assert account.last_error == ""


def test_woocommerce_lists_one_order_with_basic_auth_and_a_401_expires(server):
    server.route("GET", "/wp-json/wc/v3/orders", [Answer(200, [], {"X-WP-Total": "42", "X-WP-TotalPages": "42"})])
    account = woo_account(site_url=server.url)

    result = check_connection(account)

    assert result.ok and "42 order(s)" in result.message
    assert server.requests[0].query == {"per_page": ["1"]}
    assert server.requests[0].headers["Authorization"].startswith("Basic ")

    server.route("GET", "/wp-json/wc/v3/orders", [Answer(401, {
        "code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}})])
    result = check_connection(account)
    assert not result.ok and "Sorry, you cannot list resources." in result.message
    assert expired(account) == ("error", True)


def test_amazon_exchanges_the_refresh_token_then_reads_marketplace_participations(server):
    tokens = TokenEndpoint()
    server.route("POST", LWA_TOKEN_PATH, tokens)
    server.route("GET", "/sellers/v1/marketplaceParticipations", [Answer(200, {"payload": [
        {"marketplace": {"id": "A1RKKUPIHCS9HS", "countryCode": "ES", "name": "Amazon.es",
                         "defaultCurrencyCode": "EUR", "defaultLanguageCode": "es_ES", "domainName": "www.amazon.es"},
         "participation": {"isParticipating": True, "hasSuspendedListings": False}}]})])
    account = amazon_account(server)

    result = check_connection(account)

    assert result.ok
    assert result.message.startswith("Amazon accepted the refresh token; the seller sells on Amazon.es.")
    assert "No SQS queue is set" in result.message
    assert tokens.forms[0]["grant_type"] == "refresh_token"
    assert header(server.requests[-1], "x-amz-access-token") == "Atza|token-1"


def test_amazon_invalid_grant_marks_the_credentials_expired(server):
    server.route("POST", LWA_TOKEN_PATH, [Answer(400, {"error": "invalid_grant",
                                                       "error_description": "The request has an invalid grant parameter"})])
    account = amazon_account(server)

    result = check_connection(account)

    assert not result.ok and "invalid_grant" in result.message
    assert expired(account) == ("error", True)
    assert "Atzr|refresh-token" not in result.message + account.last_error


def test_ebay_refreshes_the_user_token_then_reads_one_order(server):
    server.route("POST", EBAY_TOKEN_PATH, token_answer)
    server.route("GET", "/sell/fulfillment/v1/order", [Answer(200, {"href": "…", "total": 3, "orders": []})])
    account = ebay_account(server.url)

    result = check_connection(account)

    assert result.ok and "lists 3 order(s)" in result.message
    assert server.requests[-1].headers["Authorization"] == "Bearer v^1.1#refreshed-user-token"
    assert server.requests[-1].query == {"limit": ["1"]}


def test_ebay_refused_refresh_token_marks_the_credentials_expired(server):
    server.route("POST", EBAY_TOKEN_PATH, [Answer(400, {
        "error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was "
                                                       "issued to another client"})])
    account = ebay_account(server.url)

    result = check_connection(account)

    assert not result.ok and "invalid_grant" in result.message
    assert expired(account) == ("error", True)


@pytest.mark.parametrize("provider", ["messenger", "instagram"])
def test_meta_pages_read_me_and_an_invalid_token_expires(server, provider):
    server.route("GET", "/v21.0/me", [Answer(200, {"id": "1234567890", "name": "Tienda Lucía"})])
    account = meta_account(provider, graph_base_url=server.url)

    result = check_connection(account)

    assert result.ok and result.message == "Meta accepted the access token for Tienda Lucía."
    assert server.requests[0].headers["Authorization"] == "Bearer EAAG-page-token"

    server.route("GET", "/v21.0/me", [Answer(400, {"error": {
        "message": "Error validating access token: Session has expired on Sunday, 22-Nov-26 09:00:00 PST.",
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "A1b2"}})])
    result = check_connection(account)
    assert not result.ok and "Session has expired" in result.message
    assert expired(account) == ("error", True)


def test_whatsapp_reads_the_phone_number(server):
    server.route("GET", "/v21.0/106540352242922", [Answer(200, {
        "verified_name": "Tienda Lucía", "display_phone_number": "+34 600 000 000", "id": "106540352242922"})])
    account = meta_account("whatsapp", external_id="106540352242922", graph_base_url=server.url)

    result = check_connection(account)

    assert result.ok and "Tienda Lucía" in result.message
    assert server.requests[0].headers["Authorization"] == "Bearer EAAG-whatsapp-token"


def test_twilio_reads_the_account_and_a_401_expires(server):
    path = f"/2010-04-01/Accounts/{TWILIO_SID}.json"
    server.route("GET", path, [Answer(200, {"sid": TWILIO_SID, "friendly_name": "Tienda SMS", "status": "active"})])
    account = twilio_account(api_base_url=server.url)

    result = check_connection(account)

    assert result.ok and result.message == "Twilio accepted the credentials of Tienda SMS (status: active)."

    server.route("GET", path, [Answer(401, {"code": 20003, "message": "Authenticate",
                                            "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})])
    result = check_connection(account)
    assert not result.ok and "Authenticate" in result.message
    assert expired(account) == ("error", True)


def test_a_paused_account_whose_credentials_are_refused_stays_paused(server):
    server.route("GET", "/admin/api/2025-01/shop.json", [Answer(401, {"errors": "Invalid API key or access token"})])
    account = shopify_account(api_base_url=server.url)
    ChannelAccount.objects.filter(pk=account.pk).update(status="paused")

    assert not check_connection(account).ok

    assert expired(account) == ("paused", True)


def test_a_server_error_is_reported_without_expiring_the_credentials(server):
    server.route("GET", "/admin/api/2025-01/shop.json", [Answer(503, {"errors": "Service unavailable"})])
    account = shopify_account(api_base_url=server.url)

    result = check_connection(account)

    assert not result.ok and "503" in result.message
    assert expired(account) == ("active", False)


def test_webhook_only_providers_need_their_signing_secret():
    account = ChannelAccountFactory(provider="generic", channel="marketplace")
    result = check_connection(account)
    assert not result.ok and result.message == "Not set: Signing secret."
    account.set_secrets({"signing_secret": "s"})
    account.save()
    assert check_connection(account).ok


def test_imap_logs_in_and_opens_the_folder_and_a_wrong_password_expires(dovecot):
    user, password = dovecot.add_user()
    settings = {"address": "support@shop.example", "imap_host": dovecot.host, "imap_port": dovecot.port,
                "imap_security": "none", "imap_folders": ["INBOX"]}
    account = ChannelAccountFactory(provider="imap", settings=settings)
    account.set_secrets({"imap_username": user, "imap_password": password})
    account.save()

    result = check_connection(account)

    assert result.ok and result.message == "IMAP login works; INBOX has 0 message(s)."

    account.set_secrets({"imap_username": user, "imap_password": "not-the-password"})
    account.save()
    result = check_connection(account)
    assert not result.ok and "AUTHENTICATIONFAILED" in result.message
    assert "not-the-password" not in result.message
    assert expired(account) == ("error", True)


def test_the_page_runs_the_test_and_records_who_ran_it(client, charlie, server):
    server.route("GET", "/admin/api/2025-01/shop.json", [Answer(200, {"shop": {"name": "John's Apparel"}})])
    account = shopify_account(api_base_url=server.url)
    client.force_login(charlie)

    response = client.post(f"/channels/{account.pk}/test/", follow=True)

    assert "Connection works: Shopify answered for the shop John&#x27;s Apparel" in response.content.decode()
    [event] = ChannelAccountEvent.objects.filter(account=account)
    assert (event.kind, event.actor, event.data["ok"]) == ("tested", charlie, True)


def test_a_reconciliation_refused_with_401_marks_the_credentials_expired(server):
    from channels_ingest.shop_sync import reconcile_account

    server.route("GET", "/admin/api/2025-01/orders.json", [Answer(401, {"errors": "Invalid API key or access token"})])
    account = shopify_account(api_base_url=server.url)

    reconcile_account(account)

    assert expired(account) == ("error", True)
    assert "reconciliation" in account.last_error and "Invalid API key" in account.last_error


def test_a_reply_refused_for_an_invalid_token_marks_the_credentials_expired(server):
    from channels_ingest import outbound
    from tests.messaging_helpers import conversation

    server.route("POST", "/v21.0/me/messages", [Answer(400, {"error": {
        "message": "Error validating access token: The user has not authorized application 1234.",
        "type": "OAuthException", "code": 190, "error_subcode": 458}})])
    account = meta_account("messenger", graph_base_url=server.url)
    _, reply = conversation(account, thread="5511")

    outbound.send_message(reply.pk)

    reply.refresh_from_db()
    assert reply.delivery_state == "failed"
    assert expired(account) == ("error", True)
    assert "has not authorized application" in account.last_error


def test_smtp_login_is_checked_and_a_refused_login_expires(smtp_server):  # noqa: F811 - the fixture
    account = ChannelAccountFactory(provider="mime", settings={
        "address": "support@shop.example", "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
        "smtp_security": "none"})
    account.set_secrets({"signing_secret": "s", "smtp_username": "smtp-user", "smtp_password": "right-password"})
    account.save()

    result = check_connection(account)

    assert result.ok and result.message.endswith(" SMTP login works.")
    assert smtp_server.logins == [("smtp-user", "right-password")]

    account.set_secrets({"signing_secret": "s", "smtp_username": "smtp-user", "smtp_password": "wrong"})
    account.save()
    result = check_connection(account)
    assert not result.ok and "did not accept the mailbox's login: 535" in result.message
    assert "wrong" not in result.message
    assert expired(account) == ("error", True)
