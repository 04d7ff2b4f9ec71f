"""Shared by the eBay tests: an eBay account pointed at a local server on 127.0.0.1 that answers
as eBay's APIs do (OAuth token endpoint, Notification API getPublicKey, Trading API XML,
Fulfillment API JSON), and the corpus' signed account-deletion deliveries."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels_ingest.adapters.ebay import oauth, signature
from tests.factories import ChannelAccountFactory, StoreFactory
from tests.shop_helpers import Answer, Recorded
from tests.webhook_helpers import corpus_bytes, post_webhook
from tickets.models import Channel, ChannelAccount

VERIFICATION_TOKEN = "helpdesk-verification-token-0123456789abcdef"
ENDPOINT_URL = "https://helpdesk.example.com/hooks/ebay/deletion/"
KID = "9936261a-7d7b-4621-a0f1-96ccb428af49"
KEY_PATH = f"/commerce/notification/v1/public_key/{KID}"
TOKEN_PATH = "/identity/v1/oauth2/token"
TRADING_PATH = "/ws/api.dll"
NS = "urn:ebay:apis:eBLBaseComponents"

DELETION = corpus_bytes("webhooks/ebay/marketplace-account-deletion.json")
DELETION_HEADERS = json.loads(corpus_bytes("webhooks/ebay/marketplace-account-deletion.headers.json"))
TAMPERED = corpus_bytes("webhooks/ebay/marketplace-account-deletion-tampered.json")
TAMPERED_HEADERS = json.loads(corpus_bytes("webhooks/ebay/marketplace-account-deletion-tampered.headers.json"))
PUBLIC_KEY = json.loads(corpus_bytes("webhooks/ebay/notification-api-getPublicKey-response.json"))
SDK_CASES = json.loads(corpus_bytes("webhooks/ebay/nodejs-sdk-signature-test-cases.json"))


def ebay_account(server_url: str, **settings) -> ChannelAccount:
    signature.forget_keys()
    oauth.forget_application_tokens()
    account = ChannelAccountFactory(
        store=StoreFactory(currency="EUR"), provider="ebay", channel=Channel.EBAY, external_id="helpdesk-seller",
        settings={"api_base_url": server_url, "deletion_endpoint_url": ENDPOINT_URL, "site_id": "77", **settings},
    )
    account.set_secrets({
        "client_id": "Helpdesk-App-PRD-0123", "client_secret": "PRD-secret", "refresh_token": "v^1.1#refresh",
        "access_token": "v^1.1#user-token", "access_token_expires_at": "2099-01-01T00:00:00+00:00",
        "verification_token": VERIFICATION_TOKEN,
    })
    account.save()
    return account


def header(recorded: Recorded, name: str) -> str:
    """A request header, whatever the case the client wrote its name in."""
    return next((value for key, value in recorded.headers.items() if key.lower() == name.lower()), "")


def headers_of(sample: dict) -> dict:
    return {name: value for name, value in sample.items() if not name.startswith("_") and name != "Content-Type"}


def post_deletion(client, account, body: bytes = DELETION, headers: dict | None = None):
    return post_webhook(client, "ebay", account, body, "application/json",
                        headers_of(DELETION_HEADERS) if headers is None else headers)


def token_answer(recorded: Recorded) -> Answer:
    form = parse_qs(recorded.body.decode())
    grant = form.get("grant_type", [""])[0]
    if grant == "client_credentials":
        return Answer(200, {"access_token": "v^1.1#app-token", "expires_in": 7200, "token_type": "Application Access Token"})
    return Answer(200, {"access_token": "v^1.1#refreshed-user-token", "expires_in": 7200, "token_type": "User Access Token"})


def serve_keys(server, key_answer: dict | None = None, kid: str = KID) -> None:
    server.route("POST", TOKEN_PATH, token_answer)
    server.route("GET", f"/commerce/notification/v1/public_key/{kid}", [Answer(200, key_answer or PUBLIC_KEY)])


def xml_answer(call: str, inner: str = "", ack: str = "Success") -> Answer:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{call}Response xmlns="{NS}">'
            f"<Timestamp>2026-11-22T10:00:00.000Z</Timestamp><Ack>{ack}</Ack>"
            f"<CorrelationID>1234567890</CorrelationID><Version>1355</Version><Build>E1355_CORE_API_1</Build>"
            f"{inner}</{call}Response>").encode()
    return Answer(200, body, {"Content-Type": "text/xml;charset=utf-8"})


def error_xml(call: str, code: str, short: str, long: str, classification: str = "RequestError") -> Answer:
    return xml_answer(call, (
        f"<Errors><ShortMessage>{short}</ShortMessage><LongMessage>{long}</LongMessage>"
        f"<ErrorCode>{code}</ErrorCode><SeverityCode>Error</SeverityCode>"
        f"<ErrorClassification>{classification}</ErrorClassification></Errors>"
    ), ack="Failure")


def message_header(message_id: str, sender: str = "buyer_anna", item_id: str = "110012345678") -> str:
    return (f"<Message><Sender>{sender}</Sender><RecipientUserID>helpdesk-seller</RecipientUserID>"
            f"<Subject>Question about item #{item_id}</Subject><MessageID>{message_id}</MessageID>"
            f"<ExternalMessageID>{message_id}0</ExternalMessageID><Flagged>false</Flagged><Read>false</Read>"
            f"<ReceiveDate>2026-11-22T09:30:00.000Z</ReceiveDate><ItemID>{item_id}</ItemID>"
            f"<Folder><FolderID>0</FolderID></Folder><MessageType>AskSellerQuestion</MessageType></Message>")


def full_message(message_id: str, sender: str = "buyer_anna", item_id: str = "110012345678",
                 text: str = "Does the jacket come in size M?") -> str:
    return (f"<Message><Sender>{sender}</Sender><RecipientUserID>helpdesk-seller</RecipientUserID>"
            f"<SendToName>helpdesk-seller</SendToName><Subject>Question about item #{item_id}</Subject>"
            f"<MessageID>{message_id}</MessageID><ExternalMessageID>{message_id}0</ExternalMessageID>"
            f"<Text>&lt;p&gt;{text}&lt;/p&gt;</Text><Flagged>false</Flagged><Read>false</Read>"
            f"<ReceiveDate>2026-11-22T09:30:00.000Z</ReceiveDate><ItemID>{item_id}</ItemID>"
            f"<ResponseDetails><ResponseEnabled>true</ResponseEnabled></ResponseDetails>"
            f"<Folder><FolderID>0</FolderID></Folder><Content>{text}</Content>"
            f"<MessageType>AskSellerQuestion</MessageType><ItemTitle>Rain jacket</ItemTitle></Message>")


class TradingApi:
    """Answers the Trading API calls the poller and the replies make, from a dict of messages
    {MessageID: (ReceiveDate window check skipped) full XML}; records what was asked."""

    def __init__(self, messages: dict[str, str] | None = None) -> None:
        self.messages = dict(messages or {})
        self.windows: list[tuple[str, str]] = []
        self.fetched: list[str] = []
        self.replies: list[bytes] = []
        self.reply_answers: list[Answer] = []
        self.fail_with: Answer | None = None

    def __call__(self, recorded: Recorded) -> Answer:
        from defusedxml import ElementTree

        call = header(recorded, "X-EBAY-API-CALL-NAME")
        if self.fail_with is not None:
            return self.fail_with
        root = ElementTree.fromstring(recorded.body)
        find = lambda path: [e.text for e in root.findall(path, {"e": NS})]  # noqa: E731
        if call == "GetMyMessages" and find("e:DetailLevel") == ["ReturnHeaders"]:
            self.windows.append((find("e:StartTime")[0], find("e:EndTime")[0]))
            headers = "".join(message_header(mid) for mid in self.messages)
            return xml_answer(call, f"<Messages>{headers}</Messages>")
        if call == "GetMyMessages":
            ids = find("e:MessageIDs/e:MessageID")
            self.fetched.extend(ids)
            return xml_answer(call, "<Messages>" + "".join(self.messages[mid] for mid in ids) + "</Messages>")
        if call == "AddMemberMessageRTQ":
            self.replies.append(recorded.body)
            return self.reply_answers.pop(0) if self.reply_answers else xml_answer(call)
        return error_xml(call, "2", "Unsupported API call.", f"The API call {call} is not supported.")
