"""The Generate page behind the profiles list's button: the form, "Preview" (nothing written), then
"Generate" once per preview (one-time tokens kept in the staff member's session)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html

from profiles.models import Profile
from synthadmin.admin.helpers import (
    GENERATE_PERMISSION,
    SyntheticDataPermissions,
    admin_page,
    admin_url,
    run_link,
    run_log_addition,
    staff_starter,
)
from synthadmin.admin.queued import queued_message, waiting_note
from synthadmin.admin.refusals import PermissionMissing
from synthadmin.exceptions import ConfigurationError, InvalidRequestError, SynthadminError
from synthadmin.forms import GenerateForm
from synthadmin.models import SyntheticRun
from synthadmin.mood_chart import BAND_COLOURS, STATE_LABELS
from synthadmin.services.dispatch import Placement, run_placement, run_start_or_enqueue
from synthadmin.services.logins import logins_expire, logins_held
from synthadmin.services.population import population_names_check
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.preview import PreviewReport, population_preview
from synthadmin.text import plural

#: Where the Generate buttons of recent previews keep their one-time tokens, and how many.
PREVIEW_TOKENS_SESSION_KEY = "synthadmin_preview_tokens"
PREVIEW_TOKENS_KEPT = 20


class GeneratePageAdmin(SyntheticDataPermissions, admin.ModelAdmin[Profile]):
    """The profiles admin's Generate page: its URL, the button (for staff who may generate), the
    two steps, and their overridable templates."""

    generate_template = "admin/profiles/profile/generate.html"
    generate_preview_template = "admin/profiles/profile/generate_preview.html"

    def get_urls(self) -> list[URLPattern]:
        generate = path(
            "generate/",
            self.admin_site.admin_view(self.generate_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_generate",
        )
        return [generate, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"can_generate": self.has_generate_synthetic_permission(request), **(extra_context or {})}
        return super().changelist_view(request, context)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """The form behind the button, in two steps: "Preview" (``population_preview``,
        nothing written) shows what the run would make, with "Generate" (the same parameters,
        hidden) and "Back"; a valid POST without ``_preview`` or ``_back`` generates: validate,
        call the service, log, message, redirect."""
        if not self.has_generate_synthetic_permission(request):
            raise PermissionMissing(GENERATE_PERMISSION)
        logins_expire()
        form = GenerateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and "_back" not in request.POST and form.is_valid():
            if "_preview" in request.POST:
                try:
                    preview = population_preview(request=form.generation_request())
                    # Said at the preview, not only after Generate: names the database cannot
                    # hold, Auth unreachable, the key refused.
                    population_names_check(locale=form.generation_request().locale)
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
                return HttpResponseRedirect(admin_url(self.admin_site, self.model, "changelist"))
            else:
                generated = self._generate(request, form)
                if generated is not None:
                    return generated
        return self._generate_page(request, form)

    def _generate_page(
        self, request: HttpRequest, form: GenerateForm, *, preview: PreviewReport | None = None
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "title": "Preview: nothing is written yet" if preview else "Generate synthetic data",
            "form": form,
            "max_patients": settings.SYNTHADMIN_ADMIN_MAX_PATIENTS,
            "max_per_run": settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN,
        }
        if preview is None:
            return admin_page(self, request, self.generate_template, context)
        placement = run_placement(form.generation_request())
        context.update(
            preview=preview,
            placement=placement,
            waiting_note=waiting_note(preview.patients + preview.therapists)
            if placement == Placement.WAITS
            else "",
            preview_token=_preview_token_issue(request),
            shares=[
                (STATE_LABELS.get(state, state), f"{share:.1%}", BAND_COLOURS.get(state, "#ccc"))
                for state, share in preview.state_shares.items()
            ],
            request_params=form.generation_request(),
            preview_patterns=preview_pattern_rows(preview),
        )
        return admin_page(self, request, self.generate_preview_template, context)

    def _generate(self, request: HttpRequest, form: GenerateForm) -> HttpResponse | None:
        """Run the service; the redirect to the run's profiles, or None (errors are on the form)."""
        create_logins = bool(form.cleaned_data.get("create_logins"))
        try:
            # Inline when small and no worker is alive, else enqueued for background workers
            # (services/dispatch.py); logins are held either way (services/logins.py).
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
        run_log_addition(self, request, run, f"Generated {summary} ({report.status}).")
        link = run_link(self.admin_site, run.id)
        if report.status == SyntheticRun.Status.SUCCEEDED:
            self.message_user(request, format_html("Created {} — {}.", summary, link), messages.SUCCESS)
        else:
            self.message_user(
                request,
                format_html("Run {}: created {}; {} — {}.", report.status, summary, report.error, link),
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
                    admin_url(self.admin_site, SyntheticRun, "logins", run.pk),
                    f"{timezone.localtime(held.expires_at):%Y-%m-%d %H:%M %Z}",
                ),
                messages.SUCCESS,
            )
        changelist = admin_url(self.admin_site, self.model, "changelist")
        return HttpResponseRedirect(f"{changelist}?run={run.pk}")

    def _enqueued(self, request: HttpRequest, run: SyntheticRun) -> HttpResponse:
        """An enqueued run: log it, say so, and go to its live page."""
        params = run.parameters
        what = f"{plural(params['patients'], 'patient')} and {plural(params['therapists'], 'therapist')}"
        run_log_addition(self, request, run, f"Enqueued a background run of {what}.")
        queued_message(
            self,
            request,
            f"Run queued: {what}. Workers create them in the background; this page follows the run.",
        )
        return HttpResponseRedirect(admin_url(self.admin_site, SyntheticRun, "change", run.pk))


def preview_pattern_rows(preview: PreviewReport) -> list[tuple[str, int]]:
    """(pattern, patients) of a preview, largest first: the rows under "Patients"."""
    ordered = sorted(preview.patients_by_pattern.items(), key=lambda item: -item[1])
    return [(pattern.replace("_", " "), count) for pattern, count in ordered]


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
