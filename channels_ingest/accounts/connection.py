"""The "Test" button of the Channels page: one cheap, documented read call per provider, through
the provider's own client, that proves the credentials work.

- Shopify: GET /admin/api/<version>/shop.json (https://shopify.dev/docs/api/admin-rest/latest/resources/shop)
- WooCommerce: GET /wp-json/wc/v3/orders?per_page=1 (the keys must read orders)
- Amazon: the LWA token exchange, then GET /sellers/v1/marketplaceParticipations; the SQS queue's
  attributes when a queue is set
- eBay: the refresh-token exchange, then GET /sell/fulfillment/v1/order?limit=1
- Messenger, Instagram: GET /me with the page token; WhatsApp: GET /<phone number id>
- Twilio: GET /2010-04-01/Accounts/<sid>.json
- IMAP: log in and open the first folder read-only; SMTP (when set): log in
- Webhook-only providers (generic, raw MIME, Mailgun, SendGrid, Postmark): nothing to call, the
  signing secret must be set (and the SMTP login works, when set)

Refused credentials mark the account's credentials expired (channels_ingest.accounts.health); a
success clears that mark. Nothing else changes, and no message ever contains a secret.
"""

from __future__ import annotations

import imaplib
import json
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from channels_ingest.accounts import health
from channels_ingest.accounts.providers import spec_for
from channels_ingest.base import ChannelError
from tickets.models import ChannelAccount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


class _Refused(Exception):
    """The provider refused the credentials (a check without a ChannelError of its own)."""


def _shopify(account: ChannelAccount) -> str:
    from channels_ingest.adapters.shopify.client import ShopifyClient

    client = ShopifyClient(account)
    shop = (client._call("GET", client._url("shop.json")).data or {}).get("shop") or {}
    return _("Shopify answered for the shop %(name)s (%(domain)s).") % {
        "name": shop.get("name", ""), "domain": shop.get("myshopify_domain") or account.external_id}


def _woocommerce(account: ChannelAccount) -> str:
    from channels_ingest.adapters.woocommerce.client import WooCommerceClient

    answer = WooCommerceClient(account)._call("GET", "orders", {"per_page": 1})
    total = answer.headers.get("X-WP-Total") or str(len(answer.data or []))
    return _("WooCommerce accepted the REST API keys; the shop has %(count)s order(s).") % {"count": total}


def _amazon(account: ChannelAccount) -> str:
    from channels_ingest.adapters.amazon_sp import sqs
    from channels_ingest.adapters.amazon_sp.client import SpApiClient

    client = SpApiClient(account)
    client.access_token(force=True)
    participations = client.call("GET", "/sellers/v1/marketplaceParticipations").get("payload") or []
    names = [
        str((item.get("marketplace") or {}).get("name") or (item.get("marketplace") or {}).get("id") or "")
        for item in participations if isinstance(item, dict)
    ]
    message = _("Amazon accepted the refresh token; the seller sells on %(marketplaces)s.") % {
        "marketplaces": ", ".join(name for name in names if name) or "—"}
    url = sqs.queue_url(account)
    if not url:
        return message + " " + _("No SQS queue is set: order notifications are not read.")
    try:
        attributes = sqs.sqs_client(account).get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    except Exception as exc:  # botocore raises many types: each one is the answer to show
        raise ChannelError(_("The SQS queue cannot be read: %(error)s") % {"error": exc}, permanent=True) from None
    return message + " " + _("The SQS queue is readable; %(count)s notification(s) waiting.") % {
        "count": attributes.get("ApproximateNumberOfMessages", "0")}


def _ebay(account: ChannelAccount) -> str:
    from channels_ingest.adapters.ebay import oauth
    from channels_ingest.adapters.ebay.orders import FulfillmentClient

    oauth.refresh_user_token(account)
    page = FulfillmentClient(account)._get(f"{oauth.api_base_url(account)}/sell/fulfillment/v1/order?limit=1")
    return _("eBay accepted the refresh token; the Fulfillment API lists %(count)s order(s).") % {
        "count": page.get("total", len(page.get("orders") or []))}


def _meta(account: ChannelAccount) -> str:
    from channels_ingest.adapters.meta import client

    secrets = account.get_secrets()
    if account.provider == "whatsapp":
        token = secrets.get("access_token") or ""
        path = f"{account.external_id}?fields=display_phone_number,verified_name"
    else:
        token = secrets.get("page_access_token") or ""
        path = "me?fields=id,name"
    if not token:
        raise _Refused(_("No access token is set."))
    answer = client.request_json("GET", client.graph_url(account, path), token)
    name = answer.get("verified_name") or answer.get("name") or answer.get("display_phone_number") or answer.get("id")
    return _("Meta accepted the access token for %(name)s.") % {"name": name or account.external_id}


def _twilio(account: ChannelAccount) -> str:
    from urllib.parse import quote

    from channels_ingest.adapters.twilio import client

    credentials = client.credentials_for(account)
    if not credentials.account_sid or not credentials.auth_token:
        raise _Refused(_("The Account SID or the auth token is missing."))
    raw, _type = client.fetch_media(credentials, f"/2010-04-01/Accounts/{quote(credentials.account_sid)}.json",
                                    1_000_000)
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    return _("Twilio accepted the credentials of %(name)s (status: %(status)s).") % {
        "name": data.get("friendly_name") or credentials.account_sid, "status": data.get("status", "?")}


