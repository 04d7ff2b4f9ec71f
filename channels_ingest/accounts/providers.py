"""What the "Channels" page asks for each provider when an admin connects an account.

Each field names where its value goes: the account's `external_id`, its `settings` (JSON, shown
back) or its `secrets` (encrypted at rest, never shown back). The names are the ones the adapters
read (see each adapter's module docstring and the README's "Connecting channels").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from tickets.models import Channel

EXTERNAL_ID = "external_id"
SETTING = "setting"
SECRET = "secret"


@dataclass(frozen=True)
class Field:
    name: str
    label: Any
    where: str  # EXTERNAL_ID, SETTING or SECRET
    kind: str = "text"  # text, url, int, bool, list (comma or line separated), choice
    required: bool = True
    help: Any = ""
    choices: tuple[tuple[str, Any], ...] = ()
    initial: Any = None


@dataclass(frozen=True)
class ProviderSpec:
    slug: str
    label: Any
    channel: str
    fields: tuple[Field, ...]
    # Whether the provider posts to /hooks/<provider>/<account>/ (its URL is shown after connecting).
    webhook: bool = True
    # What the admin does after saving (shown with the webhook URL).
    next_step: Any = ""

    @property
    def secret_fields(self) -> tuple[Field, ...]:
        return tuple(field for field in self.fields if field.where == SECRET)


SECURITY_CHOICES = (("ssl", _("TLS (SSL)")), ("starttls", "STARTTLS"), ("none", _("None (not encrypted)")))


def _smtp_fields(required: bool) -> tuple[Field, ...]:
    return (
        Field("address", _("Support address"), SETTING, help=_("The address replies are sent from.")),
        Field("from_name", _("Sender name"), SETTING, required=False),
        Field("smtp_host", _("SMTP server"), SETTING, required=required),
        Field("smtp_port", _("SMTP port"), SETTING, kind="int", required=False, initial=587),
        Field("smtp_security", _("SMTP security"), SETTING, kind="choice", choices=SECURITY_CHOICES,
              initial="starttls"),
        Field("smtp_username", _("SMTP user name"), SECRET, required=False),
        Field("smtp_password", _("SMTP password"), SECRET, required=False),
    )


def _meta_fields(id_label, token_name: str, token_label) -> tuple[Field, ...]:
    return (
        Field(EXTERNAL_ID, id_label, EXTERNAL_ID),
        Field("app_secret", _("App secret"), SECRET, help=_("Meta app → App settings → Basic.")),
        Field("verify_token", _("Verify token"), SECRET,
              help=_("A long random string of your choice; enter the same in the app's webhook settings.")),
        Field(token_name, token_label, SECRET),
    )


PROVIDERS: dict[str, ProviderSpec] = {spec.slug: spec for spec in (
    ProviderSpec(
        "shopify", _("Shopify"), Channel.SHOPIFY,
        (
            Field(EXTERNAL_ID, _("Shop domain"), EXTERNAL_ID, help=_("e.g. my-shop.myshopify.com")),
            Field("client_id", _("App client id"), SECRET),
            Field("client_secret", _("App client secret"), SECRET),
            Field("api_version", _("Admin API version"), SETTING, required=False, initial="2025-01"),
        ),
        next_step=_("Install the app on the shop: Shopify asks the shop owner to approve it, then the "
                    "helpdesk subscribes the order webhooks by itself."),
    ),
    ProviderSpec(
        "woocommerce", _("WooCommerce"), Channel.WOOCOMMERCE,
        (
            Field(EXTERNAL_ID, _("Shop domain"), EXTERNAL_ID, help=_("e.g. shop.example.com")),
            Field("site_url", _("Site address"), SETTING, kind="url", help=_("https:// is required.")),
            Field("consumer_key", _("REST API consumer key"), SECRET),
            Field("consumer_secret", _("REST API consumer secret"), SECRET),
            Field("webhook_secret", _("Webhook secret"), SECRET,
                  help=_("A long random string; enter the same as each webhook's secret in WooCommerce.")),
        ),
        next_step=_("In WooCommerce → Settings → Advanced → Webhooks, add Order created, Order updated, "
                    "Customer created and Customer updated with this delivery URL and the webhook secret."),
    ),
    ProviderSpec(
        "amazon", _("Amazon (SP-API)"), Channel.AMAZON,
        (
            Field(EXTERNAL_ID, _("Seller id (merchant token)"), EXTERNAL_ID),
            Field("lwa_client_id", _("LWA client id"), SECRET, help=_("amzn1.application-oa2-client.…")),
            Field("lwa_client_secret", _("LWA client secret"), SECRET),
            Field("refresh_token", _("Refresh token"), SECRET, help=_("Atzr|… shown once when you authorise the app.")),
            Field("marketplace_ids", _("Marketplace ids"), SETTING, kind="list",
                  help=_("Comma separated, e.g. A1RKKUPIHCS9HS, A1F83G8C2ARO7P.")),
            Field("region", _("SP-API region"), SETTING, kind="choice", required=False,
                  choices=(("", _("From the first marketplace")), ("na", _("North America")), ("eu", _("Europe")),
                           ("fe", _("Far East")))),
            Field("sqs_queue_url", _("SQS queue URL"), SETTING, kind="url", required=False,
                  help=_("The queue subscribed to ORDER_CHANGE notifications.")),
            Field("aws_access_key_id", _("AWS access key id"), SECRET, required=False),
            Field("aws_secret_access_key", _("AWS secret access key"), SECRET, required=False),
        ),
        webhook=False,
        next_step=_("Amazon notifications are read from the SQS queue; buyer messages come by the email relay."),
    ),
    ProviderSpec(
        "ebay", _("eBay"), Channel.EBAY,
        (
            Field(EXTERNAL_ID, _("eBay user id of the seller"), EXTERNAL_ID),
            Field("client_id", _("App ID (client id)"), SECRET),
            Field("client_secret", _("Cert ID (client secret)"), SECRET),
            Field("refresh_token", _("User refresh token"), SECRET,
                  help=_("From the seller's consent (User Tokens → Get a Token from eBay via Your Application).")),
            Field("verification_token", _("Verification token"), SECRET,
                  help=_("32 to 80 letters, digits, _ or -; enter the same for Marketplace Account Deletion.")),
            Field("site_id", _("Trading API site id"), SETTING, required=False, initial="0",
                  help=_("0 US, 3 UK, 77 Germany, 186 Spain…")),
            Field("deletion_endpoint_url", _("Account deletion endpoint URL"), SETTING, kind="url", required=False,
                  help=_("Exactly the URL entered at eBay; leave empty to use the webhook URL below.")),
        ),
        next_step=_("In the eBay developer portal, Alerts & Notifications → Marketplace Account Deletion: enter "
                    "this URL and the verification token."),
    ),
    ProviderSpec(
        "messenger", _("Facebook Messenger"), Channel.MESSENGER,
        (*_meta_fields(_("Page id"), "page_access_token", _("Page access token")),
         Field("human_agent_tag", _("The app has the Human Agent permission"), SETTING, kind="bool", required=False)),
        next_step=_("In the Meta app's Webhooks settings, subscribe the page with this callback URL and the verify "
                    "token."),
    ),
    ProviderSpec(
        "instagram", _("Instagram"), Channel.INSTAGRAM,
        (*_meta_fields(_("Instagram account id"), "page_access_token", _("Page access token")),
         Field("human_agent_tag", _("The app has the Human Agent permission"), SETTING, kind="bool", required=False)),
        next_step=_("In the Meta app's Webhooks settings (object Instagram), enter this callback URL and the verify "
                    "token."),
    ),
    ProviderSpec(
        "whatsapp", _("WhatsApp"), Channel.WHATSAPP,
        (*_meta_fields(_("Phone number id"), "access_token", _("System user access token")),
         Field("template_name", _("Reply template name"), SETTING, required=False,
               help=_("An approved template with one body parameter, sent outside the 24-hour window.")),
         Field("template_language", _("Template language"), SETTING, required=False)),
        next_step=_("WhatsApp → Configuration → Webhook: enter this callback URL and the verify token, and "
                    "subscribe to messages."),
    ),
    ProviderSpec(
        "twilio", _("Twilio SMS"), Channel.SMS,
        (
            Field(EXTERNAL_ID, _("Phone number (E.164)"), EXTERNAL_ID, help=_("e.g. +34600000000")),
            Field("account_sid", _("Account SID"), SECRET),
            Field("auth_token", _("Auth token"), SECRET),
            Field("messaging_service_sid", _("Messaging Service SID"), SETTING, required=False),
            Field("public_base_url", _("Public address of the helpdesk"), SETTING, kind="url", required=False,
                  help=_("Only behind a proxy whose address differs from HELPDESK_PUBLIC_URL.")),
        ),
        next_step=_("On the number (or Messaging Service), set \"A message comes in\" to this URL, HTTP POST."),
    ),
    ProviderSpec(
        "imap", _("Email mailbox (IMAP and SMTP)"), Channel.EMAIL,
        (
            Field("imap_host", _("IMAP server"), SETTING),
            Field("imap_port", _("IMAP port"), SETTING, kind="int", required=False, initial=993),
            Field("imap_security", _("IMAP security"), SETTING, kind="choice", choices=SECURITY_CHOICES, initial="ssl"),
            Field("imap_folders", _("Folders to read"), SETTING, kind="list", required=False, initial="INBOX"),
            Field("imap_move_to", _("Move imported mail to"), SETTING, required=False),
            Field("imap_username", _("IMAP user name"), SECRET),
            Field("imap_password", _("IMAP password"), SECRET),
            *_smtp_fields(required=True),
        ),
        webhook=False,
        next_step=_("The mailbox is read every minute."),
    ),
    ProviderSpec(
        "mailgun", _("Email by Mailgun"), Channel.EMAIL,
        (Field("webhook_signing_key", _("HTTP webhook signing key"), SECRET), *_smtp_fields(required=False)),
        next_step=_("Create a Mailgun Route whose action forwards to this URL."),
    ),
    ProviderSpec(
        "sendgrid", _("Email by SendGrid Inbound Parse"), Channel.EMAIL,
        (Field("webhook_secret", _("Basic auth user:password"), SECRET), *_smtp_fields(required=False)),
        next_step=_("Enter this URL with the user:password before the host as the Inbound Parse destination."),
    ),
    ProviderSpec(
        "postmark", _("Email by Postmark inbound"), Channel.EMAIL,
        (Field("webhook_secret", _("Basic auth user:password"), SECRET), *_smtp_fields(required=False)),
        next_step=_("Enter this URL with the user:password before the host as the inbound webhook URL."),
    ),
    ProviderSpec(
        "mime", _("Email by raw MIME post"), Channel.EMAIL,
        (Field("signing_secret", _("Signing secret"), SECRET), *_smtp_fields(required=False)),
        next_step=_("Post each message to this URL with X-Helpdesk-Signature (see the README)."),
    ),
    ProviderSpec(
        "generic", _("Any other marketplace or shop (generic webhook)"), Channel.MARKETPLACE,
        (
            Field(EXTERNAL_ID, _("Your id for this source"), EXTERNAL_ID, required=False,
                  help=_("e.g. the marketplace's seller id; optional.")),
            Field("signing_secret", _("Signing secret"), SECRET),
        ),
        next_step=_("Sign each JSON post with the signing secret (see the README's example with curl and openssl)."),
    ),
)}


def spec_for(provider: str) -> ProviderSpec | None:
    return PROVIDERS.get(provider)
