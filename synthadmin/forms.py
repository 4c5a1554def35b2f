"""The admin's forms: Generate, Add check-in days, and a scenario's. Validation of meaning stays in
the service layer; these only turn text into typed values and show the service's errors next to
the right field.

Numbers and dates are read the way the command reads them (``synthadmin.services.requests``:
ASCII digits only), a mix by the command's ``mix_parse``, and the whole request is checked by the
service's own rules (``generation_request_errors``) before the form is valid — every error at
once, as Django's forms do — so nothing the service would refuse part way ever reaches it.
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
    PARAMETER_LABELS,
    GenerationRequest,
    ascii_date,
    ascii_integer,
    generation_request_errors,
    locales_available,
    mix_parse,
    mix_text,
)
from synthadmin.services.scenarios import scenario_errors


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

#: The locales offered first (the app's users; then every Faker locale, by code).
_COMMON_LOCALES = ("pt_BR", "en_US", "es_ES", "pt_PT", "en_GB")


def _locale_choices() -> list[tuple[str, str]]:
    available = locales_available()
    rest = sorted(set(available) - set(_COMMON_LOCALES))
    return [(code, code) for code in (*_COMMON_LOCALES, *rest) if code in available]


class MixField(forms.CharField):
    """A pattern mix typed ``stable=60,cycling=25`` (``mix_parse``, the command's and scenario
    files' syntax); cleaned to ``{"stable": 60, "cycling": 25}``, or None when empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", PARAMETER_LABELS["mix"])
        kwargs.setdefault(
            "help_text",
            "Optional, e.g. stable=60,cycling=25,depressive=15 (percentages, or counts adding up "
            "to the patients). Replaces the pattern above.",
        )
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "stable=60,cycling=40", "size": 40})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):  # a stored mix (a scenario's) shown as staff type it
            try:
                return mix_text(mix_parse(value))
            except InvalidRequestError:
                return str(value)
        return value

    def to_python(self, value: Any) -> dict[str, int] | None:  # type: ignore[override]
        if isinstance(value, dict):
            return mix_parse(value) or None
        text = super().to_python(value)
        if not text:
            return None
        try:
            return mix_parse(text)
        except InvalidRequestError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


def generation_fields() -> dict[str, forms.Field]:
    """The fields every form that describes a population shares — Generate and a scenario —
    with one set of labels (``PARAMETER_LABELS``), widgets and defaults (``GenerationRequest``).
    A new instance each call (fields are bound to their form)."""
    return {
        "patients": AsciiIntegerField(
            label=PARAMETER_LABELS["patients"], min_value=0, initial=_DEFAULTS.patients
        ),
        "therapists": AsciiIntegerField(
            label=PARAMETER_LABELS["therapists"],
            min_value=0,
            initial=_DEFAULTS.therapists,
            help_text="Each patient gets one of them.",
        ),
        "checkin_days": AsciiIntegerField(
            label=PARAMETER_LABELS["checkin_days"],
            min_value=0,
            initial=_DEFAULTS.checkin_days,
            help_text="Days of history per patient.",
        ),
        "pattern": forms.ChoiceField(
            label=PARAMETER_LABELS["pattern"], choices=_pattern_choices, initial=_DEFAULTS.pattern
        ),
        "mix": MixField(),
        "locale": forms.ChoiceField(
            label=PARAMETER_LABELS["locale"],
            choices=_locale_choices,
            initial=_DEFAULTS.locale,
            required=False,  # empty: the default
            help_text="The language and country of the names.",
        ),
        "seed": AsciiIntegerField(
            label=PARAMETER_LABELS["seed"],
            min_value=0,
            required=False,
            help_text="Same seed, same names and histories. Empty: random.",
        ),
        "end_date": AsciiDateField(
            label=PARAMETER_LABELS["end_date"],
            required=False,
            help_text="Last day of history (YYYY-MM-DD). Empty: today.",
            widget=forms.DateInput(
                format="%Y-%m-%d", attrs={"placeholder": "YYYY-MM-DD", "size": 12, "inputmode": "numeric"}
            ),
        ),
    }


def request_errors_add(form: forms.BaseForm, errors: list[InvalidRequestError], *, skip: set[str]) -> None:
    """Show the service's refusals on ``form``, each next to its field (form-wide when the form
    has no such field), all at once; none for a field whose own error already says what is
    wrong (``skip``)."""
    for exc in errors:
        field = exc.field if exc.field in form.fields else None
        if field in skip:
            continue
        form.add_error(field, str(exc))


