"""Plain forms for the admin pages. Validation of meaning stays in the service layer; these only
turn text into typed values and show the service's errors next to the right field."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone

from synthadmin.content import PATTERN_NAMES, get_pattern


def _pattern_choices() -> list[tuple[str, str]]:
    return [(name, f"{name} — {get_pattern(name).description.split(':')[0]}") for name in PATTERN_NAMES]


class GenerateForm(forms.Form):
    patients = forms.IntegerField(min_value=0, initial=5)
    therapists = forms.IntegerField(min_value=0, initial=0)
    checkin_days = forms.IntegerField(
        label="Check-in days", min_value=0, initial=30, help_text="Days of history per patient."
    )
    pattern = forms.ChoiceField(choices=_pattern_choices, initial="stable")
    seed = forms.IntegerField(
        min_value=0, required=False, help_text="Same seed, same names and histories. Empty: random."
    )
    end_date = forms.DateField(
        required=False,
        help_text="Last day of history (YYYY-MM-DD). Empty: today.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_patients(self) -> int:
        patients = self.cleaned_data["patients"]
        limit = settings.SYNTHADMIN_ADMIN_MAX_PATIENTS
        if patients > limit:
            raise forms.ValidationError(
                f"At most {limit} patients from the admin, so a click never ties up the server. "
                f"For more, run: python manage.py generate_synthetic --patients {patients}"
            )
        return patients

    def clean_checkin_days(self) -> int:
        days = self.cleaned_data["checkin_days"]
        if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
            raise forms.ValidationError(f"At most {settings.SYNTHADMIN_MAX_CHECKIN_DAYS} days.")
        return days

    def clean_end_date(self) -> datetime.date | None:
        end_date = self.cleaned_data.get("end_date")
        if end_date and end_date > timezone.localdate():
            raise forms.ValidationError("The end date cannot be in the future.")
        return end_date

    def clean(self) -> dict:
        data = super().clean()
        if data.get("patients") == 0 and data.get("therapists") == 0:
            raise forms.ValidationError("Ask for at least one patient or therapist.")
        return data


class ExtendForm(forms.Form):
    days = forms.IntegerField(label="Check-in days to add", min_value=1, initial=30)
    pattern = forms.ChoiceField(choices=_pattern_choices, initial="stable")

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
            raise forms.ValidationError(f"At most {settings.SYNTHADMIN_MAX_CHECKIN_DAYS} days.")
        return days
