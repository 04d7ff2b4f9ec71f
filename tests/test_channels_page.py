"""The Channels page (/channels/): who may see and change it, connecting accounts (secrets stored
encrypted and never shown back), the health columns, removing an account (webhooks refused, history
kept), and a record of every action."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from channels_ingest.accounts import actions
from channels_ingest.accounts.providers import PROVIDERS, spec_for
from channels_ingest.adapters.generic.adapter import sign as generic_sign
from channels_ingest.models import InboundEvent
from tests.factories import ChannelAccountFactory, StoreFactory, TicketFactory
from tests.webhook_helpers import post_webhook
from tickets.models import Channel, ChannelAccount, ChannelAccountEvent, Message

pytestmark = pytest.mark.django_db

SECRET = "generic-signing-secret-5521"


def generic_account(store=None, **fields) -> ChannelAccount:
    account = ChannelAccountFactory(store=store or StoreFactory(), provider="generic", channel=Channel.MARKETPLACE,
                                    **fields)
    account.set_secrets({"signing_secret": SECRET})
    account.save()
    return account


def post_generic(client, account, n: int = 1):
    body = json.dumps({"id": f"evt-{n}", "type": "message.created", "message": {
        "id": f"msg-{n}", "thread_id": "conv-1", "customer": {"id": "buyer-77", "name": "Ioana Marin"},
        "subject": "Unde este coletul?", "text": "Comanda mea nu a ajuns."}}).encode()
    return post_webhook(client, "generic", account, body, "application/json",
                        {"X-Helpdesk-Signature": generic_sign(SECRET, body)})


# --- Who may see it ----------------------------------------------------------------------------


def test_agents_get_403_and_anonymous_users_the_login_page(client, alice):
    account = generic_account()
    assert client.get("/channels/").status_code == 302
    client.force_login(alice)
    assert client.get("/channels/").status_code == 403
    assert client.get(f"/channels/{account.pk}/").status_code == 403
    assert client.post(f"/channels/{account.pk}/pause/").status_code == 403
    account.refresh_from_db()
    assert account.status == "active"


def test_managers_read_the_list_without_forms_or_actions(client, bob):
    account = generic_account(display_name="eMAG feed")
    client.force_login(bob)

    page = client.get("/channels/").content.decode()
    detail = client.get(f"/channels/{account.pk}/").content.decode()

    assert "eMAG feed" in page
    assert reverse("channels_accounts:connect", args=["shopify"]) not in page
    assert 'data-action="pause"' not in detail
    assert 'data-action="test-connection"' not in detail
    assert 'type="password"' not in detail
    for url in (f"/channels/{account.pk}/pause/", f"/channels/{account.pk}/test/", f"/channels/{account.pk}/remove/",
                "/channels/connect/generic/"):
        assert client.post(url, {"confirm": "yes"}).status_code == 403
    account.refresh_from_db()
    assert account.status == "active"
    assert not ChannelAccountEvent.objects.exists()


def test_admins_see_accounts_grouped_per_store_with_their_health(client, charlie):
    madrid, cluj = StoreFactory(name="Madrid shop"), StoreFactory(name="Cluj shop")
    ok = generic_account(store=madrid, display_name="Feed A")
    broken = generic_account(store=cluj, display_name="Feed B", last_error="2026-11-22 10:00 reconciliation: HTTP 500")
    generic_account(store=cluj, display_name="Gone", status="removed")
    client.force_login(charlie)

    page = client.get("/channels/").content.decode()

    assert page.index("Cluj shop") < page.index("Feed B") < page.index("Madrid shop") < page.index("Feed A")
    assert "reconciliation: HTTP 500" in page
    assert f'data-account-id="{ok.pk}" data-health="ok"' in page
    assert f'data-account-id="{broken.pk}" data-health="warning"' in page
    assert "Gone" not in page
    assert "Gone" in client.get("/channels/?removed=1").content.decode()


def test_the_navigation_links_the_page_for_managers_and_admins_only(client, alice, bob):
    client.force_login(alice)
    assert 'href="/channels/"' not in client.get("/tickets/").content.decode()
    client.force_login(bob)
    assert 'href="/channels/"' in client.get("/tickets/").content.decode()


# --- Connecting ---------------------------------------------------------------------------------


def test_connecting_woocommerce_stores_secrets_encrypted_and_never_renders_them(client, charlie):
    store = StoreFactory(name="Madrid shop")
    client.force_login(charlie)
    form = client.get("/channels/connect/woocommerce/").content.decode()
    assert 'name="consumer_secret"' in form and 'type="password"' in form

    response = client.post("/channels/connect/woocommerce/", {
        "store": store.pk, "display_name": "Woo Madrid", "external_id": "shop.example.com",
        "site_url": "https://shop.example.com", "consumer_key": "ck_live_1234", "consumer_secret": "cs_live_5678",
        "webhook_secret": "whsec-very-long-9999",
    })

    account = ChannelAccount.objects.get(display_name="Woo Madrid")
    assert response.status_code == 302 and response["Location"] == f"/channels/{account.pk}/"
    assert (account.provider, account.channel, account.external_id) == ("woocommerce", "woocommerce",
                                                                        "shop.example.com")
    assert account.settings == {"site_url": "https://shop.example.com"}
    assert account.get_secrets() == {"consumer_key": "ck_live_1234", "consumer_secret": "cs_live_5678",
                                     "webhook_secret": "whsec-very-long-9999"}
    assert "cs_live_5678" not in account.secrets_encrypted
    page = client.get(response["Location"]).content.decode()
    for secret in ("ck_live_1234", "cs_live_5678", "whsec-very-long-9999"):
        assert secret not in page
    assert page.count('data-secret-state="set"') == 3
    assert f"/hooks/woocommerce/{account.public_id}/" in page
    [event] = ChannelAccountEvent.objects.filter(account=account)
    assert (event.kind, event.actor, event.data["secrets_set"]) == (
        "connected", charlie, ["consumer_key", "consumer_secret", "webhook_secret"])
    assert "cs_live_5678" not in json.dumps(event.data)


def test_connect_form_refuses_missing_secrets_and_bad_values_with_the_reason(client, charlie):
    store = StoreFactory()
    client.force_login(charlie)
    response = client.post("/channels/connect/amazon/", {
        "store": store.pk, "display_name": "Amazon EU", "external_id": "A3TH9S8BH6GOGM",
        "lwa_client_id": "amzn1.application-oa2-client.x", "marketplace_ids": "A1RKKUPIHCS9HS, A1F83G8C2ARO7P",
        "sqs_queue_url": "not a url",
    })
    assert response.status_code == 400
    assert not ChannelAccount.objects.exists()
    errors = response.context["form"].errors
    assert set(errors) == {"lwa_client_secret", "refresh_token", "sqs_queue_url"}


def test_connecting_amazon_reads_lists_and_the_region(client, charlie):
    store = StoreFactory()
    client.force_login(charlie)
    client.post("/channels/connect/amazon/", {
        "store": store.pk, "display_name": "Amazon EU", "external_id": "A3TH9S8BH6GOGM",
        "lwa_client_id": "amzn1.application-oa2-client.x", "lwa_client_secret": "lwa-s", "refresh_token": "Atzr|r",
        "marketplace_ids": "A1RKKUPIHCS9HS, A1F83G8C2ARO7P", "region": "eu",
        "sqs_queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    })
    account = ChannelAccount.objects.get()
    assert account.settings == {"marketplace_ids": ["A1RKKUPIHCS9HS", "A1F83G8C2ARO7P"], "region": "eu",
                                "sqs_queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"}
    assert account.get_secrets() == {"lwa_client_id": "amzn1.application-oa2-client.x", "lwa_client_secret": "lwa-s",
                                     "refresh_token": "Atzr|r"}
    page = client.get(f"/channels/{account.pk}/").content.decode()
    assert "data-webhook-url" not in page  # Amazon posts nothing: its notifications come from SQS


def test_an_empty_secret_keeps_the_stored_one_and_a_new_one_replaces_it_and_clears_expiry(client, charlie):
    account = generic_account(display_name="Feed")
    ChannelAccount.objects.filter(pk=account.pk).update(status="error", last_error="refused",
                                                         credentials_expired_at="2026-11-22T10:00:00Z")
    client.force_login(charlie)

    client.post(f"/channels/{account.pk}/", {"display_name": "Feed renamed", "external_id": "", "signing_secret": ""})
    account.refresh_from_db()
    assert account.display_name == "Feed renamed"
    assert account.get_secrets() == {"signing_secret": SECRET}
    assert account.credentials_expired_at is not None

    client.post(f"/channels/{account.pk}/", {"display_name": "Feed renamed", "external_id": "",
                                             "signing_secret": "new-secret"})
    account.refresh_from_db()
    assert account.get_secrets() == {"signing_secret": "new-secret"}
    assert (account.status, account.credentials_expired_at, account.last_error) == ("active", None, "")
    kinds = list(ChannelAccountEvent.objects.filter(account=account).values_list("kind", "data"))
    assert kinds == [("updated", {"changed": ["display_name"]}), ("updated", {"changed": ["signing_secret"]})]


def test_the_shopify_account_page_offers_the_app_install_that_returns_to_it(client, charlie):
    store = StoreFactory()
    client.force_login(charlie)
    client.post("/channels/connect/shopify/", {"store": store.pk, "display_name": "John's apparel",
                                               "external_id": "johns-apparel.myshopify.com",
                                               "client_id": "app-client-id", "client_secret": "shpss_x"})
    account = ChannelAccount.objects.get()
    page = client.get(f"/channels/{account.pk}/").content.decode()
    install = f"/shopify/install/{account.public_id}/?next=/channels/{account.pk}/"
    assert install in page

    charlie.is_staff = True
    charlie.save()
    response = client.get(install)
    assert response.status_code == 302
    assert response["Location"].startswith("https://johns-apparel.myshopify.com/admin/oauth/authorize?")
    assert client.session["shopify_oauth"]["next"] == f"/channels/{account.pk}/"


# --- Removing -------------------------------------------------------------------------------------


def test_remove_asks_for_confirmation_then_refuses_webhooks_and_keeps_history(client, charlie):
    account = generic_account(display_name="eMAG feed")
    assert post_generic(client, account, 1).status_code == 200
    event = InboundEvent.objects.get()
    from channels_ingest.actions import process_event

    process_event(event.pk)
    message = Message.objects.get()
    client.force_login(charlie)

    confirm = client.get(f"/channels/{account.pk}/remove/")
    assert confirm.status_code == 200 and 'data-action="confirm-remove"' in confirm.content.decode()
    account.refresh_from_db()
    assert account.status == "active"
    assert client.post(f"/channels/{account.pk}/remove/", {}).status_code == 200  # no confirmation: nothing done
    account.refresh_from_db()
    assert account.status == "active"

    response = client.post(f"/channels/{account.pk}/remove/", {"confirm": "yes"})

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == "removed" and account.removed_at is not None
    assert account.get_secrets() == {} and account.secrets_encrypted == ""
    refused = post_generic(client, account, 2)
    assert refused.status_code == 410
    assert list(InboundEvent.objects.values_list("pk", flat=True)) == [event.pk]
    assert Message.objects.get().pk == message.pk and message.ticket.channel_account_id == account.pk
    assert f'data-account-id="{account.pk}"' not in client.get("/channels/").content.decode()
    assert f'data-account-id="{account.pk}"' in client.get("/channels/?removed=1").content.decode()
    assert list(ChannelAccountEvent.objects.filter(account=account).values_list("kind", "actor")) == [
        ("removed", charlie.pk)]


def test_removing_fails_queued_replies_and_ignores_waiting_events_with_the_reason(client, charlie):
    account = generic_account()
    post_generic(client, account, 1)
    ticket = TicketFactory(store=account.store, channel_account=account)
    reply = Message.objects.create(ticket=ticket, direction="outbound", author_type="agent", channel=ticket.channel,
                                   channel_account=account, body_text="On its way", delivery_state="queued")

    actions.remove_account(account=account, actor=charlie)

    reply.refresh_from_db()
    assert (reply.delivery_state, reply.failure_reason) == ("failed", "Not sent: the channel account was removed.")
    event = InboundEvent.objects.get()
    assert (event.state, event.error) == ("ignored", "the channel account was removed before this event was processed")


def test_removed_accounts_are_polled_by_nothing():
    from channels_ingest import shop_sync
    from channels_ingest.adapters.amazon_sp import sqs
    from channels_ingest.adapters.ebay import messages
    from channels_ingest.adapters.imap.tasks import mailboxes_to_poll

    accounts = [
        ChannelAccountFactory(provider="imap", settings={"imap_host": "127.0.0.1"}),
        ChannelAccountFactory(provider="shopify", channel="shopify"),
        ChannelAccountFactory(provider="ebay", channel="ebay"),
        ChannelAccountFactory(provider="amazon", channel="amazon"),
    ]
    for account in accounts:
        actions.remove_account(account=account, actor=None)

    assert mailboxes_to_poll() == []
    assert not shop_sync.accounts_to_reconcile().exists()
    assert not messages.accounts_to_poll().exists()
    assert not sqs.accounts_to_poll().exists()


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_provider_has_a_connect_form_with_its_secrets_as_password_inputs(client, charlie, provider):
    client.force_login(charlie)
    page = client.get(f"/channels/connect/{provider}/").content.decode()
    for field in spec_for(provider).secret_fields:
        assert f'type="password" name="{field.name}"' in page
    assert 'name="store"' in page and 'name="display_name"' in page


def test_an_ebay_account_without_its_own_deletion_endpoint_uses_the_webhook_url_shown(client, charlie, settings):
    settings.PUBLIC_URL = "https://help.example.com"
    client.force_login(charlie)
    client.post("/channels/connect/ebay/", {
        "store": StoreFactory().pk, "display_name": "eBay DE", "external_id": "helpdesk-seller",
        "client_id": "App-PRD-1", "client_secret": "PRD-secret", "refresh_token": "v^1.1#r",
        "verification_token": "helpdesk-verification-token-0123456789abcdef", "site_id": "77",
    })
    account = ChannelAccount.objects.get()
    url = f"https://help.example.com/hooks/ebay/{account.public_id}/"
    assert account.settings == {"site_id": "77", "deletion_endpoint_url": url}
    assert url in client.get(f"/channels/{account.pk}/").content.decode()


def test_an_event_stored_in_the_instant_before_a_removal_is_kept_but_not_acted_on(client):
    from channels_ingest.actions import process_event

    account = generic_account()
    post_generic(client, account, 1)
    ChannelAccount.objects.filter(pk=account.pk).update(status="removed")

    assert process_event(InboundEvent.objects.get().pk) == "ignored"

    assert not Message.objects.exists()
    assert InboundEvent.objects.get().error == "the channel account was removed before this event was processed"