def _imap(account: ChannelAccount) -> str:
    from channels_ingest.adapters.imap import poller
    from channels_ingest.adapters.imap.mailbox_names import quote_mailbox

    try:
        config = poller.ImapSettings.from_account(account)
    except poller.ImapConfigError as exc:
        raise ChannelError(_("The mailbox settings are incomplete: %(error)s") % {"error": exc}, permanent=True) from None
    try:
        connection = poller.connect(config)
    except (OSError, imaplib.IMAP4.error, EOFError) as exc:
        raise ChannelError(_("Cannot connect to %(host)s:%(port)s: %(error)s")
                           % {"host": config.host, "port": config.port, "error": exc}, permanent=False) from None
    try:
        try:
            poller._login(connection, config)
        except imaplib.IMAP4.error as exc:
            raise _Refused(_("The IMAP server refused the login: %(error)s") % {"error": _imap_text(exc)}) from None
        folder = config.folders[0] if config.folders else "INBOX"
        status, data = connection.select(quote_mailbox(folder), readonly=True)
        if status != "OK":
            raise ChannelError(_("The folder %(folder)s cannot be opened.") % {"folder": folder}, permanent=True)
        count = data[0].decode() if data and isinstance(data[0], bytes) else "?"
    finally:
        try:
            connection.logout()
        except Exception:  # noqa: BLE001 - closing a connection that may be gone
            pass
    message = _("IMAP login works; %(folder)s has %(count)s message(s).") % {"folder": folder, "count": count}
    return message + _smtp_suffix(account)


def _imap_text(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _smtp_suffix(account: ChannelAccount) -> str:
    if not (account.settings or {}).get("smtp_host"):
        return ""
    return " " + _smtp(account)


def _smtp(account: ChannelAccount) -> str:
    from channels_ingest.email.send import SMTP_TIMEOUT_SECONDS, smtp_channel_error, smtp_settings

    smtp = smtp_settings(account)
    try:
        if smtp.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, local_hostname="localhost",
                                                        timeout=SMTP_TIMEOUT_SECONDS,
                                                        context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(smtp.host, smtp.port, local_hostname="localhost", timeout=SMTP_TIMEOUT_SECONDS)
        with connection:
            connection.ehlo()
            if smtp.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if smtp.username:
                connection.login(smtp.username, smtp.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise _Refused(str(smtp_channel_error(exc, smtp))) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise smtp_channel_error(exc, smtp) from None
    return _("SMTP login works.") if smtp.username else _("The SMTP server answers.")


def _webhook_only(account: ChannelAccount) -> str:
    spec = spec_for(account.provider)
    secrets = account.get_secrets()
    missing = [str(field.label) for field in (spec.secret_fields if spec else ()) if field.required
               and not secrets.get(field.name)]
    if missing:
        raise ChannelError(_("Not set: %(fields)s.") % {"fields": ", ".join(missing)}, permanent=True)
    return _("Nothing to call at the provider: deliveries are checked with the signing secret, which is set.") \
        + _smtp_suffix(account)


CHECKS: dict[str, Callable[[ChannelAccount], str]] = {
    "shopify": _shopify,
    "woocommerce": _woocommerce,
    "amazon": _amazon,
    "ebay": _ebay,
    "messenger": _meta,
    "instagram": _meta,
    "whatsapp": _meta,
    "twilio": _twilio,
    "imap": _imap,
    "generic": _webhook_only,
    "mime": _webhook_only,
    "mailgun": _webhook_only,
    "sendgrid": _webhook_only,
    "postmark": _webhook_only,
}


def check_connection(account: ChannelAccount) -> ConnectionCheck:
    """Call the provider once with the account's credentials; see the module docstring."""
    check = CHECKS.get(account.provider)
    if check is None:
        return ConnectionCheck(False, _("There is no connection test for the provider %(provider)s.")
                               % {"provider": account.provider})
    try:
        message = check(account)
    except _Refused as exc:
        reason = _("Credentials refused: %(error)s") % {"error": exc}
        health.mark_credentials_expired(account, reason)
        return ConnectionCheck(False, reason)
    except ChannelError as exc:
        if health.is_credentials_refusal(exc):
            reason = _("Credentials refused or expired: %(error)s") % {"error": getattr(exc, "detail", "") or exc}
            health.mark_credentials_expired(account, reason)
            return ConnectionCheck(False, reason)
        return ConnectionCheck(False, str(exc))
    except Exception as exc:  # an adapter bug: say so rather than break the page
        logger.exception("connection test of account %s failed", account.pk)
        return ConnectionCheck(False, _("The test failed with an internal error: %(error)s")
                               % {"error": type(exc).__name__})
    account.refresh_from_db(fields=["credentials_expired_at", "status"])
    if account.credentials_expired_at is not None or account.status == ChannelAccount.Status.ERROR:
        health.clear_credentials_expired(account)
    return ConnectionCheck(True, message)
