"""Every Messenger, Instagram, WhatsApp and Twilio sample of the shared corpus is exercised by a
test of its channel: a new sample without a test fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webhook_helpers import CORPUS

TESTS = Path(__file__).resolve().parent
CHANNEL_TESTS = {
    "messenger": ["test_messenger_webhooks.py"],
    "instagram": ["test_instagram_webhooks.py"],
    "whatsapp-cloud": ["test_whatsapp_webhooks.py"],
    "twilio-sms": ["test_twilio_webhooks.py"],
}


@pytest.mark.parametrize("folder", sorted(CHANNEL_TESTS))
def test_every_sample_has_a_test(folder):
    text = "".join((TESTS / name).read_text() for name in CHANNEL_TESTS[folder])
    samples = sorted(p.name for p in (CORPUS / "webhooks" / folder).iterdir() if not p.name.endswith(".headers.json"))
    assert samples, folder
    assert [name for name in samples if name not in text] == []
