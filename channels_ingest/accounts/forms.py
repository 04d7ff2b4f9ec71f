"""The connect and edit forms of the Channels page, built from each provider's fields
(channels_ingest.accounts.providers). Secret inputs never render a value: an empty one keeps the
secret already set."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_ingest.accounts.providers import EXTERNAL_ID, SECRET, ProviderSpec
from tickets.models import ChannelAccount, Store


class ListField(forms.CharField):
    """Comma or line separated values, as a list of strings."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(str(item) for item in value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


def _form_field(field, *, secret_is_set: bool, creating: bool) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "help_text": field.help}
    if field.where == SECRET:
        required = field.required and creating
        placeholder = _("Set: leave empty to keep it, or type a new one to replace it") if secret_is_set else ""
        return forms.CharField(
            required=required, strip=True, **common,
            widget=forms.PasswordInput(render_value=False, attrs={
                "autocomplete": "new-password", "class": "input", "placeholder": placeholder}),
        )
    if field.kind == "bool":
        return forms.BooleanField(required=False, **common)
    if field.kind == "int":
        return forms.IntegerField(required=field.required, min_value=0, initial=field.initial, **common,
                                  widget=forms.NumberInput(attrs={"class": "input input--narrow"}))
    if field.kind == "choice":
        return forms.ChoiceField(required=field.required, choices=field.choices, initial=field.initial, **common,
                                 widget=forms.Select(attrs={"class": "select"}))
    if field.kind == "list":
        return ListField(required=field.required, initial=field.initial, **common,
                         widget=forms.TextInput(attrs={"class": "input"}))
    if field.kind == "url":
        return forms.URLField(required=field.required, initial=field.initial, assume_scheme="https", **common,
                              widget=forms.URLInput(attrs={"class": "input"}))
    return forms.CharField(required=field.required, initial=field.initial, max_length=200 if field.where == EXTERNAL_ID
                           else 2000, **common, widget=forms.TextInput(attrs={"class": "input"}))


class AccountForm(forms.Form):
    """Connect (with `stores`) or edit (with `account`) an account of one provider."""

    display_name = forms.CharField(label=_("Name shown to agents"), max_length=200,
                                   widget=forms.TextInput(attrs={"class": "input"}))

    def __init__(self, *args, spec: ProviderSpec, account: ChannelAccount | None = None, stores=None, **kwargs) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        if account is not None:
            initial.setdefault("display_name", account.display_name)
            for field in spec.fields:
                if field.where == EXTERNAL_ID:
                    initial.setdefault(field.name, account.external_id)
                elif field.where != SECRET and field.name in (account.settings or {}):
                    initial.setdefault(field.name, account.settings[field.name])
        super().__init__(*args, initial=initial, **kwargs)
        self.spec = spec
        self.account = account
        secrets_set = set(account.get_secrets()) if account is not None else set()
        if account is None:
            self.fields["store"] = forms.ModelChoiceField(
                queryset=stores if stores is not None else Store.objects.order_by("name"), label=_("Store"),
                widget=forms.Select(attrs={"class": "select"}))
            self.order_fields(["store", "display_name"])
        for field in spec.fields:
            self.fields[field.name] = _form_field(field, secret_is_set=field.name in secrets_set,
                                                  creating=account is None)
        self.secrets_set = secrets_set

    def provider_values(self) -> dict[str, Any]:
        """The cleaned values of the provider's own fields."""
        return {field.name: self.cleaned_data.get(field.name) for field in self.spec.fields}

    def secret_rows(self):
        """(bound field, is set) for the template's "set" / "replace" marks."""
        return [(self[field.name], field.name in self.secrets_set) for field in self.spec.secret_fields]

    def plain_rows(self):
        return [self[name] for name in self.fields if name not in {f.name for f in self.spec.secret_fields}]
