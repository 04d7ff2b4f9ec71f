"""Channel account credentials never leave the server through the API or its schema."""

from __future__ import annotations

import pytest

from tests.factories import (
    ChannelAccountFactory,
    ChannelIdentityFactory,
    MessageFactory,
    OrderFactory,
    TicketFactory,
)

pytest_plugins = ["tests.api_fixtures"]
pytestmark = pytest.mark.django_db

SECRET = "shpat_0123456789abcdef0123456789abcdef"


def test_no_response_carries_the_secrets_or_the_settings(client_for, charlie, anonymous):
    account = ChannelAccountFactory(
        channel="shopify", provider="shopify", settings={"webhook_token": "whk_live_42"}
    )
    account.set_secrets({"access_token": SECRET})
    account.save()
    ticket = TicketFactory(store=account.store, channel="shopify", channel_account=account)
    MessageFactory(ticket=ticket, channel_account=account)
    identity = ChannelIdentityFactory(
        customer=ticket.customer, kind="shop_customer", value="7001", account=account
    )
    order = OrderFactory(store=account.store, channel_account=account, customer=ticket.customer)
    ticket.orders.add(order)
    client = client_for(charlie)

    responses = [
        client.get("/api/v1/tickets/"),
        client.get(f"/api/v1/tickets/{ticket.pk}/"),
        client.get(f"/api/v1/tickets/{ticket.pk}/messages/"),
        client.get(f"/api/v1/customers/{identity.customer_id}/"),
        client.get("/api/v1/orders/"),
        client.get(f"/api/v1/orders/{order.pk}/"),
        anonymous.get("/api/schema/"),
    ]

    assert [r.status_code for r in responses] == [200] * len(responses)
    for response in responses:
        for leak in (SECRET, account.secrets_encrypted, "secrets_encrypted", "whk_live_42"):
            assert leak.encode() not in response.content
    assert responses[1].json()["channel_account"] == {
        "id": account.pk,
        "public_id": str(account.public_id),
        "channel": "shopify",
        "provider": "shopify",
        "display_name": account.display_name,
    }
