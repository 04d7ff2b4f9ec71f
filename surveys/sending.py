"""Putting a survey in front of the customer, on the channel of their ticket.

- **Email** (and the shop channels, whose customers we know by email): a mail with the question and
  one link per score, as HTML and plain text, in the customer's language. When the ticket came
  through a mailbox with an SMTP server, the survey leaves from that mailbox, as the agents' replies
  do (`channels_ingest.email.send`), so it comes from the address the customer wrote to. Otherwise
  (no mailbox, or a mailbox fed only by an inbound service with no SMTP set) it goes through
  Django's email backend from DEFAULT_FROM_EMAIL under the store's name.
- **Chat, WhatsApp, SMS, Messenger, Instagram, other marketplaces**: a short message with the link,
  added to the ticket as an outbound system message; the channel's adapter sends it on the outbound
  road (`channels_ingest.outbound`) like any reply, and its delivery state shows in the ticket.

Both raise `ChannelError(permanent=...)` when the survey cannot be sent.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from channels_ingest.base import ChannelError
from channels_ingest.email import send
from surveys.models import Survey, SurveySettings
from surveys.questions import question_text, scale
from tickets.models import Channel, Message

EMAIL_CHANNELS = frozenset({Channel.EMAIL, Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.API})
MESSAGE_CHANNELS = frozenset({
    Channel.CHAT, Channel.WHATSAPP, Channel.SMS, Channel.MESSENGER, Channel.INSTAGRAM, Channel.MARKETPLACE,
})


def answer_url(token: str, kind: str | None = None, score: int | None = None) -> str:
    url = django_settings.PUBLIC_URL + reverse("surveys:answer", args=[token])
    return f"{url}?kind={kind}&score={score}" if kind and score is not None else url


def email_context(survey: Survey, token: str, survey_settings: SurveySettings | None) -> dict:
    """What the survey email shows; call inside the customer's language."""
    kind = survey.kinds[0]
    store_name = survey.store.name
    return {
        "store_name": store_name,
        "customer_name": survey.customer.name,
        "ticket_id": survey.ticket_id,
        "subject": survey.ticket.subject,
        "question": question_text(kind, settings=survey_settings, language=survey.language, store_name=store_name),
        "choices": [
            {"score": score, "label": label, "url": answer_url(token, kind, score)} for score, label in scale(kind)
        ],
        "low_label": scale(kind)[0][1],
        "high_label": scale(kind)[-1][1],
        "page_url": answer_url(token),
        "expires_at": survey.expires_at,
    }


def email_subject(survey: Survey) -> str:
    # "[#123]", as in the agents' replies: a reply to the survey mail joins the ticket.
    text = _("How did we do? Your request with %(store)s") % {"store": survey.store.name}
    return f"{text} [#{survey.ticket_id}]"


def _recipient(survey: Survey) -> str:
    # The same choice of address as an agent's reply: the Reply-To or From of the customer's latest
    # mail, else their address for this mailbox, else their global one. It reads only the ticket
    # and the account of the message it is given.
    ticket = survey.ticket
    probe = Message(ticket=ticket, channel_account=ticket.channel_account)
    return send.resolve_recipient(probe, send.latest_inbound_message(ticket))


def _mailbox_with_smtp(survey: Survey):
    account = survey.ticket.channel_account
    if account is None or account.channel != Channel.EMAIL:
        return None
    account_settings = account.settings if isinstance(account.settings, dict) else {}
    return account if account_settings.get("smtp_host") else None


def send_survey_email(survey: Survey, token: str, survey_settings: SurveySettings | None) -> dict:
    """Send the survey by email; returns what was done (recipient, sender, transport)."""
    recipient = _recipient(survey)
    with override(survey.language):
        context = email_context(survey, token, survey_settings)
        subject = send.clean_header_value(email_subject(survey))
        text = render_to_string("surveys/email.txt", context)
        html = render_to_string("surveys/email.html", context)
    account = _mailbox_with_smtp(survey)
    if account is not None:
        sender = send.mailbox_address(account)
        account_settings = account.settings if isinstance(account.settings, dict) else {}
        from_name = send.clean_header_value(account_settings.get("from_name") or survey.store.name)
        domain = sender.rpartition("@")[2]
        mime = EmailMessage()
        mime["From"] = Address(display_name=from_name, addr_spec=sender) if from_name else sender
        mime["To"] = recipient
        mime["Subject"] = subject
        mime["Date"] = format_datetime(timezone.now())
        mime["Message-ID"] = make_msgid(f"survey.{survey.pk}", domain=domain)
        # A machine's message (RFC 3834): out-of-office replies must not answer it.
        mime["Auto-Submitted"] = "auto-generated"
        mime["X-Auto-Response-Suppress"] = "All"
        mime.set_content(text)
        mime.add_alternative(html, subtype="html")
        send.deliver(mime, sender=sender, recipient=recipient, smtp=send.smtp_settings(account), helo=domain)
        return {"to": recipient, "from": sender, "transport": "mailbox"}
    sender = formataddr((send.clean_header_value(survey.store.name), django_settings.DEFAULT_FROM_EMAIL))
    mail = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender, to=[recipient],
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    mail.attach_alternative(html, "text/html")
    try:
        mail.send()
    except OSError as exc:  # smtplib errors are OSErrors: a passing fault, tried again
        raise ChannelError(_("The email backend could not send the survey: %(error)s") % {"error": exc},
                           permanent=False) from exc
    return {"to": recipient, "from": django_settings.DEFAULT_FROM_EMAIL, "transport": "django"}


def link_message_text(survey: Survey, token: str, survey_settings: SurveySettings | None) -> str:
    with override(survey.language):
        kind = survey.kinds[0]
        question = question_text(kind, settings=survey_settings, language=survey.language,
                                 store_name=survey.store.name)
        return _("%(question)s Tell us in one tap: %(link)s") % {"question": question, "link": answer_url(token)}


def send_survey_message(survey: Survey, token: str, survey_settings: SurveySettings | None) -> dict:
    """Queue the survey link as an outbound message on the ticket's own channel."""
    from tickets.actions import add_message  # tickets.actions imports surveys lazily too

    ticket = survey.ticket
    if ticket.channel_account_id is None:
        raise ChannelError(_("The ticket has no channel account to send the survey on."), permanent=True)
    message = add_message(
        ticket=ticket,
        direction=Message.Direction.OUTBOUND,
        author_type=Message.AuthorType.SYSTEM,
        # An automatic message: sent like a reply, but nobody's answer (no response time, no SLA).
        is_auto_reply=True,
        body_text=link_message_text(survey, token, survey_settings),
        metadata={"survey_id": survey.pk},
    )
    return {"message_id": message.pk, "transport": "outbound"}
