"""Channel credentials are encrypted at rest and never shown back."""

from __future__ import annotations

import pytest
from django.db import connection

from helpdesk.crypto import SecretsUnreadable
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

SECRET = "shpat_0123456789abcdef0123456789abcdef"


def test_secrets_round_trip_and_are_not_stored_in_clear():
    account = ChannelAccountFactory(channel="shopify", provider="shopify")
    account.set_secrets({"access_token": SECRET})
    account.save()

    account.refresh_from_db()
    assert account.get_secrets() == {"access_token": SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets_encrypted FROM tickets_channelaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert SECRET not in repr(account) and SECRET not in str(account)


def test_another_key_cannot_read_them(settings):
    account = ChannelAccountFactory()
    account.set_secrets({"password": "hunter2"})
    account.save()
    settings.HELPDESK_SECRETS_KEY = "a different key"
    with pytest.raises(SecretsUnreadable):
        account.get_secrets()


def test_admin_page_never_shows_them_and_keeps_them_when_left_empty(client, charlie):
    charlie.is_staff = True
    charlie.is_superuser = True
    charlie.save()
    account = ChannelAccountFactory(display_name="Casa shop")
    account.set_secrets({"access_token": SECRET})
    account.save()
    client.force_login(charlie)

    page = client.get(f"/admin/tickets/channelaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert SECRET.encode() not in page.content
    assert account.secrets_encrypted.encode() not in page.content

    form = {
        "store": account.store_id, "channel": account.channel, "provider": account.provider,
        "display_name": "Casa shop (renamed)", "external_id": "", "settings": "{}", "status": "active",
        "new_secrets": "",
    }
    response = client.post(f"/admin/tickets/channelaccount/{account.pk}/change/", form)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.display_name == "Casa shop (renamed)"
    assert account.get_secrets() == {"access_token": SECRET}