class GenerateForm(forms.Form):
    """The generate page's form: fields and defaults from ``GenerationRequest``; the rules are
    the service's own (``generation_request_errors``), every one shown at once next to the
    field it concerns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = generation_fields()
        for name in (
            "patients",
            "therapists",
            "checkin_days",
            "pattern",
            "mix",
            "locale",
            "seed",
            "end_date",
        ):
            self.fields[name] = fields[name]
        self.fields["create_logins"] = forms.BooleanField(
            required=False,
            label="Create logins",
            help_text="Give every user a password, offered once as a CSV download when the run ends "
            "(held only encrypted until then, at most an hour).",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        limit = settings.SYNTHADMIN_ADMIN_MAX_PATIENTS
        skip = set(self.errors)
        errors = generation_request_errors(self._request(data), max_patients=limit, wrong=frozenset(skip))
        for exc in errors:
            if exc.field not in ("patients", "therapists") or {"patients", "therapists"} & skip:
                continue
            total = data["patients"] + data["therapists"]
            if total > limit or total == 0:  # about patients and therapists together: form-wide
                errors.remove(exc)
                self.add_error(None, _too_many(str(exc), data, total, limit))
        request_errors_add(self, errors, skip=skip)
        return data

    def _request(self, data: dict[str, Any]) -> GenerationRequest:
        """The request the fields that parsed describe (the defaults standing in for the rest)."""
        return GenerationRequest(
            patients=data.get("patients", _DEFAULTS.patients),
            therapists=data.get("therapists", _DEFAULTS.therapists),
            checkin_days=data.get("checkin_days", _DEFAULTS.checkin_days),
            pattern=data.get("pattern", _DEFAULTS.pattern),
            seed=data.get("seed"),
            end_date=data.get("end_date"),
            locale=data.get("locale") or _DEFAULTS.locale,
            mix=data.get("mix"),
        )

    def generation_request(self) -> GenerationRequest:
        """The request this form describes (valid only once ``is_valid()``)."""
        return self._request(self.cleaned_data)


def _too_many(message: str, data: dict[str, Any], total: int, limit: int) -> str:
    """A refusal of the users asked for, with where to make more if anywhere."""
    if limit < total <= settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN:  # the command can
        return (
            f"{message}. A click never ties up the server: for more, run python manage.py "
            f"generate_synthetic --patients {data['patients']} --therapists {data['therapists']}"
        )
    if total > limit:
        return f"{message} (SYNTHADMIN_MAX_PATIENTS_PER_RUN, also for the command): make several runs"
    return message


#: "Add check-in days" without a pattern chosen: each patient's own, continued.
OWN_PATTERN = ""


class ExtendForm(forms.Form):
    """ "Add check-in days": how many, and which pattern (by default each patient's own)."""

    days = AsciiIntegerField(
        label=PARAMETER_LABELS["checkin_days"],
        min_value=1,
        initial=30,
        help_text="Days of history to add before each patient's first check-in.",
    )
    pattern = forms.ChoiceField(
        label=PARAMETER_LABELS["pattern"],
        choices=lambda: [(OWN_PATTERN, "each patient's own pattern, continued"), *_pattern_choices()],
        initial=OWN_PATTERN,
        required=False,
    )

    def clean_days(self) -> int:
        days: int = self.cleaned_data["days"]
        if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
            raise forms.ValidationError(f"At most {settings.SYNTHADMIN_MAX_CHECKIN_DAYS:,} days.")
        return days

    def chosen_pattern(self) -> str | None:
        """The pattern chosen, or None: each patient's own."""
        return self.cleaned_data.get("pattern") or None


class ScenarioForm(forms.ModelForm[Scenario]):
    """A scenario as staff edit it, with Generate's fields (labels, widgets, the mix syntax);
    the rules are a run's own (``scenario_errors``), all shown at once next to their field, so
    a scenario that could not run is never saved."""

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shared = generation_fields()
        for name in (
            "therapists",
            "patients",
            "mix",
            "pattern",
            "checkin_days",
            "locale",
            "seed",
            "end_date",
        ):
            if name in self.fields:  # a viewer's form (view_scenario alone) has none: all read-only
                self.fields[name] = shared[name]
        if "adherence" not in self.fields:
            return
        self.fields["pattern"].help_text = "Used when the mix is empty."
        self.fields["locale"].required = True
        self.fields["mix"].help_text = (
            "e.g. stable=50,cycling=20,depressive=20,rapid_cycling=10 (percentages, or counts adding up to "
            "the patients). Empty: every patient follows the pattern below."
        )
        self.fields["adherence"].help_text = "Share of days with a check-in, above 0 and at most 1."

    def clean_mix(self) -> dict[str, int]:
        return self.cleaned_data.get("mix") or {}

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        # The fields that parsed; the model's defaults stand in for the others (their errors show).
        defaults = Scenario()
        values = {name: data.get(name, getattr(defaults, name)) for name in self.Meta.fields}
        values["mix"] = values["mix"] or {}
        wrong = set(self.errors)
        request_errors_add(self, scenario_errors(Scenario(**values), wrong=frozenset(wrong)), skip=wrong)
        return data
