"""What a visitor may send as a file: a size limit and a short list of types, recognised by their
content (an executable renamed to .png is refused), not only by what the browser claims."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

# Signatures of the accepted types (the first bytes of the file).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}
ACCEPTED_TYPES = (*SIGNATURES, "image/webp", "text/plain")


class AttachmentRefused(Exception):
    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def max_upload_bytes() -> int:
    return int(getattr(settings, "HELPDESK_WIDGET_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def detect_type(content: bytes) -> str | None:
    for content_type, signatures in SIGNATURES.items():
        if content.startswith(signatures):
            return content_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in content[:8192]:
        try:
            content[:8192].decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the 8 KiB mark is still text.
            if error.start < 8192 - 4:
                return None
        return "text/plain"
    return None


def check_upload(uploaded: UploadedFile) -> tuple[str, bytes]:
    """(the file's real type, its bytes), or AttachmentRefused saying why."""
    limit = max_upload_bytes()
    if uploaded.size > limit:
        raise AttachmentRefused(
            _("The file is too large: at most %(size)s MB.") % {"size": f"{limit / (1024 * 1024):g}"},
            code="too_large", status=413,
        )
    content = uploaded.read(limit + 1)
    if len(content) > limit:
        raise AttachmentRefused(
            _("The file is too large: at most %(size)s MB.") % {"size": f"{limit / (1024 * 1024):g}"},
            code="too_large", status=413,
        )
    if not content:
        raise AttachmentRefused(_("The file is empty."), code="empty")
    content_type = detect_type(content)
    if content_type is None:
        raise AttachmentRefused(
            _("This kind of file cannot be sent here: images (JPEG, PNG, GIF, WebP), PDF and text files only."),
            code="type_refused", status=415,
        )
    return content_type, content
