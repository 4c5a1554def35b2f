"""Plain forms for the admin pages. Validation of meaning stays in the service layer; these only
turn text into typed values and show the service's errors next to the right field.

Numbers and dates are read the way the command reads them (``synthadmin.services.requests``:
ASCII digits only), and the whole request is checked by the same ``generation_request_validate``
before the form is valid, so nothing the service would refuse part way ever reaches it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from synthadmin.content import PATTERN_NAMES
from synthadmin.exceptions import InvalidRequestError
from synthadmin.services.requests import (
    GenerationRequest,
    ascii_date,
    ascii_integer,
    generation_request_validate,
)


class AsciiIntegerField(forms.IntegerField):
    """An integer typed in ASCII digits (Django's own also takes other scripts' digits and "1_0")."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return ascii_integer(self.label or "value", value)
        except InvalidRequestError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class AsciiDateField(forms.DateField):
    """A date typed YYYY-MM-DD in ASCII digits."""

    def to_python(self, value: Any) -> datetime.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.date):
            return value
        try:
            return ascii_date(self.label or "date", value)
        except InvalidRequestError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


#: What each pattern's mood looks like, in the words staff choose by (the clinical sources are in
#: docs/patterns.md and ``synthadmin.content.patterns``).
PATTERN_WORDS: dict[str, str] = {
    "stable": "Steady mood most of the time; now and then a few low days or a single high day",
    "cycling": "Swings over weeks to months: long low spells, some high and mixed periods, calm between",
    "rapid_cycling": "Four or more distinct highs and lows a year, each days to weeks long",
    "depressive": "Low mood about half of the time in long spells; rare short highs, never mania",
    "manic": "High, energetic mood and little sleep most of the time; some mixed days and dips",
    "random": "Not a real course: each day's mood drawn at random; for load tests only",
}


def _pattern_choices() -> list[tuple[str, str]]:
    return [(name, f"{name.replace('_', ' ')} — {PATTERN_WORDS[name]}") for name in PATTERN_NAMES]


class GenerateForm(forms.Form):
    patients = AsciiIntegerField(min_value=0, initial=5)
    therapists = AsciiIntegerField(min_value=0, initial=0)
    checkin_days = AsciiIntegerField(
        label="Check-in days", min_value=0, initial=30, help_text="Days of history per patient."
    )
    pattern = forms.ChoiceField(choices=_pattern_choices, initial="stable")
    seed = AsciiIntegerField(
        min_value=0, required=False, help_text="Same seed, same names and histories. Empty: random."
    )
    end_date = AsciiDateField(
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

    def clean_therapists(self) -> int:
        therapists = self.cleaned_data["therapists"]
        limit = settings.SYNTHADMIN_ADMIN_MAX_PATIENTS
        if therapists > limit:
            raise forms.ValidationError(
                f"At most {limit} users from the admin (patients and therapists together). "
                f"For more, run: python manage.py generate_synthetic --therapists {therapists}"
            )
        return therapists

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
        if self.errors:
            return data
        limit = settings.SYNTHADMIN_ADMIN_MAX_PATIENTS
        total = data["patients"] + data["therapists"]
        if total > limit:
            raise forms.ValidationError(
                f"At most {limit} users from the admin (patients and therapists together), got {total}. "
                f"For more, run: python manage.py generate_synthetic --patients {data['patients']} "
                f"--therapists {data['therapists']}"
            )
        # The service's own rules (a history window inside the calendar...), checked now, so the
        # form shows them next to the field instead of a run failing part way.
        try:
            generation_request_validate(self.generation_request(), max_patients=limit)
        except InvalidRequestError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data

    def generation_request(self) -> GenerationRequest:
        """The request this form describes (valid only once ``is_valid()``)."""
        data = self.cleaned_data
        return GenerationRequest(
            patients=data["patients"],
            therapists=data["therapists"],
            checkin_days=data["checkin_days"],
            pattern=data["pattern"],
            seed=data.get("seed"),
            end_date=data.get("end_date"),
        )


class ExtendForm(forms.Form):
    days = AsciiIntegerField(label="Check-in days to add", min_value=1, initial=30)
    pattern = forms.ChoiceField(choices=_pattern_choices, initial="stable")

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
            raise forms.ValidationError(f"At most {settings.SYNTHADMIN_MAX_CHECKIN_DAYS} days.")
        return days
