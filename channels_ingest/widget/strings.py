"""The widget's own texts, translated in the active language and sent with its script."""

from __future__ import annotations

from django.utils.translation import gettext as _


def widget_strings() -> dict[str, str]:
    return {
        "open": _("Chat with us"),
        "close": _("Close the chat"),
        "placeholder": _("Write a message…"),
        "send": _("Send"),
        "attach": _("Attach a file"),
        "attachFirst": _("Write a message first, then you can attach files."),
        "typing": _("Typing…"),
        "agent": _("Support"),
        "bot": _("Assistant"),
        "you": _("You"),
        "reconnecting": _("Reconnecting…"),
        "unavailable": _("The chat is not available on this page."),
        "emailPrompt": _("Leave your email address and we will answer there if you have gone:"),
        "emailPlaceholder": _("you@example.com"),
        "emailSave": _("Save"),
        "emailSaved": _("If you leave, we will answer at %(email)s."),
        "fileTooLarge": _("The file is too large: at most %(size)s MB."),
        "uploadFailed": _("The file could not be sent."),
        "downloadFailed": _("The file could not be opened."),
        "handedOff": _("A person from our team will answer here."),
        "uploading": _("Sending %(name)s…"),
    }
