"""A PostgreSQL array of choices, edited as check boxes: how routing models store "any of these
channels / languages / priorities" without a join table per list."""

from __future__ import annotations

from django import forms
from django.contrib.postgres.fields import ArrayField


class ChoiceArrayField(ArrayField):
    """An ArrayField whose base field has choices; the form shows one check box per choice. An
    empty list means "any"."""

    def formfield(self, **kwargs):
        defaults = {
            "form_class": forms.TypedMultipleChoiceField,
            "choices": self.base_field.choices,
            "coerce": self.base_field.to_python,
            "widget": forms.CheckboxSelectMultiple,
            "required": not self.blank,
        }
        defaults.update(kwargs)
        # ArrayField.formfield would force its own comma-separated form class: skip it.
        return super(ArrayField, self).formfield(**defaults)
