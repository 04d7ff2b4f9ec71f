"""Raw email to NormalizedMessage: every sample of the shared corpus parses, and the interesting
ones come out exactly as a reader would expect. Pure functions: no database."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels_ingest.base import NormalizedMessage, ParseError
from channels_ingest.email.html_text import html_to_text
from channels_ingest.email.parse import (
    decode_bytes,
    decode_header_text,
    parse_email,
    parse_email_message,
    strip_quoted_text,
)

# The shared corpus sits beside the repository (../shared/corpus).
EMAILS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"
CORPUS = sorted(EMAILS.glob("*.eml"))


def parse(name: str, **kwargs) -> NormalizedMessage:
    return parse_email((EMAILS / name).read_bytes(), **kwargs)


def test_the_corpus_is_there():
    assert len(CORPUS) == 40


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_every_corpus_email_parses_into_clean_text(path: Path):
    message = parse_email(path.read_bytes())
    assert message.channel == "email"
    assert message.external_id
    assert message.customer.kind == "email"
    for text in (message.body_text, message.visible_text, message.subject, message.body_html, message.customer.display_name):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates: PostgreSQL must be able to store it
    assert message.visible_text.strip() in message.body_text or not message.body_text
    assert message.sent_at is None or message.sent_at.tzinfo is not None
    # Something a person can read, or an attachment that carries the content.
    assert message.body_text.strip() or message.attachments
    for attachment in message.attachments:
        assert attachment.filename and "/" not in attachment.filename
        assert not attachment.content_id.startswith("<")


# --- Charsets ---------------------------------------------------------------------------------


def test_koi8_r_body_and_subject_decode_to_cyrillic():
    message = parse("thunderbird-sample04-koi8-r.eml")
    assert message.subject == "Алфавит"
    assert message.body_text == "Вопрос"
    assert message.external_id == "04.eml@mime.sample"
    assert message.customer.value == "new@thunderbird.bug"
    assert message.customer.display_name == "Bug Reporter"
    assert message.sent_at == datetime(2001, 5, 27, 20, 23, 35, tzinfo=UTC)


def test_windows_1251_body_and_subject_decode_to_cyrillic():
    message = parse("thunderbird-sample05-windows-1251.eml")
    assert message.subject == "Алфавит"
    assert message.body_text == "Вопрос"


def test_iso_2022_jp_decodes_to_japanese():
    message = parse("mikel-mail-japanese-iso-2022-jp.eml")
    assert message.subject == "まみむめも"
    assert message.body_text == "すみません。"
    # No Message-ID: the id is the digest of the bytes, so a redelivery is still recognised.
    raw = (EMAILS / "mikel-mail-japanese-iso-2022-jp.eml").read_bytes()
    assert message.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_shift_jis_decodes_to_japanese():
    message = parse("mikel-mail-japanese-shift-jis.eml")
    assert message.body_text == (
        "あいうえお\n\nこのメールはテスト用のメールです。\n\n今後ともよろしくお願い申し上げます！"
    )


def test_ks_c_5601_1987_is_read_as_cp949():
    assert parse("mikel-mail-ks-c-5601-1987.eml").body_text == "스티해"


def test_windows_1252_quoted_printable():
    message = parse("hunnysoft-m0010-outlook-windows-1252.eml")
    assert message.subject == "Die Hasen und die Frösche (Microsoft Outlook 00)"
    assert message.body_text.startswith("Die Hasen und die Frösche\n\nDie Hasen klagten einst über ihre mißliche Lage;")
    # The first From wins over the duplicate at the end of the header.
    assert message.customer.value == "doug@example.com"
    assert message.metadata["to"] == ["mueller@example.com"]


def test_rfc_2047_subject_and_raw_8bit_utf8_body():
    message = parse("django-helpdesk-all-special-chars.eml")
    assert message.subject == "Testovácí email"
    assert message.body_text == "íářčšáíéřášč"
    assert message.metadata["content_language"] == "en-US"


def test_quoted_printable_alternative_prefers_plain_text_and_keeps_html():
    message = parse("django-helpdesk-quoted-printable.eml")
    assert message.subject == "Český test"
    assert message.body_text == "Tohle je test českých písmen odeslaných z gmailu."
    assert message.body_html == '<div dir="ltr">Tohle je test českých písmen odeslaných z gmailu.</div>\n'


def test_rfc_6532_utf8_headers():
    message = parse("mikel-mail-rfc6532-utf8-headers.eml")
    assert message.customer.value == "jdöe@mächine.example"
    assert message.customer.display_name == "Jöhn Doe"
    assert message.subject == "Säying Hello"
    assert message.metadata["to"] == ["märy@exämple.net"]


def test_raw_8bit_headers_and_a_boundary_that_never_appears():
    message = parse("flanker-mailformed-headers.eml")
    assert message.customer.value == "headers@gmail.com"
    assert message.customer.display_name.startswith("Юникод запрещен")
    assert message.body_text == "Hello"
    assert "StartBoundaryNotFoundDefect" in message.metadata["parse_defects"]


def test_arabic_base64_body_and_encoded_from_name():
    message = parse("chatwoot-non-utf-encoded-mail.eml")
    assert message.customer.display_name == "متجر سوق نت"
    assert message.subject == "أهلين عميلنا الكريم"
    assert message.body_text == "أنظروا، أنا أحتاجها فقط لتقوم بالتدقيق في مقالتي الشخصية"
    # The same id twice in In-Reply-To counts once.
    assert message.references == ["4e6e35f5a38b4_479f13bb90078178@small-app-01.mail"]


def test_gb2312_dsn_text_is_decoded_as_its_superset():
    message = parse("php-mime-mail-parser-failure-gb2312-dsn.eml")
    assert message.body_text == "次の受信者またはグループへの配信に失敗しました:"


def test_reply_to_with_raw_8bit_name_and_empty_address_does_not_matter():
    message = parse("mikel-mail-encoding-madness.eml")
    assert message.customer.value == "no-reply@crm.el-example.org"
    assert message.subject == "eBay Bid - 2008 Ford Super Duty F-350 DRW King Ranch Crew Cab 4x4 (156) - Stock# XXXX"
    assert message.body_text == "Body Text"
    assert message.metadata["reply_to"] == []


def test_a_malformed_to_header_still_yields_the_address():
    message = parse("chatwoot-mail-with-invalid-to.eml")
    assert message.metadata["to"] == ["vishnu@chatwoot.com"]
    assert message.metadata["delivered_to"] == ["bd84c730a1ac7833e4d27253804516f7@reply.chatwoot.com"]
    assert message.body_text == "hey v, can i get some help over here?"


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("Grüße".encode(), "iso-8859-1", "Grüße"),  # UTF-8 mislabelled as Latin-1
        ("Grüße".encode(), "us-ascii", "Grüße"),  # UTF-8 mislabelled as ASCII
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),  # Latin-1 mislabelled as UTF-8
        ("Grüße".encode("cp1252"), None, "Grüße"),
        ("Grüße".encode("cp1252"), "x-no-such-charset", "Grüße"),
        ("“quoted” – €5".encode("cp1252"), "iso-8859-1", "“quoted” – €5"),
        ("스티해".encode("cp949"), "KS_C_5601-1987", "스티해"),
        ("Żółć".encode("cp1250"), "windows-1250", "Żółć"),
        ("hello".encode("utf-16"), "utf-16", "hello"),
        (b"plain", "idna", "plain"),
    ],
)
def test_decode_bytes_recovers_mislabelled_text(data: bytes, charset: str | None, expected: str):
    assert decode_bytes(data, charset) == expected


def test_decode_bytes_never_raises_on_invalid_utf8():
    text = decode_bytes("Dobrý den, ".encode() + b"\xff\xfe" + "děkuji".encode(), "utf-8")
    assert text.startswith("Dobrý den, ")
    assert text.endswith("děkuji")


def test_invalid_bytes_in_a_body_declared_utf8_never_raise():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nMessage-ID: <bad-bytes@example.com>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Hola se\xf1or, \xe9sto es \xc3\xa1 mezcla \xff\r\n"
    )
    message = parse_email(raw)
    assert message.body_text.startswith("Hola se")
    assert "mezcla" in message.body_text
    message.body_text.encode("utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?UTF-8?B?xIxlc2vDvSB0ZXN0?=", "Český test"),
        ("=?utf-8?q?caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=", "café crème"),
        # A multi-byte character split across two encoded words.
        ("=?UTF-8?B?w6E=?= =?UTF-8?B?w6k=?=", "áé"),
        ("=?UTF-8?Q?=C3?==?UTF-8?Q?=A1?=", "á"),
        ("Re: =?ISO-8859-1?Q?R=FCckfrage?= zum Auftrag", "Re: Rückfrage zum Auftrag"),
        ("=?windows-1250?Q?Automatyczna_odpowied=9F?=", "Automatyczna odpowiedź"),
        ("=?utf-8*es?Q?Ma=C3=B1ana?=", "Mañana"),
        ("=?x-unknown?Q?plain?=", "plain"),
        ("Folded\r\n subject", "Folded subject"),
    ],
)
def test_decode_header_text(raw: str, expected: str):
    assert decode_header_text(raw) == expected


# --- Structure --------------------------------------------------------------------------------


def test_html_only_mail_becomes_readable_text():
    message = parse("chatwoot-only-html.eml")
    assert message.body_text == "This is html only mail"
    assert message.visible_text == "This is html only mail"
    assert message.body_html == "<html>\n<body>\n<h1>\nThis is html only mail\n</h1>\n</body>\n</html>\n"


def test_inline_images_are_attachments_with_content_ids():
    message = parse("chatwoot-mail-with-inline-images.eml")
    assert [(a.filename, a.content_type, a.content_id, a.inline) for a in message.attachments] == [
        ("poster (8).jpg", "image/jpeg", "ii_lm7fuura0", True),
        ("poster (7).jpg", "image/jpeg", "ii_lm7fuuvm1", True),
        ("poster (1).jpg", "image/jpeg", "ii_lm7fuuwn2", True),
    ]
    assert 'src="cid:ii_lm7fuura0"' in message.body_html
    assert message.body_text.startswith("HTML content and inline images")


def test_inline_image_of_a_related_part_and_an_attached_message():
    message = parse("mikel-mail-attachment-message-rfc822-inline-image.eml")
    image, forwarded = message.attachments
    assert (image.filename, image.content_type, image.content_id, image.inline) == (
        "img.png", "image/png", "emedfeb92f-a786-4718-a446-98db8afb53fb@kronos", True,
    )
    assert image.content.startswith(b"\x89PNG")
    assert (forwarded.filename, forwarded.content_type, forwarded.inline) == ("Testmail.eml", "message/rfc822", False)
    assert b"Subject: Another PDF" in forwarded.content
    # The mail says nothing itself (an image only): the note tells what was forwarded.
    assert message.body_text == (
        "---------- Forwarded message ----------\n"
        "From: Test Tester <xxxx@xxxx.com>\n"
        "Date: Tue, 10 May 2005 11:26:39 -0600\n"
        "Subject: Another PDF\n"
        "To: xxxx@xxxx.com, xxxx@xxxx.com"
    )


def test_inline_pdf_is_an_attachment():
    message = parse("chatwoot-email-with-inline-pdf.eml")
    assert message.body_text == "Here is an example mail with inline PDF"
    (pdf,) = message.attachments
    assert (pdf.filename, pdf.content_type, pdf.content_id, pdf.inline) == ("dummy.pdf", "application/pdf", "", True)
    assert pdf.content.startswith(b"%PDF-1.4")
    assert len(pdf.content) == 13264


def test_inline_images_of_an_apple_mail_related_part():
    message = parse("chatwoot-auto-reply-with-auto-submitted.eml")
    assert [(a.filename, a.content_type, a.content_id) for a in message.attachments] == [
        ("avatar1.jpeg", "image/jpg", "7AAEB353-2341-4D46-A054-5CA5CB2363B7"),
        ("avatar2.jpg", "image/jpg", "4594E827-6E69-4329-8691-6BC35E3E73A0"),
    ]
    assert all(a.content.startswith(b"\xff\xd8") for a in message.attachments)
    assert message.body_text == "Let's talk about these images:"


def test_attachments_without_filenames_get_generated_names():
    message = parse("chatwoot-attachments-without-filename.eml")
    assert [(a.filename, a.content_type, a.content_id, a.inline) for a in message.attachments] == [
        ("image-1.png", "image/png", "f_lh8nwk8l3", False),
        ("image-2.png", "image/png", "f_lh8nwk8l2", False),
    ]


def test_rfc_2231_and_raw_non_ascii_attachment_names_are_decoded():
    (attachment,) = parse("mikel-mail-attachment-nonascii-filename.eml").attachments
    assert attachment.filename == "ciële.txt"
    assert attachment.content == b"Hi there.\r\n"
    raw = (
        b"From: a@example.com\r\nSubject: names\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--B\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''factura%20%E2%82%AC%20mayo.pdf\r\n\r\n%PDF\r\n"
        b"--B\r\nContent-Type: application/pdf; name=\"=?UTF-8?B?w7xiZXIucGRm?=\"\r\n"
        b"Content-Disposition: attachment; filename=\"=?UTF-8?B?w7xiZXIucGRm?=\"\r\n\r\n%PDF\r\n"
        b"--B\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nx\r\n"
        b"--B--\r\n"
    )
    assert [a.filename for a in parse_email(raw).attachments] == ["factura € mayo.pdf", "über.pdf", "passwd"]


def test_blank_body_with_a_text_attachment():
    message = parse("django-helpdesk-blank-body-with-attachment.eml")
    assert message.body_text == ""
    (attachment,) = message.attachments
    assert (attachment.filename, attachment.content_type, attachment.content) == (
        "baf", "text/plain", b"You shouldn't see this.\n",
    )
    assert message.subject.startswith("Attachment without body - and a looo")


def test_iphone_text_parts_around_an_image_are_joined():
    message = parse("flanker-iphone.eml")
    assert message.body_text == "Hello\n\n~Danielle"
    (photo,) = message.attachments
    assert (photo.filename, photo.content_type) == ("photo.JPG", "image/jpeg")


def test_pgp_signed_mail_keeps_the_signed_text_and_drops_the_signature():
    message = parse("django-helpdesk-pgp.eml")
    assert message.body_text == (
        "hi, thanks for looking into this :)\n\n"
        "https://github.com/django-helpdesk/django-helpdesk/issues/567#issuecomment-342954233"
    )
    assert message.attachments == []


def test_missing_final_boundary_still_yields_text():
    message = parse("flanker-missing-final-boundary.eml")
    assert message.body_text == "Some body"
    assert message.metadata["to"] == ["bob@example.com", "hithere@example.com"]


def test_top_level_attachment_without_text():
    message = parse("flanker-outlook-express.eml")
    (attachment,) = message.attachments
    assert attachment.filename.endswith(".txt")
    assert attachment.content.decode() == "текстовое вложение"


def test_forwarded_message_attachment_is_kept_as_eml():
    message = parse("flanker-enclosed.eml")
    assert message.body_text == "Hello"
    (forwarded,) = message.attachments
    assert (forwarded.filename, forwarded.content_type) == ("thanks.eml", "message/rfc822")
    parsed = email.message_from_bytes(forwarded.content, policy=email.policy.default)
    assert parsed["Subject"] == "Thanks!"
    assert parsed["Message-Id"] == "<BANLkTinHZL1QMDHOv7Ewp+Z5u6SPvYcc+Q@mail.gmail.com>"


def test_a_forward_with_an_empty_body_shows_the_forwarded_text():
    raw = (
        b"From: Ana <ana@example.com>\r\nSubject: Fwd: pedido\r\nMessage-ID: <fwd-1@example.com>\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\n\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: Tienda <ventas@tienda.example>\r\nSubject: Tu pedido 1001\r\nDate: Mon, 6 May 2024 10:00:00 +0200\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nTu pedido sali\xc3\xb3 hoy.\r\n"
        b"--B--\r\n"
    )
    message = parse_email(raw)
    assert message.body_text == (
        "---------- Forwarded message ----------\n"
        "From: Tienda <ventas@tienda.example>\n"
        "Date: Mon, 6 May 2024 10:00:00 +0200\n"
        "Subject: Tu pedido 1001\n\n"
        "Tu pedido salió hoy."
    )
    assert message.visible_text == message.body_text
    assert [(a.filename, a.content_type) for a in message.attachments] == [("forwarded.eml", "message/rfc822")]


def test_inline_forwarded_content_is_kept():
    message = parse("django-helpdesk-utf-nondecodable.eml")
    assert message.subject == "Fwd: Cyklozaměstnavatel - změna vyhodnocení"
    assert message.visible_text == message.body_text
    assert message.body_text.startswith("-------- Forwarded Message --------\nSubject: \tCyklozaměstnavatel")
    assert "Ahoj Johne,\npodle domluvy bych Tě poprosila o změnu vyhodnocení soutěže" in message.body_text


def test_outlook_original_message_block_is_history_but_stays_in_body_text():
    message = parse("django-helpdesk-forwarded-message.eml")
    assert message.visible_text == "This is email body"
    assert "-----Original Message-----\nFrom: GitHub <noreply@github.com>" in message.body_text
    assert "The GitHub Team" in message.body_text


# --- Threading headers ------------------------------------------------------------------------


def test_reply_with_quote_keeps_history_out_of_visible_text():
    message = parse("chatwoot-mail-with-quote.eml")
    assert message.visible_text == "Yes, I am providing you step how to reproduce this issue"
    assert "> Any update on this?" in message.body_text
    assert message.body_text.startswith("Yes, I am providing you step how to reproduce this issue\n\nOn Thu, Aug 19")
    assert message.subject == "Re: Checking mail forwarding to cw inbox"
    assert message.external_id == "CAFkiBVwJjO_k_e-LpiKi7MAQAKbHX5nkEPcf0y1R=bjcEHogMg@mail.gmail.com"
    assert message.references == [
        "0100017b5d8efc70-c7f18809-aa55-48f6-91fd-b626092ed8b3-000000@email.amazonses.com",
        "CAFkiBVxGoURoqdkY-O_25F-8b41kb-GWBc6hh4Djd5ynwOikXA@mail.gmail.com",
    ]
    assert message.metadata["in_reply_to"] == [
        "0100017b5d8efc70-c7f18809-aa55-48f6-91fd-b626092ed8b3-000000@email.amazonses.com"
    ]
    assert message.sent_at == datetime(2021, 8, 19, 14, 14, 31, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def test_multiple_in_reply_to_yields_several_references():
    message = parse("chatwoot-multiple-in-reply-to.eml")
    assert message.references == [
        "4e6e35f5a38b4_479f13bb90078171@small-app-01.mail",
        "4e6e35f5a38b4_479f13bb90078131@small-app-01.mail",
        "4e6e35f5a38b4_479f13bb90078178@small-app-01.mail",
    ]
    assert message.customer.value == "sony@chatwoot.com"  # "Sony@chatwoot.com", lower-cased
    assert message.body_text == "Let's talk about these images"


def test_plain_reply_references():
    message = parse("mikel-mail-raw-email-reply.eml")
    assert message.references == ["348F04F142D69C21-291E56D292BC@xxxx.net", "473FF3B8.9020707@xxx.org"]
    assert message.body_text == "Message body"


def test_mail_with_empty_date_has_no_sent_at():
    message = parse("chatwoot-mail-with-no-date.eml")
    assert message.sent_at is None
    assert message.body_text == "text only mail"
    assert message.external_id == "0CB459E0-0336-41DA-BC88-E6E28C697DDB@chatwoot.com"


def test_date_with_a_comment_before_the_zone_keeps_the_zone():
    message = parse("flanker-disposition-notification.eml")
    assert message.sent_at == datetime(1995, 9, 20, 0, 19, tzinfo=timezone(timedelta(hours=-4)))


def test_garbage_threading_headers_are_tolerated():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nMessage-ID:   <  spaced@example.com >\r\n"
        b"In-Reply-To: garbage, <one@example.com> (comment) <two@example.com>\r\n"
        b"References: <one@example.com> bare@example.com <>\r\n"
        b"Date: not a date\r\n\r\nbody\r\n"
    )
    message = parse_email(raw)
    assert message.external_id == "spaced@example.com"
    assert message.references == ["one@example.com", "two@example.com"]
    assert message.sent_at is None


def test_an_overlong_message_id_is_replaced_by_its_digest_everywhere():
    long_id = "x" * 300 + "@example.com"
    raw = f"From: a@example.com\r\nMessage-ID: <{long_id}>\r\nIn-Reply-To: <{long_id}>\r\n\r\nhi\r\n".encode()
    message = parse_email(raw)
    digest = "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert message.external_id == digest
    assert message.references == [digest]


# --- Automatic replies and bounces ------------------------------------------------------------


def test_auto_submitted_mail_is_an_auto_reply():
    message = parse("chatwoot-auto-reply-with-auto-submitted.eml")
    assert message.is_auto_reply is True
    assert message.auto_reply_reason == "auto_submitted"
    assert message.metadata["auto_submitted"] == "auto-generated"


def test_arabic_auto_reply_with_every_signal():
    message = parse("chatwoot-non-utf-encoded-mail.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "auto_submitted")
    assert message.metadata["auto_reply_signals"] == [
        "Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: bulk",
    ]


def test_bounced_gmail_is_a_bounce_with_details():
    message = parse("chatwoot-bounced-gmail.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "bounce")
    assert message.metadata["bounce"] == {
        "recipient": "alex.jones@fictionalcorp.com",
        "status": "5.1.1",
        "diagnostic": (
            "550 5.1.1 The email account that you tried to reach does not exist. Please try "
            "double-checking the recipient's email address for typos or unnecessary spaces. For more "
            "information, go to https://support.google.com/mail/?p=NoSuchUser "
            "d2e1a72fcca58-74ce2b0525csor332154b3a.0 - gsmtp"
        ),
        "original_message_id": "conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com",
    }
    assert message.body_text.startswith("** Address not found **\n\nYour message wasn't delivered to alex.jones@")
    assert [(a.filename, a.content_id, a.inline) for a in message.attachments] == [
        ("icon.png", "icon.png", True),
        ("original-message.eml", "", False),
    ]


def test_bounce_without_a_from_address():
    message = parse("chatwoot-bounced-with-no-from.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "bounce")
    assert message.customer.value == ""
    assert message.customer.display_name == "Mail Delivery System"
    assert message.metadata["bounce"] == {
        "recipient": "noreply@example-service.com",
        "status": "5.7.1",
        "action": "failed",
        "diagnostic": (
            "554 5.7.1 <noreply@example-service.com>: Recipient address rejected: user "
            "noreply@example-service.com does not exist"
        ),
    }


def test_mailbox_full_bounce():
    message = parse("flanker-bounce-mailbox-full.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "bounce")
    assert message.metadata["bounce"] == {
        "recipient": "user@aol.com",
        "status": "5.2.2",
        "action": "failed",
        "diagnostic": "552 5.2.2 E4.12 user MAILBOX FULL",
        "original_message_id": "4E326A95.3010907@example.com",
    }


def test_amazon_ses_delivery_status_is_a_bounce():
    message = parse("nodemailer-mailparser-delivery-status.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "bounce")
    bounce = message.metadata["bounce"]
    assert (bounce["recipient"], bounce["status"], bounce["action"]) == ("xxxx@xxxx.com", "5.1.1", "failed")
    assert bounce["diagnostic"].startswith("Amazon SES did not send the message to this address")
    assert bounce["original_message_id"] == "xxxxx@email.amazonses.com"
    # Sent by MAILER-DAEMON@amazonses.com: not an Amazon marketplace buyer.
    assert message.channel == "email"


def test_gb2312_dsn_is_a_bounce():
    message = parse("php-mime-mail-parser-failure-gb2312-dsn.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "bounce")
    assert message.subject == ""
    assert message.sent_at is None


def test_disposition_notification_is_a_read_receipt():
    message = parse("flanker-disposition-notification.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "read_receipt")
    assert message.metadata["read_receipt"] == {
        "disposition": "manual-action/MDN-sent-manually; displayed",
        "recipient": "Joe_Recipient@example.com",
        "original_message_id": "199509192301.23456@example.org",
    }


def test_spam_complaint_is_a_feedback_report():
    message = parse("flanker-complaints-yahoo.eml")
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "feedback_report")


def test_polish_out_of_office_without_from():
    message = parse("php-mime-mail-parser-issue212-windows-1250-autoreply.eml")
    assert message.subject == "Automatyczna odpowiedź: Piotrze, test z 6 miesięcy nauki ciągle na Ciebie czeka"
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, "auto_reply_subject")
    assert message.customer.value == ""
    assert message.body_text == "toto"
    assert message.metadata["content_language"] == "ru-RU"


@pytest.mark.parametrize(
    "name",
    [
        "chatwoot-mail-with-quote.eml",
        "chatwoot-only-html.eml",
        "django-helpdesk-quoted-printable.eml",
        "flanker-iphone.eml",
        "hunnysoft-m0010-outlook-windows-1252.eml",
        "mikel-mail-raw-email-reply.eml",
        "thunderbird-sample04-koi8-r.eml",
    ],
)
def test_mail_from_people_is_not_an_auto_reply(name: str):
    message = parse(name)
    assert (message.is_auto_reply, message.auto_reply_reason) == (False, "")
    assert "auto_reply_signals" not in message.metadata


def _mail(headers: str, body: str = "Hello, where is my order?") -> bytes:
    return (f"From: Ana <ana@example.com>\r\nMessage-ID: <m1@example.com>\r\n{headers}\r\n\r\n{body}\r\n").encode()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Subject: Out of Office: your order", "auto_reply_subject"),
        ("Subject: Automatic reply: Pedido 1001", "auto_reply_subject"),
        ("Subject: Respuesta automática: Pedido 1001", "auto_reply_subject"),
        ("Subject: Răspuns automat: Comanda 1001", "auto_reply_subject"),
        ("Subject: Abwesenheitsnotiz: Bestellung", "auto_reply_subject"),
        ("Subject: Undeliverable: Your order", "bounce"),
        ("Subject: Mail delivery failed: returning message to sender", "bounce"),
        ("Subject: Delivery Status Notification (Delay)", "bounce"),
        ("Subject: hi\r\nX-Failed-Recipients: gone@example.com", "bounce"),
        ("Subject: hi\r\nPrecedence: bulk", "precedence"),
        ("Subject: hi\r\nPrecedence: junk", "precedence"),
        ("Subject: hi\r\nPrecedence: list", "precedence"),
        ("Subject: hi\r\nPrecedence: auto_reply", "precedence"),
        ("Subject: hi\r\nReturn-Path: <>", "null_sender"),
        ("Subject: hi\r\nX-Autorespond: yes", "autoreply_header"),
        ("Subject: hi\r\nAuto-Submitted: auto-replied (vacation)", "auto_submitted"),
    ],
)
def test_auto_reply_signals(headers: str, reason: str):
    message = parse_email(_mail(headers))
    assert (message.is_auto_reply, message.auto_reply_reason) == (True, reason)


def test_mailer_daemon_sender_is_a_bounce():
    raw = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: failure\r\n\r\nx\r\n"
    assert parse_email(raw).auto_reply_reason == "bounce"


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: hi\r\nAuto-Submitted: no",
        "Subject: hi\r\nPrecedence: first-class",
        # Outlook puts this on ordinary mail: alone it proves nothing.
        "Subject: hi\r\nX-Auto-Response-Suppress: All",
        "Subject: hi\r\nX-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply",
        "Subject: Re: Out of stock?\r\nReturn-Path: <ana@example.com>",
        "Subject: Undeliverable parcel",
    ],
)
def test_ordinary_mail_is_not_an_auto_reply(headers: str):
    message = parse_email(_mail(headers))
    assert (message.is_auto_reply, message.auto_reply_reason) == (False, "")


def test_x_auto_response_suppress_counts_with_another_hint():
    with_wording = parse_email(
        _mail("Subject: Vacation\r\nX-Auto-Response-Suppress: All", "I am out of the office until Monday.")
    )
    assert (with_wording.is_auto_reply, with_wording.auto_reply_reason) == (True, "heuristic")
    with_rule_loop = parse_email(_mail(
        "Subject: Vacation\r\nX-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: ana@example.com",
        "Thanks for your mail.",
    ))
    assert (with_rule_loop.is_auto_reply, with_rule_loop.auto_reply_reason) == (True, "heuristic")
    assert with_rule_loop.metadata["auto_reply_signals"] == [
        "X-Auto-Response-Suppress: all", "X-MS-Exchange-Inbox-Rules-Loop",
    ]
    # Out-of-office wording alone is also only one hint: a customer may write it.
    wording = parse_email(_mail("Subject: Vacation", "I am out of the office until Monday."))
    assert wording.is_auto_reply is False


# --- Sender, mailbox, metadata ----------------------------------------------------------------


def test_customer_is_the_from_address_lower_cased():
    message = parse("chatwoot-mail-with-quote.eml")
    assert message.customer.kind == "email"
    assert message.customer.value == "sony@chatwoot.com"
    assert message.customer.email == "sony@chatwoot.com"
    assert message.customer.display_name == "Sony Mathew"


def test_reply_to_does_not_replace_the_sender():
    raw = _mail("Subject: hi\r\nReply-To: Other <other@example.com>")
    message = parse_email(raw)
    assert message.customer.value == "ana@example.com"
    assert message.metadata["reply_to"] == ["other@example.com"]


def test_sender_header_is_the_fallback_for_a_from_without_address():
    raw = b"From: Undisclosed\r\nSender: Real Person <Real@Example.com>\r\nSubject: x\r\n\r\nbody\r\n"
    message = parse_email(raw)
    assert (message.customer.value, message.customer.display_name) == ("real@example.com", "Real Person")


def test_mail_from_the_mailbox_itself_is_flagged():
    raw = b"From: Support <Support@Shop.example>\r\nTo: customer@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_email(raw, mailbox_address="support@shop.example").metadata["from_mailbox"] is True
    assert parse_email(raw, mailbox_address="Help <SUPPORT@shop.example>").metadata["from_mailbox"] is True
    assert parse_email(raw, mailbox_address="other@shop.example").metadata["from_mailbox"] is False
    assert parse_email(raw).metadata["from_mailbox"] is False


def test_metadata_lists_recipients():
    raw = (
        b"From: a@example.com\r\nTo: Shop <Support@shop.example>, sales@shop.example\r\n"
        b"Cc: =?utf-8?q?Jos=C3=A9?= <jose@example.com>\r\nMessage-ID: <meta@example.com>\r\n"
        b"Subject: x\r\nContent-Language: es-ES\r\n\r\nbody\r\n"
    )
    metadata = parse_email(raw).metadata
    assert metadata["to"] == ["support@shop.example", "sales@shop.example"]
    assert metadata["cc"] == ["jose@example.com"]
    assert metadata["message_id"] == "meta@example.com"
    assert metadata["content_language"] == "es-ES"
    assert metadata["auto_submitted"] == ""


# --- Entry points -----------------------------------------------------------------------------


def test_parse_email_message_accepts_a_message_of_any_policy():
    raw = (EMAILS / "chatwoot-mail-with-quote.eml").read_bytes()
    expected = parse_email(raw)
    for policy in (email.policy.default, email.policy.compat32):
        message = email.message_from_bytes(raw, policy=policy)
        parsed = parse_email_message(message, raw=raw)
        assert (parsed.external_id, parsed.body_text, parsed.visible_text, parsed.references) == (
            expected.external_id, expected.body_text, expected.visible_text, expected.references,
        )


def test_parse_email_message_of_a_built_message_without_raw_bytes():
    message = EmailMessage()
    message["From"] = "Zoë <zoe@example.com>"
    message["Subject"] = "Pregunta sobre mi pedido"
    message.set_content("¿Cuándo llega?")
    message.add_alternative("<p>¿Cuándo llega?</p>", subtype="html")
    parsed = parse_email_message(message)
    assert parsed.customer.display_name == "Zoë"
    assert parsed.subject == "Pregunta sobre mi pedido"
    assert parsed.body_text == "¿Cuándo llega?"
    assert parsed.body_html == "<p>¿Cuándo llega?</p>\n"
    assert parsed.external_id.startswith("sha256:")


def test_an_unreadable_message_object_falls_back_to_the_raw_bytes():
    class Broken(EmailMessage):
        def get_payload(self, *args, **kwargs):
            raise RuntimeError("boom")

    raw = (EMAILS / "chatwoot-mail-with-no-date.eml").read_bytes()
    broken = email.message_from_bytes(raw, _class=Broken, policy=email.policy.default)
    parsed = parse_email_message(broken, raw=raw)
    assert parsed.body_text == "text only mail"
    assert parsed.metadata["parser"] == "compat32"


def test_absurdly_nested_mail_is_salvaged_not_raised():
    raw = b"".join(
        b"From: a%d@example.com\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n"
        b"--b%d\r\nContent-Type: message/rfc822\r\n\r\n" % (level, level, level)
        for level in range(3000)
    ) + b"From: z@example.com\r\n\r\ndeep\r\n"
    message = parse_email(raw)
    assert message.metadata["parser"] == "salvage"
    assert message.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert message.body_text.endswith("deep")


def test_empty_input_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_email(b"")
    with pytest.raises(ParseError):
        parse_email(b"  \r\n")


# --- Quoted history ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "intro",
    [
        "On Mon, 6 May 2024 at 10:02, Shop <support@shop.example> wrote:",
        "El lun, 6 may 2024 a las 10:02, Tienda (<soporte@tienda.example>) escribió:",
        "Pe lun., 6 mai 2024 la 10:02, Magazin <suport@magazin.example> a scris:",
        "Le lun. 6 mai 2024 à 10:02, Boutique <support@boutique.example> a écrit :",
        "Am Mo., 6. Mai 2024 um 10:02 Uhr schrieb Shop <support@shop.example>:",
        "-----Original Message-----",
        "----- Mensaje original -----",
    ],
)
def test_quoted_history_is_cut_in_the_usual_languages(intro: str):
    text = f"Thanks, that works.\n\n{intro}\n> Please try again.\n> Regards"
    assert strip_quoted_text(text) == "Thanks, that works."


def test_gmail_wraps_a_long_reply_intro_over_two_lines():
    text = "Yes.\n\nOn Thu, Aug 19, 2021 at 2:07 PM Someone with a long name <\nsomeone@example.com> wrote:\n\n> old"
    assert strip_quoted_text(text) == "Yes."


def test_outlook_header_block_is_history():
    text = (
        "Sure, see below.\n\nFrom: Shop Support <support@shop.example>\nSent: Monday, May 6, 2024 10:02 AM\n"
        "To: Ana <ana@example.com>\nSubject: RE: order\n\nOld text"
    )
    assert strip_quoted_text(text) == "Sure, see below."


def test_a_trailing_quote_block_is_history_but_inline_answers_stay():
    assert strip_quoted_text("New text\n\n> old line\n>\n> older") == "New text"
    inline = "> Which colour?\nBlue, please.\n> Which size?\nM."
    assert strip_quoted_text(inline) == inline


def test_stripping_that_would_leave_nothing_keeps_everything():
    text = "On Mon, 6 May 2024 at 10:02, Shop <s@shop.example> wrote:\n> only a quote"
    assert strip_quoted_text(text) == text


def test_forwarded_text_is_never_cut():
    text = "FYI\n\n---------- Forwarded message ---------\nFrom: Shop <s@shop.example>\nDate: Mon, 6 May 2024\n\nOn Sunday, X <x@example.com> wrote:\n> hi"
    assert strip_quoted_text(text) == text
    outlook = "FYI\n\n-----Original Message-----\nFrom: GitHub\n\nNotice"
    assert strip_quoted_text(outlook, forwarded=True) == outlook


def test_a_person_writing_wrote_is_not_a_reply_header():
    text = "On Monday I wrote:\nthe parcel is missing"
    assert strip_quoted_text(text) == text


def test_format_flowed_lines_are_joined():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n"
        b"This is a long paragraph that the sending client wrapped at seventy-eight cha \r\n"
        b"racters.\r\n"
        b"\r\n"
        b"> quoted and  \r\n"
        b"> flowed\r\n"
    )
    assert parse_email(raw).body_text == (
        "This is a long paragraph that the sending client wrapped at seventy-eight characters.\n\n> quoted and flowed"
    )


# --- HTML to text -----------------------------------------------------------------------------


def test_html_to_text_keeps_structure_links_and_lists():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Hello &amp; welcome,<br>line two</p>"
        "<ul><li>one</li><li>two <a href='https://shop.example/a'>details</a></li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        "<div>Write to <a href='mailto:help@shop.example'>us</a> or see <a href='https://shop.example'>https://shop.example</a></div>"
        "<blockquote>quoted<br>text</blockquote>"
        "<script>alert(1)</script><p>The   end&nbsp;&lt;3</p></body></html>"
    )
    assert html_to_text(html) == (
        "Hello & welcome,\nline two\n\n"
        "- one\n- two details (https://shop.example/a)\n\n"
        "1. first\n2. second\n\n"
        "Write to us (help@shop.example) or see https://shop.example\n\n"
        "> quoted\n> text\n\n"
        "The end <3"
    )


def test_html_to_text_survives_a_missing_end_of_head_and_broken_markup():
    assert html_to_text("<html><head><meta charset=utf-8><body><p>Hi <b>there</p></div></span>") == "Hi there"
    assert html_to_text("") == ""
    assert html_to_text("<div><<>>&bogus;</div>") == "<<>>&bogus;"


def test_a_folded_message_id_is_read_whole():
    raw = (
        b"From: Ana <ana@example.es>\r\nTo: soporte@casalumbre.example\r\nSubject: Hola\r\n"
        b"Message-ID:\r\n <helpdesk.1555.32540f55d15759c290b93192a29f06eb@casalumbre.example>\r\n"
        b"In-Reply-To:\r\n <previous.12345.abcdef@casalumbre.example>\r\n\r\nHola\r\n"
    )
    message = parse_email(raw)
    assert message.external_id == "helpdesk.1555.32540f55d15759c290b93192a29f06eb@casalumbre.example"
    assert message.references == ["previous.12345.abcdef@casalumbre.example"]
