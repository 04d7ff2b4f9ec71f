"""The ticket page's composer: a reply on one of the customer's channels or an internal note, with
attachments, @mentions, canned responses, "send and set status", and the checks made before
anything is sent.

Before a reply leaves, the composer holds it back (nothing is stored, the text is kept, the page
says why and offers "Send anyway") when:
- a customer message or another agent's reply arrived after the last message the agent saw
  (`last_seen_message_id`, posted by the page): they may be answering a question already answered;
- Amazon's buyer-messaging rules would refuse or flag it (links, email addresses, phone numbers,
  attachment types);
- the channel's reply window is closed with no fallback, or the customer texted STOP: the provider
  would not deliver it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tickets import actions
from tickets.delivery import (
    REPLY_WINDOW_HOURS,
    ReplyWindow,
    last_customer_message_time_on,
    phone_opted_out,
    reply_window,
)
from tickets.models import (
    Attachment,
    CannedResponse,
    Channel,
    ChannelAccount,
    ChannelIdentity,
    Message,
    Ticket,
)

MAX_ATTACHMENTS = 10
# Statuses "send and set status" offers: the usual ends of a reply.
THEN_STATUSES = (Ticket.Status.PENDING, Ticket.Status.ON_HOLD, Ticket.Status.SOLVED)

# The channel a reply takes to reach an identity of this kind (identities on marketplaces and
# shops are answered on their own tickets' threads only).
IDENTITY_CHANNELS = {
    ChannelIdentity.Kind.EMAIL: Channel.EMAIL,
    ChannelIdentity.Kind.WHATSAPP: Channel.WHATSAPP,
    ChannelIdentity.Kind.PHONE: Channel.SMS,
    ChannelIdentity.Kind.MESSENGER_PSID: Channel.MESSENGER,
    ChannelIdentity.Kind.INSTAGRAM: Channel.INSTAGRAM,
}
# Page-scoped identities can only be written to through their own account.
ACCOUNT_SCOPED = {ChannelIdentity.Kind.MESSENGER_PSID, ChannelIdentity.Kind.INSTAGRAM}


# --- Where a reply can go -------------------------------------------------------------------


@dataclass(frozen=True)
class SendOption:
    key: str  # "" for the ticket's own channel, else the identity's id
    label: str
    channel: str
    account: ChannelAccount | None = None
    recipient: str = ""
    identity: ChannelIdentity | None = None

    @property
    def is_ticket_channel(self) -> bool:
        return self.key == ""


def send_options(ticket: Ticket, identities: list[ChannelIdentity]) -> list[SendOption]:
    """The ticket's own channel first, then each other channel of the customer the store can
    write on (an active account of that channel in the ticket's store). One query (the accounts)."""
    ticket_channel = Channel(ticket.channel).label if ticket.channel in Channel.values else ticket.channel
    options = [SendOption(key="", label=_("%(channel)s (this conversation)") % {"channel": ticket_channel},
                          channel=ticket.channel, account=ticket.channel_account)]
    wanted = {IDENTITY_CHANNELS[i.kind] for i in identities if i.kind in IDENTITY_CHANNELS}
    if not wanted:
        return options
    accounts = list(
        ChannelAccount.objects.filter(store_id=ticket.store_id, channel__in=wanted,
                                      status=ChannelAccount.Status.ACTIVE).order_by("pk")
    )
    first_of_channel: dict[str, ChannelAccount] = {}
    for account in accounts:
        first_of_channel.setdefault(account.channel, account)
    by_id = {account.pk: account for account in accounts}
    for identity in identities:
        channel = IDENTITY_CHANNELS.get(identity.kind)
        if channel is None:
            continue
        if identity.kind in ACCOUNT_SCOPED:
            account = by_id.get(identity.account_id)
        else:
            account = by_id.get(identity.account_id) or first_of_channel.get(channel)
        if account is None:
            continue
        if channel == ticket.channel and account.pk == ticket.channel_account_id and (
            identity.value == ticket.external_thread_id or channel == Channel.EMAIL
        ):
            continue  # that is the ticket's own conversation
        options.append(SendOption(
            key=str(identity.pk),
            label=_("%(channel)s: %(handle)s") % {"channel": Channel(channel).label,
                                                  "handle": identity.display_name or identity.value},
            channel=channel, account=account, recipient=identity.value, identity=identity,
        ))
    return options


# --- The form -------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"class": "input", "id": "composer-files"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class ComposerForm(forms.Form):
    KIND_REPLY = Message.Direction.OUTBOUND
    KIND_NOTE = Message.Direction.NOTE

    kind = forms.ChoiceField(
        label=gettext_lazy("Type"),
        choices=[
            (KIND_REPLY, gettext_lazy("Reply to the customer")),
            (KIND_NOTE, gettext_lazy("Internal note")),
        ],
        initial=KIND_REPLY,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=20000,
        strip=True,
        widget=forms.Textarea(attrs={
            "rows": 5, "class": "textarea", "id": "composer-body",
            "placeholder": gettext_lazy("Write your message…"),
            "aria-describedby": "composer-help",
        }),
    )
    send_via = forms.ChoiceField(label=gettext_lazy("Send on"), required=False, choices=[("", "")],
                                 widget=forms.Select(attrs={"class": "select", "id": "composer-channel"}))
    then_status = forms.ChoiceField(
        label=gettext_lazy("After sending, mark the ticket as"), required=False,
        choices=[("", gettext_lazy("unchanged")), *[(s.value, s.label) for s in THEN_STATUSES]],
        widget=forms.Select(attrs={"class": "select", "id": "composer-then-status"}),
    )
    attachments = MultipleFileField(label=gettext_lazy("Attach files"), required=False)
    last_seen_message_id = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    # Offered only once a check has found something: the agent then decides.
    confirm_amazon_rules = forms.BooleanField(label=gettext_lazy("Send anyway"), required=False)
    confirm_newer = forms.BooleanField(label=gettext_lazy("Send anyway"), required=False)
    confirm_window = forms.BooleanField(label=gettext_lazy("Send anyway"), required=False)

    def __init__(self, *args, options: list[SendOption] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = {option.key: option for option in (options or [SendOption("", "", "")])}
        self.fields["send_via"].choices = [(option.key, option.label) for option in self.options.values()]

    def clean_attachments(self) -> list[UploadedFile]:
        files = self.cleaned_data.get("attachments") or []
        if len(files) > MAX_ATTACHMENTS:
            raise forms.ValidationError(
                _("Attach at most %(count)d files.") % {"count": MAX_ATTACHMENTS})
        limit = settings.ATTACHMENT_MAX_BYTES
        if sum(upload.size for upload in files) > limit:
            raise forms.ValidationError(
                _("The attachments are larger than %(limit)s together.") % {"limit": filesizeformat(limit)})
        return files

    def clean(self) -> dict:
        data = super().clean()
        if data.get("kind") == self.KIND_NOTE:
            data["send_via"] = ""
            data["then_status"] = data.get("then_status") or ""
        return data

    @property
    def option(self) -> SendOption:
        return self.options.get(self.cleaned_data.get("send_via") or "", next(iter(self.options.values())))


# --- Checks before sending ------------------------------------------------------------------


def newer_activity(ticket: Ticket, last_seen_id: int | None, user) -> list[Message]:
    """Customer messages and other agents' replies that arrived after `last_seen_id` (None: the
    client did not say what it saw, nothing is checked). Automatic replies do not count."""
    if last_seen_id is None:
        return []
    return list(
        Message.objects.filter(ticket=ticket, pk__gt=last_seen_id, is_auto_reply=False)
        .filter(
            Q(direction=Message.Direction.INBOUND)
            | (Q(direction=Message.Direction.OUTBOUND) & ~Q(author_user_id=user.pk))
        )
        .select_related("author_user", "author_customer")
        .order_by("pk")[:10]
    )


@dataclass(frozen=True)
class WindowWarning:
    text: str
    blocks: bool  # True: the provider would not deliver it; False: a note for the agent


def _channel_window(ticket: Ticket, option: SendOption, now: datetime) -> ReplyWindow | None:
    """The reply window on another of the customer's channels: from their last message on that
    account, on any of their tickets."""
    if option.channel == Channel.SMS:
        opted_out_at = phone_opted_out(option.recipient) if option.recipient else None
        return ReplyWindow(closes_at=None, is_open=False, opted_out_at=opted_out_at) if opted_out_at else None
    hours = REPLY_WINDOW_HOURS.get(option.channel)
    if hours is None:
        return None
    last = last_customer_message_time_on(ticket.customer_id, option.account.pk if option.account else None)
    closes_at = last + timedelta(hours=hours) if last else None
    return ReplyWindow(closes_at=closes_at, is_open=closes_at is not None and now <= closes_at)


def window_for(ticket: Ticket, option: SendOption, now: datetime | None = None) -> ReplyWindow | None:
    now = now or timezone.now()
    return reply_window(ticket, now) if option.is_ticket_channel else _channel_window(ticket, option, now)


def window_warning(window: ReplyWindow | None) -> WindowWarning | None:
    """What to tell the agent about a closed window; None when a reply goes through."""
    if window is None or window.is_open:
        return None
    if window.opted_out_at:
        return WindowWarning(_("The customer texted STOP: the reply will not be sent until they text START."), True)
    if window.fallback == "human_agent":
        return WindowWarning(_("The reply window is closed: the reply goes out with the human agent tag."), False)
    if window.fallback == "template":
        return WindowWarning(_("The reply window is closed: the reply goes out as the approved template."), False)
    if window.closes_at is not None:
        return WindowWarning(_("The reply window closed: the provider will refuse a reply until the customer writes "
                               "again."), True)
    return WindowWarning(_("The customer has not written on this channel yet: the provider will refuse a reply "
                           "until they do."), True)


def amazon_warnings(ticket: Ticket, option: SendOption, body: str, files: list[UploadedFile]) -> list[str]:
    """What Amazon's buyer-seller messaging guidelines would object to; [] off Amazon."""
    if ticket.channel != Channel.AMAZON or not option.is_ticket_channel:
        return []
    from channels_ingest.email.amazon import check_amazon_reply

    return check_amazon_reply(
        body, [(f.name, f.content_type or "") for f in files], total_bytes=sum(f.size for f in files)
    )


@dataclass
class ComposerResult:
    message: Message | None = None
    newer: list[Message] = field(default_factory=list)
    amazon: list[str] = field(default_factory=list)
    window: WindowWarning | None = None
    status_changed_to: str = ""
    # A browser cannot send files back: names of the attachments to choose again after a hold.
    dropped_files: list[str] = field(default_factory=list)

    @property
    def held_back(self) -> bool:
        return self.message is None


def submit(*, ticket: Ticket, form: ComposerForm, user) -> ComposerResult:
    """Run the checks, then store the reply or note with its attachments, notify mentions and set
    the status asked for, all in one transaction. A check that finds something returns a result
    without a message (nothing is stored) unless the form confirms it."""
    data = form.cleaned_data
    is_reply = data["kind"] == ComposerForm.KIND_REPLY
    option = form.option
    files = data.get("attachments") or []
    result = ComposerResult()
    if is_reply:
        # A note reaches no customer: what arrived meanwhile cannot make it wrong to send.
        if not data.get("confirm_newer"):
            result.newer = newer_activity(ticket, data.get("last_seen_message_id"), user)
        if not data.get("confirm_amazon_rules"):
            result.amazon = amazon_warnings(ticket, option, data["body"], files)
        warning = window_warning(window_for(ticket, option))
        if warning is not None and warning.blocks and not data.get("confirm_window"):
            result.window = warning
    if result.newer or result.amazon or result.window:
        result.dropped_files = [upload.name for upload in files]
        return result

    with transaction.atomic():
        extra = {}
        if is_reply and not option.is_ticket_channel:
            extra = {"channel": option.channel, "channel_account": option.account,
                     "external_thread_id": option.recipient}
        message = actions.add_message(
            ticket=ticket,
            direction=data["kind"],
            body_text=data["body"],
            author_user=user,
            **extra,
        )
        for upload in files:
            attachment = Attachment(message=message, filename=upload.name[:255],
                                    content_type=(upload.content_type or "application/octet-stream")[:150],
                                    size=upload.size)
            attachment.file.save(upload.name, upload, save=True)
        if data["kind"] == ComposerForm.KIND_NOTE:
            from tickets.mentions import notify_mentions

            notify_mentions(message=message, ticket=ticket, author=user)
        if data.get("then_status"):
            changed = actions.change_status(ticket=ticket, status=data["then_status"], actor=user)
            result.status_changed_to = changed.status
    result.message = message
    return result


# --- Canned responses -----------------------------------------------------------------------


def canned_responses(ticket: Ticket, *, query: str = "", limit: int = 200) -> list[CannedResponse]:
    """Canned responses for the ticket's store (and those for every store) whose title contains
    `query`, those in the ticket's language first."""
    rows = CannedResponse.objects.filter(Q(store__isnull=True) | Q(store_id=ticket.store_id))
    if query.strip():
        rows = rows.filter(title__icontains=query.strip())
    language = ticket.language or ""
    rows = list(rows.only("pk", "title", "language", "store_id").order_by("title", "pk")[:limit])
    rows.sort(key=lambda canned: (canned.language != language,))
    return rows


def canned_preview(ticket: Ticket, canned_id: int, agent) -> tuple[CannedResponse, str] | None:
    """The canned response with its variables filled for this ticket, or None when it is not
    offered on this ticket's store."""
    from tickets.canned import render_canned_response

    canned = CannedResponse.objects.filter(
        Q(store__isnull=True) | Q(store_id=ticket.store_id), pk=canned_id
    ).first()
    if canned is None:
        return None
    return canned, render_canned_response(canned, ticket, agent)
