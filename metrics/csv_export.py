"""CSV export of dashboard rows, safe to open in a spreadsheet.

A cell starting with = + - @, a tab or a carriage return could be run as a formula by Excel,
LibreOffice or Google Sheets (CSV injection, OWASP); such cells get a leading single quote so
they are shown as text. Numbers are written as numbers (a negative NPS stays a number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(header: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(row.get(name)) for name in header])
    return buffer.getvalue()
