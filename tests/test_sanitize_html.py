"""HTML from outside is stored clean, whichever path writes the message."""

from __future__ import annotations

import pytest

from tests.factories import MessageFactory
from tickets.html import sanitize_html
from tickets.models import Message

HOSTILE = (
    '<p onclick="steal()">Hello <b>there</b></p>'
    "<script>alert(document.cookie)</script>"
    '<img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(1)">click</a>'
    '<iframe src="https://evil.example"></iframe>'
    '<form action="https://evil.example"><input name="card"></form>'
    '<a href="https://shop.example/track">track</a>'
    '<img src="cid:logo@shop">'
)


def test_scripts_handlers_frames_and_forms_are_removed():
    clean = sanitize_html(HOSTILE)
    for forbidden in ("<script", "onclick", "onerror", "javascript:", "<iframe", "<form", "<input", "alert(document"):
        assert forbidden not in clean
    assert "<p>Hello <b>there</b></p>" in clean
    assert '<a href="https://shop.example/track" target="_blank" rel="noopener noreferrer nofollow">track</a>' in clean
    assert '<a target="_blank" rel="noopener noreferrer nofollow">click</a>' in clean
    assert '<img src="cid:logo@shop">' in clean


@pytest.mark.django_db
def test_a_message_saved_with_hostile_html_is_stored_clean():
    message = MessageFactory(body_html=HOSTILE)
    stored = Message.objects.get(pk=message.pk).body_html
    assert stored == sanitize_html(HOSTILE)
    assert "<script" not in stored
