"""Spanish and Romanian catalogues are complete, keep every placeholder, and match the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

BASE_DIR = Path(__file__).resolve().parent.parent
LANGUAGES = ["es", "ro"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}|%[sd]")


def _catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(BASE_DIR / "helpdesk" / "locale" / language / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    catalogue = _catalogue(language)
    assert len(catalogue) > 100
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language):
    for entry in _catalogue(language).translated_entries():
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural:
            for text in entry.msgstr_plural.values():
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid_plural)), entry.msgid
        else:
            assert sorted(PLACEHOLDER.findall(entry.msgstr)) == expected, entry.msgid


def test_catalogues_hold_every_string_of_the_code(tmp_path):
    """Extract the strings again from a scratch copy and compare: a new string left out of the
    catalogues (and so untranslated) fails here."""
    if shutil.which("xgettext") is None:
        reason = "GNU gettext (xgettext) is not installed (apt-get install gettext, or run `make test` as root)"
        if os.environ.get("CI"):
            pytest.fail(reason + ": CI requires this check", pytrace=False)
        pytest.skip(reason)
    copy = tmp_path / "project"
    shutil.copytree(
        BASE_DIR, copy,
        ignore=shutil.ignore_patterns(".git", ".venv", ".local", "staticfiles", "media", "__pycache__", "*.mo"),
    )
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "-i", "tests", "-i", "staticfiles", "--no-obsolete"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    fresh = polib.pofile(str(copy / "helpdesk" / "locale" / "es" / "LC_MESSAGES" / "django.po"))
    current = {(e.msgctxt, e.msgid) for e in _catalogue("es")}
    missing = sorted(msgid for ctxt, msgid in {(e.msgctxt, e.msgid) for e in fresh} - current)
    assert missing == [], "run `make messages` and translate these"


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "sign_in"), [("en", "Sign in"), ("es", "Iniciar sesión"), ("ro", "Autentificare")])
def test_login_page_speaks_the_visitor_language(language, sign_in):
    page = Client(headers={"accept-language": language}).get("/login/")
    assert page.status_code == 200
    assert f'lang="{language}"' in page.content.decode()
    assert sign_in in page.content.decode()


@pytest.mark.parametrize(("language", "expected"), [("es", "Pendiente del cliente"), ("ro", "În așteptarea clientului")])
def test_model_choices_are_translated(language, expected):
    from tickets.models import Ticket

    with translation.override(language):
        assert str(Ticket.Status.PENDING.label) == expected


@pytest.mark.django_db
def test_agent_sees_the_profile_language_until_choosing_another(client, alice):
    alice.agent_profile.language = "ro"
    alice.agent_profile.save()
    client.force_login(alice)

    inbox = client.get("/tickets/", headers={"accept-language": "es"})
    assert 'lang="ro"' in inbox.content.decode()
    assert inbox["Content-Language"] == "ro"

    client.post("/i18n/setlang/", {"language": "es", "next": "/tickets/"})
    assert 'lang="es"' in client.get("/tickets/").content.decode()
