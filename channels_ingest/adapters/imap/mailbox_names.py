"""IMAP mailbox (folder) names on the wire: modified UTF-7, quoted (RFC 3501 §5.1.3 and §4.3).
https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3

No Django here: the test helpers that drive a real IMAP server use it too.
"""

from __future__ import annotations

import base64


def encode_mailbox_name(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): "Procesados ñ" becomes
    "Procesados &APE-". Printable ASCII stays as it is, "&" becomes "&-"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = (
                base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=").decode("ascii")
            )
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote_mailbox(name: str) -> str:
    """imaplib sends arguments as they are: mailbox names need quoting (spaces) and encoding."""
    encoded = encode_mailbox_name(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
