"""What an inbox URL asks for: a view, filters and a sort.

Parsed from a query string without touching the database, so the ticket page (next/previous
ticket), saved views and the live refresh all read the same parameters the same way. A value that
does not parse (an old bookmark, a hand-edited URL) drops that one parameter, never the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Language, Ticket
from tickets.sla import display as sla_display

# The built-in views of the sidebar, in their order there.
VIEWS: dict[str, str] = {
    "mine": _("Mine"),
    "unassigned": _("Unassigned"),
    "open": _("All open"),
    "pending": _("Pending on customer"),
    "on_hold": _("On hold"),
    "solved": _("Solved"),
    "sla_at_risk": _("SLA at risk"),
    "sla_breached": _("SLA breached"),
    "spam": _("Spam"),
    "all": _("All tickets"),
}
DEFAULT_VIEW = "all"
# The views whose ticket count the sidebar shows.
COUNTED_VIEWS = ("mine", "unassigned", "open", "pending", "on_hold", "sla_at_risk", "sla_breached")

SORTS: dict[str, str] = {
    "updated": _("Last activity"),
    "last_customer": _("Last customer message"),
    "created": _("Newest tickets"),
    "sla": _("SLA deadline"),
    "priority": _("Priority"),
}
DEFAULT_SORT = "updated"

FILTER_NAMES = ("status", "sla", "store", "channel", "team", "tag", "language")
# Every parameter that selects tickets (the view, its filters and its sort), in URL order.
PARAM_NAMES = ("view", *FILTER_NAMES, "sort")

_ID = re.compile(r"[0-9]{1,18}")


def _choice(value: str, allowed) -> str:
    return value if value in allowed else ""


def _identifier(value: str) -> int | None:
    return int(value) if _ID.fullmatch(value) and int(value) > 0 else None


@dataclass(frozen=True)
class ViewParams:
    view: str = DEFAULT_VIEW
    status: str = ""
    sla: str = ""
    store: int | None = None
    channel: str = ""
    team: int | None = None
    tag: int | None = None
    language: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, query: Mapping[str, str] | QueryDict | str | None) -> ViewParams:
        """The parameters of a query string, a QueryDict or a plain dict (a saved view's
        filters); unknown names are ignored, bad values dropped."""
        if query is None:
            return cls()
        if isinstance(query, str):
            query = QueryDict(query.lstrip("?"))

        def get(name: str) -> str:
            value = query.get(name, "")
            if isinstance(value, (list, tuple)):  # a saved view written with lists
                value = value[0] if value else ""
            return str(value).strip()

        view = get("view")
        sort = get("sort")
        return cls(
            view=view if view in VIEWS else DEFAULT_VIEW,
            status=_choice(get("status"), Ticket.Status.values),
            sla=_choice(get("sla"), dict(sla_display.INBOX_FILTERS)),
            store=_identifier(get("store")),
            channel=_choice(get("channel"), Channel.values),
            team=_identifier(get("team")),
            tag=_identifier(get("tag")),
            language=_choice(get("language"), Language.values),
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    def to_query(self) -> dict[str, str]:
        """The parameters that differ from the defaults, as strings, in URL order."""
        values = asdict(self)
        defaults = asdict(ViewParams())
        return {
            name: str(values[name])
            for name in PARAM_NAMES
            if values[name] not in (None, "") and values[name] != defaults[name]
        }

    def filters(self) -> dict[str, str]:
        query = self.to_query()
        return {name: query[name] for name in FILTER_NAMES if name in query}

    @property
    def is_filtered(self) -> bool:
        return bool(self.filters())

    def with_view(self, view: str) -> ViewParams:
        """The same filters and sort in another built-in view."""
        return replace(self, view=view)

    def encode(self) -> str:
        """The query string (without "?"), "" for the default view."""
        return urlencode(self.to_query())

    def url(self, **extra: str) -> str:
        """The inbox URL of these parameters, plus `extra` parameters (a cursor, a saved view)."""
        query = urlencode({**self.to_query(), **{k: v for k, v in extra.items() if v}})
        return reverse("tickets:inbox") + (f"?{query}" if query else "")


def inbox_url_for(from_value: str) -> str:
    """The inbox URL of a ticket page's `from` parameter (the view the agent came from)."""
    return ViewParams.from_query(from_value or "").url()
