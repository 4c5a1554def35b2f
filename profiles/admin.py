"""Admin for profiles: read-only views of the Supabase tables, with the test-patient filter."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from checkins.models import CheckIn
from profiles.models import AuthUser, Profile
from synthadmin.admin_helpers import (
    ReadOnlyAdminMixin,
    SyntheticDataPermissions,
    run_link,
    staff_starter,
)
from synthadmin.exceptions import ConfigurationError, InvalidRequestError, SynthadminError
from synthadmin.forms import ExtendForm, GenerateForm
from synthadmin.models import LIVE_STATES, CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.mood_chart import BAND_COLOURS, SERIES, STATE_LABELS
from synthadmin.selectors import profile_is_synthetic, therapist_email
from synthadmin.services.dispatch import run_start_or_enqueue, users_delete_start_or_enqueue
from synthadmin.services.extend import synthetic_checkins_extend
from synthadmin.services.extend_today import synthetic_extend_to_today
from synthadmin.services.logins import logins_expire, logins_held
from synthadmin.services.patient_story import patient_story_get
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.preview import PreviewReport, synthetic_generate_preview
from synthadmin.services.purge import synthetic_purge
from synthadmin.target import target_get
from synthadmin.text import plural

#: How many names a confirmation page lists before "and N more".
NAMES_SHOWN = 20
#: Where the Generate buttons of recent previews keep their one-time tokens, and how many.
PREVIEW_TOKENS_SESSION_KEY = "synthadmin_preview_tokens"
PREVIEW_TOKENS_KEPT = 20


def _breakable(email: str) -> str:
    """An e-mail that may wrap after its dots and before its "@" (generated ones are long and
    have no spaces), escaped."""
    parts = re.split(r"(?<=\.)|(?=@)", email)
    return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts if part))


class TestPatientFilter(admin.SimpleListFilter):
    """Yes = ``is_test_patient`` true; No = false or NULL (NULL rows are real users)."""

    title = "Test patient"
    parameter_name = "test_patient"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        prefix = getattr(self, "field_prefix", "")
        if self.value() == "yes":
            return queryset.filter(**{f"{prefix}is_test_patient": True})
        if self.value() == "no":
            return queryset.exclude(**{f"{prefix}is_test_patient": True})
        return queryset


class RunFilter(admin.SimpleListFilter):
    """Users of one run (its ledger entries, or the patients an "Add check-in days" run extended).

    Offers the most recent runs; any run id works in the URL (``?run=<id>``), which is where
    Generate sends staff afterwards. ``user_field`` is the path to the user id being filtered.
    """

    title = "Run"
    parameter_name = "run"
    user_field = "id"
    RECENT = 12

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        runs = list(SyntheticRun.objects.order_by("-started_at")[: self.RECENT])
        chosen = self._run_id()
        if chosen is not None and all(r.pk != chosen for r in runs):
            runs += list(SyntheticRun.objects.filter(pk=chosen))
        return [(str(r.pk), run_label(r)) for r in runs]

    def _run_id(self) -> uuid.UUID | None:
        if not self.value():
            return None
        try:
            return uuid.UUID(str(self.value()))
        except ValueError:
            raise IncorrectLookupParameters(f"run: not a run id: {self.value()!r}") from None

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        run_id = self._run_id()
        if run_id is None:
            return queryset
        users = SyntheticUser.objects.filter(run_id=run_id, state__in=LIVE_STATES).values("user_id")
        extended = CheckinAddition.objects.filter(run_id=run_id).values("user_id")
        return queryset.filter(**{f"{self.user_field}__in": users.union(extended)})


def run_label(run: SyntheticRun) -> str:
    """A run as a filter choice: ``3f2a1b4c · 30 Nov 2026 · 5 patients, cycling``."""
    params = run.parameters
    if run.kind == SyntheticRun.Kind.EXTEND:
        what = f"{plural(int(params.get('patients') or 0), 'patient')} extended"
    else:
        what = plural(run.patients_created, "patient")
    pattern = params.get("pattern")
    return f"{str(run.pk)[:8]} · {run.started_at:%d %b %Y} · {what}" + (f", {pattern}" if pattern else "")


@admin.register(Profile)
class ProfileAdmin(SyntheticDataPermissions, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/profiles/profile/change_list.html"
    change_form_template = "admin/profiles/profile/change_form.html"
    actions = ["delete_synthetic_users", "add_checkin_days", "extend_to_today"]
    list_display = (
        "email_breakable",
        "name",
        "role",
        "test_patient",
        "pattern",
        "run",
        "therapist_email",
        "checkin_count",
        "last_checkin",
        "created",
    )
    list_filter = (TestPatientFilter, "role", RunFilter)
    search_fields = ("email", "username")
    list_per_page = 50
    list_display_links = ("email_breakable",)
    show_full_result_count = False
    fields = (
        "id",
        "email",
        "name",
        "username",
        "role",
        "therapist_email",
        "is_test_patient",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("therapist_email", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        # One query for the page: every column is a correlated subquery on an indexed key (no
        # GROUP BY over the whole table), the therapist through whichever link this database
        # has (synthadmin.selectors), never a query per row.
        checkins = CheckIn.objects.filter(user_id=OuterRef("pk")).order_by()
        entry = SyntheticUser.objects.filter(user_id=OuterRef("pk"), state__in=LIVE_STATES).order_by("-id")
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                _name=Subquery(
                    AuthUser.objects.filter(id=OuterRef("pk")).values(n=KT("raw_user_meta_data__name"))[:1]
                ),
                _checkin_count=Coalesce(
                    Subquery(checkins.values("user_id").annotate(n=Count("id")).values("n")[:1]),
                    Value(0),
                    output_field=IntegerField(),
                ),
                _last_checkin=Subquery(checkins.order_by("-checkin_date").values("checkin_date")[:1]),
                _run_id=Subquery(entry.values("run_id")[:1]),
                _pattern=Subquery(
                    entry.values(
                        p=Coalesce(
                            KT("ground_truth__pattern"),
                            Subquery(
                                SyntheticRun.objects.filter(pk=OuterRef("run_id")).values(
                                    x=KT("parameters__pattern")
                                )[:1]
                            ),
                        )
                    )[:1]
                ),
            )
        )
        therapist = therapist_email(target_get())
        return queryset.annotate(_therapist_email=therapist) if therapist is not None else queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            profile_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(id=profile_id), may_have_duplicates

    @admin.display(description="Test patient", boolean=True, ordering="is_test_patient")
    def test_patient(self, obj: Profile) -> bool:
        return profile_is_synthetic(obj)

    @admin.display(description="Name", ordering="_name")
    def name(self, obj: Profile) -> str:
        return getattr(obj, "_name", None) or "—"

    @admin.display(description="Pattern", ordering="_pattern")
    def pattern(self, obj: Profile) -> str:
        if obj.role == "therapist":  # a therapist has no history, so no mood pattern
            return "—"
        return getattr(obj, "_pattern", None) or "—"

    @admin.display(description="Run", ordering="_run_id")
    def run(self, obj: Profile) -> str:
        run_id = getattr(obj, "_run_id", None)
        return run_link(run_id) if run_id else "—"

    @admin.display(description="Email", ordering="email")
    def email_breakable(self, obj: Profile) -> str:
        return _breakable(obj.email) if obj.email else str(obj.pk)

    @admin.display(description="Therapist")
    def therapist_email(self, obj: Profile) -> str:
        email = getattr(obj, "_therapist_email", None)
        return _breakable(email) if email else "—"

    @admin.display(description="Check-ins", ordering="_checkin_count")
    def checkin_count(self, obj: Profile) -> int:
        return int(getattr(obj, "_checkin_count", 0))

    @admin.display(description="Last check-in", ordering="_last_checkin")
    def last_checkin(self, obj: Profile) -> str:
        last = getattr(obj, "_last_checkin", None)
        return last.isoformat() if last else "—"

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Profile) -> str:
        return f"{obj.created_at:%Y-%m-%d}"

    # --- the patient page: the story of the history ------------------------------------------
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Profile | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.role == Profile.Role.PATIENT:
            story = patient_story_get(profile_id=obj.pk)
            context.update(
                {
                    "story": story,
                    "story_chart": mark_safe(story.chart.svg) if story.chart else "",  # noqa: S308 - numbers, dates, escaped text (synthadmin.mood_chart)
                    "story_series": SERIES,
                    "story_states": [(STATE_LABELS[s], BAND_COLOURS[s]) for s in BAND_COLOURS]
                    if story.truth is not None
                    else [],
                    "story_latest": [(row, STATE_LABELS.get(row.state or "", "—")) for row in story.latest],
                    "story_therapist": getattr(obj, "_therapist_email", None),
                    "story_can_view_checkins": request.user.has_perm("checkins.view_checkin"),
                }
            )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    # --- "Generate synthetic data" ----------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        generate = path(
            "generate/",
            self.admin_site.admin_view(self.generate_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_generate",
        )
        return [generate, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {"can_generate": self.has_generate_synthetic_permission(request), **(extra_context or {})}
        return super().changelist_view(request, context)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """The form behind the button, in two steps: "Preview" (``synthetic_generate_preview``,
        nothing written) shows what the run would make, with "Generate" (the same parameters,
        hidden) and "Back"; a valid POST without ``_preview`` or ``_back`` generates: validate,
        call the service, log, message, redirect."""
        if not self.has_generate_synthetic_permission(request):
            raise PermissionDenied
        logins_expire()
        form = GenerateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and "_back" not in request.POST and form.is_valid():
            if "_preview" in request.POST:
                try:
                    preview = synthetic_generate_preview(request=form.generation_request())
                    # Said at the preview, not only after Generate: Auth unreachable, the key refused.
                    auth_preflight()
                except InvalidRequestError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, str(exc))
                except ConfigurationError as exc:
                    form.add_error(None, str(exc))
                else:
                    return self._generate_page(request, form, preview=preview)
            elif not _preview_token_take(request):
                # Back and resubmit, or a second tab: that preview already made its run.
                self.message_user(
                    request,
                    "This preview was already generated (or is too old): nothing new was created. "
                    "Preview again to make another run.",
                    messages.WARNING,
                )
                changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                return HttpResponseRedirect(changelist)
            else:
                generated = self._generate(request, form)
                if generated is not None:
                    return generated
        return self._generate_page(request, form)

    def _generate_page(
        self, request: HttpRequest, form: GenerateForm, *, preview: PreviewReport | None = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview: nothing is written yet" if preview else "Generate synthetic data",
            "opts": self.opts,
            "form": form,
            "max_patients": settings.SYNTHADMIN_ADMIN_MAX_PATIENTS,
            "max_per_run": settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN,
        }
        if preview is None:
            return TemplateResponse(request, "admin/profiles/profile/generate.html", context)
        context.update(
            preview=preview,
            preview_token=_preview_token_issue(request),
            shares=[
                (STATE_LABELS.get(state, state), f"{share:.1%}", BAND_COLOURS.get(state, "#ccc"))
                for state, share in preview.state_shares.items()
            ],
            request_params=form.generation_request(),
        )
        return TemplateResponse(request, "admin/profiles/profile/generate_preview.html", context)

    def _generate(self, request: HttpRequest, form: GenerateForm) -> HttpResponse | None:
        """Run the service; the redirect to the run's profiles, or None (errors are on the form)."""
        create_logins = bool(form.cleaned_data.get("create_logins"))
        try:
            # Inline when small and no worker is alive, else enqueued for background workers
            # (services/background.py); logins are held either way (services/logins.py).
            run, report = run_start_or_enqueue(
                request=form.generation_request(),
                started_by=staff_starter(request),
                max_patients=settings.SYNTHADMIN_ADMIN_MAX_PATIENTS,
                hold_logins=create_logins,
            )
        except InvalidRequestError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            return None
        except SynthadminError as exc:
            form.add_error(None, str(exc))
            return None
        if report is None:
            return self._enqueued(request, run)
        summary = (
            f"{plural(report.patients_created, 'patient')}, "
            f"{plural(report.therapists_created, 'therapist')} and "
            f"{plural(report.checkins_created, 'check-in')}"
        )
        self.log_addition(request, run, f"Generated {summary} ({report.status}).")
        if report.status == SyntheticRun.Status.SUCCEEDED:
            self.message_user(
                request, format_html("Created {} — {}.", summary, run_link(run.id)), messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                format_html(
                    "Run {}: created {}; {} — {}.", report.status, summary, report.error, run_link(run.id)
                ),
                messages.WARNING if report.status == SyntheticRun.Status.PARTIAL else messages.ERROR,
            )
        held = logins_held(run=run) if create_logins else None
        if held is not None and held.expires_at is not None:
            self.message_user(
                request,
                format_html(
                    'Logins for {}: <a href="{}" id="download-logins-link">Download logins (once)</a> '
                    "before {} — after that, or once downloaded, they are gone.",
                    plural(held.count, "user"),
                    reverse("admin:synthadmin_syntheticrun_logins", args=[run.pk]),
                    f"{timezone.localtime(held.expires_at):%Y-%m-%d %H:%M %Z}",
                ),
                messages.SUCCESS,
            )
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return HttpResponseRedirect(f"{changelist}?run={run.pk}")

    def _enqueued(self, request: HttpRequest, run: SyntheticRun) -> HttpResponse:
        """An enqueued run: log it, say so, and go to its live page."""
        params = run.parameters
        what = f"{plural(params['patients'], 'patient')} and {plural(params['therapists'], 'therapist')}"
        self.log_addition(request, run, f"Enqueued a background run of {what}.")
        self.message_user(
            request,
            f"Run queued: {what}. Workers create them in the background; this page follows the run.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))

    # --- actions ------------------------------------------------------------------------------
    def _carried_selection(self, request: HttpRequest) -> dict:
        """What the confirmation page posts back: the flag, not the rows.

        With "select all" (``select_across``) Django runs the action on the changelist's
        queryset — rebuilt from the URL's query string, which the confirmation form keeps by
        posting to the same URL — so only the ids the browser posted (one page at most) travel
        back, never thousands (``DATA_UPLOAD_MAX_NUMBER_FIELDS``).
        """
        return {
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": "1" if request.POST.get("select_across") in ("1", "True", "true", "on") else "0",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }

    @admin.action(permissions=["purge_synthetic"], description="Delete selected synthetic users")
    def delete_synthetic_users(
        self, request: HttpRequest, queryset: QuerySet[Profile]
    ) -> HttpResponse | None:
        """Delete through the service; real profiles in the selection are named and left alone."""
        ids = list(queryset.values_list("id", flat=True))
        if request.POST.get("post") != "yes":
            preview = synthetic_purge(user_ids=ids, dry_run=True)
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete synthetic users?",
                "opts": self.opts,
                "preview": preview,
                "selected_count": len(ids),
                **self._carried_selection(request),
            }
            return TemplateResponse(
                request, "admin/profiles/profile/delete_synthetic_confirmation.html", context
            )
        # Many users with a worker alive: a task (as "Purge this run"); else here. Either way the
        # deleted profiles are logged in the admin's history (compare delete_selected).
        try:
            report = users_delete_start_or_enqueue(user_ids=ids, logged_by=request.user.pk)
        except SynthadminError as exc:
            self.message_user(request, f"Nothing deleted: {exc}", messages.ERROR)
            return None
        if report is None:
            self.message_user(
                request,
                f"Deletion queued: a worker deletes the synthetic users among the "
                f"{plural(len(ids), 'selected profile')} (real ones are left alone, as the confirmation "
                "said); this list shows them gone as it goes, and each deletion goes into the history.",
                messages.SUCCESS,
            )
            return None
        self.message_user(
            request,
            f"Deleted {plural(report.users_deleted, 'synthetic user')} "
            f"({plural(report.checkins_deleted, 'check-in')}).",
            messages.SUCCESS,
        )
        if report.skipped_real:
            self.message_user(
                request,
                f"Not deleted (real users): {_names(report.skipped_real)}",
                messages.WARNING,
            )
        if report.not_created_here:
            self.message_user(
                request,
                "Not deleted (flagged as test patients, not created by synthadmin): "
                + _names(report.not_created_here),
                messages.WARNING,
            )
        for line in report.left_alone + report.blocked:
            self.message_user(request, f"Left in place: {line}", messages.WARNING)
        for error in report.errors:
            self.message_user(request, f"Not deleted: {error}", messages.ERROR)
        return None

    @admin.action(
        permissions=["generate_synthetic"], description="Add check-in days to selected test patients"
    )
    def add_checkin_days(self, request: HttpRequest, queryset: QuerySet[Profile]) -> HttpResponse | None:
        """Intermediate page (days, pattern), then the service; real patients are refused."""
        form = ExtendForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                report, refusals = synthetic_checkins_extend(
                    patient_ids=queryset.values_list("id", flat=True),
                    days=form.cleaned_data["days"],
                    pattern=form.cleaned_data["pattern"],
                    started_by=staff_starter(request),
                )
            except InvalidRequestError as exc:
                form.add_error(None, str(exc))
            else:
                if report is None:
                    self.message_user(
                        request,
                        "Nothing added: the selection has no synthetic patient synthadmin created.",
                        messages.WARNING,
                    )
                else:
                    run = SyntheticRun.objects.get(pk=report.run_id)
                    added = plural(report.checkins_created, "check-in")
                    self.log_addition(request, run, f"Added {added} ({report.status}).")
                    self.message_user(
                        request,
                        format_html("Added {} — {}.", added, run_link(run.id)),
                        messages.SUCCESS
                        if report.status == SyntheticRun.Status.SUCCEEDED
                        else messages.WARNING,
                    )
                if refusals:
                    self.message_user(
                        request,
                        f"Refused {plural(len(refusals), 'profile')}: "
                        + _names([f"{r.email} ({r.reason})" for r in refusals], sep="; "),
                        messages.WARNING,
                    )
                return None
        real = queryset.exclude(is_test_patient=True).order_by("email")
        context = {
            **self.admin_site.each_context(request),
            "title": "Add check-in days",
            "opts": self.opts,
            "form": form,
            "selected_count": queryset.count(),
            "synthetic_patients": queryset.filter(is_test_patient=True, role=Profile.Role.PATIENT).count(),
            "real_shown": [p.email or str(p.pk) for p in real[:NAMES_SHOWN]],
            "real_more": max(real.count() - NAMES_SHOWN, 0),
            **self._carried_selection(request),
        }
        return TemplateResponse(request, "admin/profiles/profile/add_checkin_days.html", context)

    @admin.action(permissions=["generate_synthetic"], description="Extend selected test patients to today")
    def extend_to_today(self, request: HttpRequest, queryset: QuerySet[Profile]) -> HttpResponse | None:
        """Confirmation page, then the service: each synthetic patient's missing days up to today."""
        if request.POST.get("post") == "yes":
            done = synthetic_extend_to_today(
                patient_ids=queryset.values_list("id", flat=True), started_by=staff_starter(request)
            )
            current = f"{plural(done.up_to_date, 'patient')} already up to {done.today:%d %b %Y}"
            if done.report is None:
                self.message_user(request, f"Nothing added: {current}.", messages.WARNING)
            else:
                run = SyntheticRun.objects.get(pk=done.report.run_id)
                added = plural(done.report.checkins_created, "check-in")
                patients = plural(done.patients_extended, "patient")
                self.log_addition(
                    request, run, f"Extended {patients} to today: {added} ({done.report.status})."
                )
                self.message_user(
                    request,
                    format_html(
                        "Extended {} to {}: {} — {}.{}",
                        patients,
                        f"{done.today:%d %b %Y}",
                        added,
                        run_link(run.id),
                        f" ({current}.)" if done.up_to_date else "",
                    ),
                    messages.SUCCESS
                    if done.report.status == SyntheticRun.Status.SUCCEEDED
                    else messages.WARNING,
                )
                for failure in done.report.failures[:NAMES_SHOWN]:
                    self.message_user(
                        request, f"Not extended: {failure.email}: {failure.reason}", messages.ERROR
                    )
            if done.refusals:
                self.message_user(
                    request,
                    f"Refused {plural(len(done.refusals), 'profile')}: "
                    + _names([f"{r.email} ({r.reason})" for r in done.refusals], sep="; "),
                    messages.WARNING,
                )
            return None
        real = queryset.exclude(is_test_patient=True).order_by("email")
        context = {
            **self.admin_site.each_context(request),
            "title": "Extend to today",
            "opts": self.opts,
            "today": timezone.localdate(),
            "selected_count": queryset.count(),
            "synthetic_patients": queryset.filter(is_test_patient=True, role=Profile.Role.PATIENT).count(),
            "real_shown": [p.email or str(p.pk) for p in real[:NAMES_SHOWN]],
            "real_more": max(real.count() - NAMES_SHOWN, 0),
            **self._carried_selection(request),
        }
        return TemplateResponse(request, "admin/profiles/profile/extend_to_today.html", context)


def _preview_token_issue(request: HttpRequest) -> str:
    """A one-time token for the preview's Generate button, kept in the staff member's session
    (the last ``PREVIEW_TOKENS_KEPT`` previews)."""
    token = secrets.token_urlsafe(16)
    tokens = [*request.session.get(PREVIEW_TOKENS_SESSION_KEY, []), token][-PREVIEW_TOKENS_KEPT:]
    request.session[PREVIEW_TOKENS_SESSION_KEY] = tokens
    return token


def _preview_token_take(request: HttpRequest) -> bool:
    """Whether this Generate may run: a POST without a preview token (the form's direct use)
    may; one with a token may once — the token is spent, and the session saved, before the run."""
    token = request.POST.get("preview_token")
    if token is None:
        return True
    tokens = list(request.session.get(PREVIEW_TOKENS_SESSION_KEY, []))
    if token not in tokens:
        return False
    tokens.remove(token)
    request.session[PREVIEW_TOKENS_SESSION_KEY] = tokens
    request.session.save()
    return True


def _names(names: list[str], *, sep: str = ", ") -> str:
    """At most ``NAMES_SHOWN`` names, then how many more."""
    shown = sep.join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown
