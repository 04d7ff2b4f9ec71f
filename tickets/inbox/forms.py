"""The inbox's forms: the filter bar, saving a view, and the bulk-action toolbar."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy

from tickets.inbox.bulk import ACTIONS
from tickets.inbox.params import SORTS, VIEWS, ViewParams
from tickets.models import Channel, Language, SavedView, Ticket
from tickets.sla import display as sla_display


def _select(**attrs) -> forms.Select:
    return forms.Select(attrs={"class": "select", **attrs})


class InboxFilterForm(forms.Form):
    """The filter bar. Bound to the parsed ViewParams (not to the raw query), so what it shows is
    what the list is filtered by; store, team and tag choices are the ones the agent may see."""

    view = forms.ChoiceField(choices=list(VIEWS.items()), required=False, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("All statuses")), *Ticket.Status.choices],
        widget=_select(),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("All channels")), *Channel.choices],
        widget=_select(),
    )
    store = forms.TypedChoiceField(
        label=gettext_lazy("Store"), required=False, coerce=int, widget=_select()
    )
    team = forms.TypedChoiceField(
        label=gettext_lazy("Team"), required=False, coerce=int, widget=_select()
    )
    tag = forms.TypedChoiceField(
        label=gettext_lazy("Tag"), required=False, coerce=int, widget=_select()
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[("", gettext_lazy("All languages")), *Language.choices],
        widget=_select(),
    )
    sla = forms.ChoiceField(
        label=gettext_lazy("SLA"),
        required=False,
        choices=[("", gettext_lazy("Any SLA state")), *sla_display.INBOX_FILTERS],
        widget=_select(),
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort by"), choices=list(SORTS.items()), widget=_select()
    )

    def __init__(self, params: ViewParams, *, stores, teams, tags) -> None:
        data = {**params.to_query(), "view": params.view, "sort": params.sort}
        super().__init__(data)
        self.fields["store"].choices = [
            ("", gettext_lazy("All stores")),
            *((s.pk, s.name) for s in stores),
        ]
        self.fields["team"].choices = [
            ("", gettext_lazy("All teams")),
            *((t.pk, t.name) for t in teams),
        ]
        self.fields["tag"].choices = [
            ("", gettext_lazy("All tags")),
            *((t.pk, t.name) for t in tags),
        ]


class SavedViewForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        strip=True,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "off"}),
    )

    def __init__(self, *args, owner, instance: SavedView | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner, self.instance = owner, instance

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        others = SavedView.objects.filter(owner=self.owner, name__iexact=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(gettext_lazy("You already have a view with this name."))
        return name


class BulkActionForm(forms.Form):
    """What the bulk toolbar posts; the choices are checked again by `apply_bulk_action`."""

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    ticket = forms.TypedMultipleChoiceField(coerce=int, required=False)
    assignee = forms.CharField(required=False)
    team = forms.IntegerField(required=False, min_value=1)
    status = forms.ChoiceField(choices=[("", ""), *Ticket.Status.choices], required=False)
    tag = forms.IntegerField(required=False, min_value=1)
    merge_target = forms.IntegerField(required=False, min_value=1)
    next = forms.CharField(required=False)

    def __init__(self, data) -> None:
        super().__init__(data)
        # Any id may be posted: visibility is decided ticket by ticket afterwards.
        self.fields["ticket"].choices = [
            (v, v) for v in data.getlist("ticket") if v.isdigit() and len(v) < 19
        ]


@dataclass(frozen=True)
class FilterSelect:
    """One select of the filter bar, ready to print: Django's widget rendering includes a
    template per option, which costs more than the whole list of tickets."""

    name: str
    id: str
    label: str
    options: list[tuple[str, str, bool]]  # (value, label, selected)


def filter_selects(form: InboxFilterForm) -> list[FilterSelect]:
    selects = []
    for name, field in form.fields.items():
        if name == "view":
            continue
        current = str(form.data.get(name) or "")
        options = [
            (str(value), str(label), str(value) == current) for value, label in field.choices
        ]
        selects.append(FilterSelect(name, f"id_{name}", str(field.label), options))
    return selects
