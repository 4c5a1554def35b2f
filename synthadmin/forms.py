"""The admin's forms: Generate, Add check-in days, and a scenario's. Validation of meaning stays in
the service layer; these only turn text into typed values and show the service's errors next to
the right field.

Numbers and dates are read the way the command reads them (``synthadmin.services.requests``:
ASCII digits only), and the whole request is checked by the same ``generation_request_validate``
before the form is valid, so nothing the service would refuse part way ever reaches it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.conf import settings

from synthadmin.content import PATTERN_NAMES
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import Scenario
from synthadmin.services.requests import (
    GenerationRequest,
    ascii_date,
    ascii_integer,
    generation_request_validate,
    mix_parse,
)
from synthadmin.services.scenarios import scenario_validate


class AsciiIntegerField(forms.IntegerField):
    """An integer typed in ASCII digits (Django's own also takes other scripts' digits and "1_0")."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return ascii_integer(str(self.label or "value"), value)
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
            return ascii_date(str(self.label or "date"), value)
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


_DEFAULTS = GenerationRequest()


class GenerateForm(forms.Form):
    """The generate page's form: fields and defaults from ``GenerationRequest``; the rules are
    the service's own (``generation_request_validate``), shown next to the field they concern."""

    patients = AsciiIntegerField(min_value=0, initial=_DEFAULTS.patients)
    therapists = AsciiIntegerField(min_value=0, initial=_DEFAULTS.therapists)
    checkin_days = AsciiIntegerField(
        label="Check-in days",
        min_value=0,
        initial=_DEFAULTS.checkin_days,
        help_text="Days of history per patient.",
    )
    pattern = forms.ChoiceField(choices=_pattern_choices, initial=_DEFAULTS.pattern)
    mix = forms.CharField(
        required=False,
        label="Pattern mix",
        help_text="Optional, e.g. stable=60,cycling=25,depressive=15 (percentages, or counts adding up "
        "to the patients). Replaces the pattern above.",
    )
    seed = AsciiIntegerField(
        min_value=0, required=False, help_text="Same seed, same names and histories. Empty: random."
    )
    end_date = AsciiDateField(
        required=False,
        help_text="Last day of history (YYYY-MM-DD). Empty: today.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    create_logins = forms.BooleanField(
        required=False,
        label="Create logins",
        help_text="Give every user a password, offered once as a CSV download when the run ends "
        "(held only encrypted until then, at most an hour).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        limit = settings.SYNTHADMIN_ADMIN_MAX_PATIENTS
        try:
            generation_request_validate(self.generation_request(), max_patients=limit)
        except InvalidRequestError as exc:
            message, field = str(exc), exc.field if exc.field in self.fields else None
            total = data["patients"] + data["therapists"]
            if field in ("patients", "therapists") and (total > limit or total == 0):
                field = None  # about patients and therapists together: a form-wide error
                if limit < total <= settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN:  # the command can
                    message += (
                        ". A click never ties up the server: for more, run python manage.py "
                        f"generate_synthetic --patients {data['patients']} --therapists {data['therapists']}"
                    )
                elif total > limit:
                    message += " (SYNTHADMIN_MAX_PATIENTS_PER_RUN, also for the command): make several runs"
            self.add_error(field, message)
        return data

    def generation_request(self) -> GenerationRequest:
        """The request this form describes (valid only once ``is_valid()``).

        Raises InvalidRequestError for a malformed mix.
        """
        data = self.cleaned_data
        return GenerationRequest(
            patients=data["patients"],
            therapists=data["therapists"],
            checkin_days=data["checkin_days"],
            pattern=data["pattern"],
            seed=data.get("seed"),
            end_date=data.get("end_date"),
            mix=mix_parse(data["mix"]) if data.get("mix") else None,
        )


class ExtendForm(forms.Form):
    days = AsciiIntegerField(label="Check-in days to add", min_value=1, initial=30)
    pattern = forms.ChoiceField(choices=_pattern_choices, initial="stable")

    def clean_days(self) -> int:
        days: int = self.cleaned_data["days"]
        if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
            raise forms.ValidationError(f"At most {settings.SYNTHADMIN_MAX_CHECKIN_DAYS} days.")
        return days


class ScenarioForm(forms.ModelForm[Scenario]):
    """A scenario as staff edit it; the rules are a run's own (``scenario_validate``), shown next
    to the field they concern, so a scenario that could not run is never saved."""

    class Meta:
        model = Scenario
        fields = (
            "name",
            "description",
            "therapists",
            "patients",
            "mix",
            "pattern",
            "checkin_days",
            "adherence",
            "locale",
            "seed",
            "end_date",
        )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if not self.errors:
            try:
                scenario_validate(Scenario(**{k: v for k, v in data.items() if k != "id"}))
            except InvalidRequestError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data
