"""Messenger and Instagram attachments: images, video, audio and files from Meta's CDN are stored
as attachments; links anywhere else are never fetched (a forged event must not make the helpdesk
read internal addresses); an expired link keeps the message with the reason."""

from __future__ import annotations

import json

import pytest

from channels_ingest.adapters.meta.messaging import media_host_allowed
from tests.messaging_helpers import meta_account, post_meta
from tests.shop_helpers import Answer, ShopServer
from tests.webhook_helpers import corpus_bytes, process_stored_event

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 30


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def cdn():
    with ShopServer() as server:
        server.route("GET", "/v/t1.15752-9/foo.png", [Answer(200, PNG, {"Content-Type": "image/png"})])
        yield server


def attachment_sample(provider: str, url: str) -> bytes:
    """The corpus's image attachment, with its link pointing at the CDN on loopback."""
    payload = json.loads(corpus_bytes(f"webhooks/{provider}/courier-attachment.json"))
    payload["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = url
    return json.dumps(payload).encode()


@pytest.mark.parametrize("provider", ["messenger", "instagram"])
def test_image_from_the_cdn_is_stored_as_an_attachment(client, cdn, provider):
    account = meta_account(provider, media_hosts=["127.0.0.1"])
    url = f"{cdn.url}/v/t1.15752-9/foo.png"
    event, [message] = process_stored_event(post_meta(client, provider, account, attachment_sample(provider, url)))
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type, attachment.file.read()) == ("foo.png", "image/png", PNG)
    assert message.metadata["attachments"] == [{"type": "image", "url": url, "stored": True}]


def test_expired_link_keeps_the_message_and_the_reason(client, cdn):
    account = meta_account("messenger", media_hosts=["127.0.0.1"])
    url = f"{cdn.url}/v/expired.png"
    event, [message] = process_stored_event(post_meta(client, "messenger", account, attachment_sample("messenger", url)))
    assert message.attachments.count() == 0
    assert message.metadata["attachments"][0]["download_error"] == "HTTP 404"
    assert message.body_text == f"[image] {url}"


def test_links_outside_the_allowed_hosts_are_never_fetched(client, cdn):
    account = meta_account("messenger", media_hosts=["fbcdn.net"])
    url = f"{cdn.url}/v/t1.15752-9/foo.png"
    event, [message] = process_stored_event(post_meta(client, "messenger", account, attachment_sample("messenger", url)))
    assert cdn.requests == []
    assert message.attachments.count() == 0


@pytest.mark.parametrize("url, allowed", [
    ("https://scontent.xx.fbcdn.net/v/arst", True),
    ("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1", True),
    ("https://scontent-mad1-1.cdninstagram.com/v/t51.jpg", True),
    ("http://scontent.xx.fbcdn.net/v/arst", False),
    ("https://image-url/foo.png", False),
    ("https://fbcdn.net.evil.example/x.png", False),
    ("https://evilfbcdn.net/x.png", False),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("My Documents/foo.doc", False),
])
def test_default_media_hosts_are_metas_cdn(url, allowed):
    assert media_host_allowed(url) is allowed
