"""The widget's HTTP side: the script a shop embeds (per language), uploads with CORS, token, size,
type and rate limits, the agents' typing signal, the demo shop page and the admin."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from channels_ingest.widget import conversations
from channels_ingest.widget.models import WidgetSettings
from tests.factories import UserFactory
from tests.widget_helpers import SHOP, clear_widget_counters, make_widget
from tickets.models import Attachment, Message

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_widget_counters()
    yield
    clear_widget_counters()


def loader_config(response) -> dict:
    body = response.content.decode()
    match = re.search(r"var config = (\{.*?\});\n", body)
    assert match, body
    return json.loads(match.group(1))


# --- The script ------------------------------------------------------------------------------------


def test_script_carries_the_widgets_look_and_addresses(client):
    widget = make_widget(primary_colour="#aa3300", title="Casa Lumbre te ayuda")
    response = client.get(f"/widget/{widget.public_key}.js", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    config = loader_config(response)
    assert config["key"] == widget.public_key
    assert config["socket"] == f"ws://localhost/ws/widget/{widget.public_key}/"
    assert config["upload"] == f"http://localhost/widget/{widget.public_key}/upload/"
    assert config["colours"] == {"primary": "#aa3300", "text": "#ffffff"}
    assert config["title"] == "Casa Lumbre te ayuda"
    assert config["code"].startswith("http://localhost/static/widget/widget") and config["code"].endswith(".js")
    assert config["strings"]["send"] == "Send" and config["language"] == "en"


@pytest.mark.parametrize("language", ["es", "ro"])
def test_script_speaks_the_language_asked_for(client, language):
    from django.utils import translation
    from django.utils.translation import gettext

    widget = make_widget()
    config = loader_config(client.get(f"/widget/{widget.public_key}.js?lang={language}"))
    assert config["language"] == language
    with translation.override(language):
        assert config["strings"]["placeholder"] == gettext("Write a message…")


def test_script_of_an_unknown_or_disabled_widget_is_an_empty_script(client):
    widget = make_widget()
    WidgetSettings.objects.filter(pk=widget.pk).update(enabled=False)
    for key in (widget.public_key, "nope"):
        response = client.get(f"/widget/{key}.js")
        assert response.status_code == 404 and response["Content-Type"] == "text/javascript"
        assert b"config" not in response.content


def test_titles_cannot_break_out_of_the_script(client):
    widget = make_widget(title="</script><script>alert(1)</script>")
    body = client.get(f"/widget/{widget.public_key}.js").content.decode()
    assert "</script>" not in body and "<script>" not in body
    assert loader_config(client.get(f"/widget/{widget.public_key}.js"))["title"] == widget.title


# --- Uploads ----------------------------------------------------------------------------------------


@pytest.fixture
def visitor():
    widget = make_widget()
    conversation, token = conversations.start_conversation(widget)
    conversations.visitor_says(conversation, "Hello", client_id="c1")
    conversation.refresh_from_db()
    return widget, conversation, token


def upload(client, widget, token, content=PNG, name="lamp.png", content_type="image/png", origin=SHOP,
           client_id="f1"):
    headers = {"HTTP_X_WIDGET_TOKEN": token} if token else {}
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return client.post(reverse("widget:upload", args=[widget.public_key]),
                       {"file": SimpleUploadedFile(name, content, content_type=content_type), "client_id": client_id},
                       **headers)


def test_preflight_from_an_allowed_origin_is_answered_with_cors(client, visitor):
    widget, _conversation, _token = visitor
    response = client.options(reverse("widget:upload", args=[widget.public_key]), HTTP_ORIGIN=SHOP,
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-widget-token")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "X-Widget-Token" in response["Access-Control-Allow-Headers"]


def test_upload_from_another_origin_is_refused_without_cors(client, visitor):
    widget, _conversation, token = visitor
    response = upload(client, widget, token, origin="https://evil.example")
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
    assert Attachment.objects.count() == 0


def test_upload_without_the_conversations_token_is_refused(client, visitor):
    widget, _conversation, _token = visitor
    for token in ("", "x" * 43):
        response = upload(client, widget, token)
        assert response.status_code == 403 and response.json()["code"] == "unknown_conversation"
    assert Attachment.objects.count() == 0


def test_uploaded_image_joins_the_ticket_for_the_agents(client, visitor):
    widget, conversation, token = visitor
    response = upload(client, widget, token)
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == SHOP
    conversation.refresh_from_db()
    # A file is for a person: the conversation was handed over, and the file is on the ticket.
    attachment = Attachment.objects.get()
    message = attachment.message
    assert message.ticket == conversation.ticket and message.direction == Message.Direction.INBOUND
    assert (attachment.filename, attachment.content_type, attachment.size) == ("lamp.png", "image/png", len(PNG))
    with attachment.file.open("rb") as handle:
        assert handle.read() == PNG
    shown = response.json()["events"][-1]["message"]
    assert shown["attachments"] == [{"id": attachment.pk, "name": "lamp.png", "size": len(PNG)}]


def test_visitor_downloads_only_their_conversations_files(client, visitor):
    widget, conversation, token = visitor
    upload(client, widget, token)
    mine = Attachment.objects.get()
    other, other_token = conversations.start_conversation(widget)
    upload(client, widget, other_token, content=PNG + b"other", name="other.png")
    theirs = Attachment.objects.exclude(pk=mine.pk).get()
    url = reverse("widget:download", args=[widget.public_key, mine.pk])
    response = client.get(url, HTTP_ORIGIN=SHOP, HTTP_X_WIDGET_TOKEN=token)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert 'filename="lamp.png"' in response["Content-Disposition"]
    # Another visitor's file, with my token; my file with theirs; no token; another origin.
    for attachment_id, with_token, origin, status in (
        (theirs.pk, token, SHOP, 404), (mine.pk, other_token, SHOP, 404), (mine.pk, "", SHOP, 404),
        (mine.pk, token, "https://evil.example", 403),
    ):
        response = client.get(reverse("widget:download", args=[widget.public_key, attachment_id]),
                              HTTP_ORIGIN=origin, HTTP_X_WIDGET_TOKEN=with_token)
        assert response.status_code == status


def test_demo_widgets_are_seeded_for_the_demo_stores():
    from channels_ingest.widget.demo import ensure_demo_widgets
    from tests.factories import ChannelAccountFactory, StoreFactory
    from tickets.models import Channel

    stores = {slug: StoreFactory(slug=slug) for slug in ("casa-lumbre", "atelier-carpati")}
    mailbox = ChannelAccountFactory(store=stores["casa-lumbre"], channel=Channel.EMAIL)
    widgets = ensure_demo_widgets(stores)
    assert [widget.language for widget in widgets] == ["es", "ro"]
    assert widgets[0].email_account == mailbox and widgets[0].allows_origin("http://localhost:8000")
    assert ensure_demo_widgets(stores) == widgets and WidgetSettings.objects.count() == 2


def test_file_over_the_size_limit_is_refused(client, visitor, settings):
    settings.HELPDESK_WIDGET_ATTACHMENT_MAX_BYTES = 1024
    widget, conversation, token = visitor
    response = upload(client, widget, token, content=PNG + b"\x00" * 2048)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert response.json()["error"].startswith("The file is too large: at most ")
    assert Attachment.objects.count() == 0
    conversation.refresh_from_db()
    assert conversation.ticket is None


@pytest.mark.parametrize("content, name, declared", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "lamp.png", "image/png"),  # a Windows program named .png
    (b"PK\x03\x04" + b"\x00" * 64, "invoice.pdf", "application/pdf"),  # a zip archive
])
def test_file_of_a_refused_type_is_refused_whatever_its_name(client, visitor, content, name, declared):
    widget, _conversation, token = visitor
    response = upload(client, widget, token, content=content, name=name, content_type=declared)
    assert response.status_code == 415 and response.json()["code"] == "type_refused"
    assert Attachment.objects.count() == 0


def test_uploads_are_rate_limited(client, visitor, settings):
    settings.HELPDESK_WIDGET_RATE_LIMITS = {"upload": (2, 3600)}
    widget, _conversation, token = visitor
    assert [upload(client, widget, token, client_id=f"f{n}").status_code for n in range(3)] == [201, 201, 429]
    assert Attachment.objects.count() == 2


# --- Agents, demo, admin ----------------------------------------------------------------------------


def test_agent_typing_endpoint_needs_a_signed_in_agent(client, visitor):
    widget, conversation, token = visitor
    ticket = conversations.hand_off(conversation)
    url = reverse("widget:agent-typing", args=[ticket.pk])
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(UserFactory(username="lucia", role="agent"))
    response = client.post(url, {"typing": "1"})
    assert response.status_code == 200 and response.json() == {"conversations": 1}


def test_demo_shop_page_carries_the_snippet(client):
    widget = make_widget(origins="http://testserver")
    client.force_login(UserFactory(username="admin", role="admin"))
    response = client.get(reverse("widget:demo", args=["casa-lumbre"]))
    assert response.status_code == 200
    assert f'<script src="http://testserver/widget/{widget.public_key}.js" async></script>' in response.content.decode()
    assert b"refuses this page" not in response.content


def test_admin_edits_widget_settings_and_gets_a_chat_account(client):
    from tests.factories import StoreFactory

    store = StoreFactory(slug="atelier-carpati", name="Atelier Carpați")
    admin = UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(reverse("admin:channels_ingest_widgetsettings_add"), {
        "store": store.pk, "enabled": "on", "allowed_origins": "https://ateliercarpati.example\nnot an origin",
        "language": "ro", "primary_colour": "#12345", "text_colour": "#ffffff", "position": "right",
    })
    assert response.status_code == 200  # the form comes back with the errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"allowed_origins", "primary_colour"}
    response = client.post(reverse("admin:channels_ingest_widgetsettings_add"), {
        "store": store.pk, "enabled": "on", "allowed_origins": "https://ateliercarpati.example/",
        "language": "ro", "primary_colour": "#123456", "text_colour": "#ffffff", "position": "right",
    })
    assert response.status_code == 302
    widget = WidgetSettings.objects.get(store=store)
    assert widget.origins == ["https://ateliercarpati.example"]
    assert widget.account.channel == "chat" and widget.account.store == store and widget.account.provider == "chat"
    page = client.get(reverse("admin:channels_ingest_widgetsettings_change", args=[widget.pk])).content.decode()
    assert f"/widget/{widget.public_key}.js" in page


@pytest.mark.parametrize("origin, allowed", [
    ("https://shop.casalumbre.example", True),
    ("https://SHOP.casalumbre.example", True),
    ("https://shop.casalumbre.example:443", True),
    ("https://shop.casalumbre.example:8443", False),
    ("http://shop.casalumbre.example", False),
    ("https://casalumbre.example", False),
    ("https://shop.casalumbre.example.evil.example", False),
    ("null", False),
    ("", False),
    ("https://*.casalumbre.example", False),
])
def test_origins_match_scheme_host_and_port_exactly(origin, allowed):
    from channels_ingest.widget.models import origin_allowed

    assert origin_allowed(origin, ["https://shop.casalumbre.example"]) is allowed


def test_wildcard_origin_allows_subdomains_only():
    from channels_ingest.widget.models import normalise_origin, origin_allowed

    pattern = normalise_origin("https://*.CasaLumbre.example/")
    assert pattern == "https://*.casalumbre.example"
    assert origin_allowed("https://tienda.casalumbre.example", [pattern])
    assert origin_allowed("https://a.b.casalumbre.example", [pattern])
    assert not origin_allowed("https://casalumbre.example", [pattern])
    assert not origin_allowed("https://evilcasalumbre.example", [pattern])
    assert not origin_allowed("http://tienda.casalumbre.example", [pattern])
