"""Saved scenarios: edited with ``ScenarioForm``, run by staff who may generate synthetic data
and reset (purge, then run again) by staff who may also purge."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from synthadmin.admin.generate import preview_pattern_rows
from synthadmin.admin.helpers import (
    SyntheticDataPermissions,
    admin_page,
    run_link,
    run_log_addition,
    staff_starter,
)
from synthadmin.admin.privacy import purge_report_shown
from synthadmin.admin.queued import queued_message, waiting_note
from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.forms import ScenarioForm
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.dispatch import (
    Placement,
    run_start_or_enqueue,
    scenario_placement,
    scenario_reset_start_or_enqueue,
)
from synthadmin.services.preview import population_preview
from synthadmin.services.scenarios import (
    ResetReport,
    scenario_live_runs,
    scenario_mix_text,
    scenario_request,
    scenario_validate,
)
from synthadmin.text import plural


class ScenarioAdmin(SyntheticDataPermissions, admin.ModelAdmin[Scenario]):
    """Saved recipes: editable, run and reset by staff who may generate synthetic data."""

    list_display = (
        "name",
        "therapists",
        "patients",
        "mix_display",
        "checkin_days",
        "seed",
        "built_in",
        "last_run",
    )
    search_fields = ("name", "description")
    actions = ["run_scenarios", "reset_scenarios"]
    readonly_fields = ("built_in", "created_at", "updated_at")
    form = ScenarioForm
    reset_confirmation_template = "admin/synthadmin/scenario/reset_confirmation.html"
    run_confirmation_template = "admin/synthadmin/scenario/run_confirmation.html"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Staff who may generate, or who were given ``view_scenario`` (read the recipes only)."""
        return self.has_generate_synthetic_permission(request) or super().has_view_permission(
            request, obj if isinstance(obj, Scenario) else None
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        builtin = isinstance(obj, Scenario) and obj.built_in
        return self.has_generate_synthetic_permission(request) and not builtin

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scenario]:
        return super().get_queryset(request).annotate(_runs=Count("runs"))

    def save_model(self, request: HttpRequest, obj: Scenario, form: Any, change: bool) -> None:
        scenario_validate(obj)  # the same rules as a run (raises before saving a scenario that cannot run)
        super().save_model(request, obj, form, change)

    @admin.display(description="Mix")
    def mix_display(self, obj: Scenario) -> str:
        return scenario_mix_text(obj)

    @admin.display(description="Runs")
    def last_run(self, obj: Scenario) -> int:
        return int(getattr(obj, "_runs", 0))

    @admin.action(permissions=["generate_synthetic"], description="Run selected scenarios")
    def run_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> HttpResponse | None:
        """First a confirmation page — each scenario's Preview (``population_preview``: sizes,
        patients per pattern, check-ins), where it would run, and any live population it already
        has, with Reset offered — then, on "Yes, run", each scenario runs inline when small and
        no worker is alive, else it is enqueued (``dispatch.run_start_or_enqueue``)."""
        scenarios = list(queryset)
        if request.POST.get("post") != "yes":
            plans = [self._run_plan(s) for s in scenarios]
            context = {
                "title": "Run scenarios?",
                "plans": plans,
                "any_live": any(plan["live_runs"] for plan in plans),
                "can_reset": self.has_reset_permission(request),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return admin_page(self, request, self.run_confirmation_template, context)
        for scenario in scenarios:
            self._run_one(request, scenario)
        return None

    def _run_plan(self, scenario: Scenario) -> dict[str, Any]:
        """What the confirmation says of one scenario (nothing written)."""
        plan: dict[str, Any] = {"scenario": scenario, "live_runs": scenario_live_runs(scenario)}
        try:
            preview = population_preview(request=scenario_request(scenario))
        except InvalidRequestError as exc:
            plan["error"] = str(exc)
            return plan
        placement = scenario_placement(scenario)
        plan.update(
            preview=preview,
            preview_patterns=preview_pattern_rows(preview),
            placement=str(placement),
            waiting_note=waiting_note(preview.patients + preview.therapists)
            if placement == Placement.WAITS
            else "",
        )
        return plan

    def _run_one(self, request: HttpRequest, scenario: Scenario) -> None:
        try:
            run, report = run_start_or_enqueue(
                request=scenario_request(scenario), scenario=scenario, started_by=staff_starter(request)
            )
        except SynthadminError as exc:
            self.message_user(request, f"{scenario.name}: nothing run: {exc}", messages.ERROR)
            return
        if report is None:
            run_log_addition(self, request, run, f"Enqueued scenario {scenario.name} as a background run.")
            queued_message(
                self,
                request,
                format_html(
                    "{}: queued for background workers — {}.",
                    scenario.name,
                    run_link(self.admin_site, run.id),
                ),
            )
            return
        run_log_addition(self, request, run, f"Ran scenario {scenario.name} ({report.status}).")
        self.message_user(
            request,
            format_html("{}: {} — {}.", scenario.name, report.status, run_link(self.admin_site, run.id)),
            messages.SUCCESS if report.status == SyntheticRun.Status.SUCCEEDED else messages.WARNING,
        )

    def has_reset_permission(self, request: HttpRequest) -> bool:
        """Reset purges, then generates: it needs both permissions (an action listing two
        passes when either does, so Reset asks for this one)."""
        return self.has_generate_synthetic_permission(request) and self.has_purge_synthetic_permission(
            request
        )

    @admin.action(permissions=["reset"], description="Reset selected scenarios")
    def reset_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> HttpResponse | None:
        """Purge each scenario's earlier runs, then run it again: in the request or as a task, by
        the rule of Run (``dispatch.scenario_reset_start_or_enqueue``)."""
        scenarios = list(queryset)
        if request.POST.get("post") != "yes":
            context = {
                "title": "Reset scenarios?",
                "plan": [(s, s.runs.filter(purged_at__isnull=True).count()) for s in scenarios],
                "waiting": [
                    (s.name, waiting_note(s.patients + s.therapists))
                    for s in scenarios
                    if scenario_placement(s) == Placement.WAITS
                ],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return admin_page(self, request, self.reset_confirmation_template, context)
        for scenario in scenarios:
            try:
                reset = scenario_reset_start_or_enqueue(scenario=scenario, started_by=staff_starter(request))
            except SynthadminError as exc:
                self.message_user(request, f"{scenario.name}: nothing reset: {exc}", messages.ERROR)
                continue
            if reset is None:
                queued_message(
                    self,
                    request,
                    f"{scenario.name}: reset queued — a worker purges its earlier runs, then enqueues it "
                    "again (its new run appears in the runs list).",
                )
            else:
                self._reset_reported(request, scenario, reset)
        return None

    def _reset_reported(self, request: HttpRequest, scenario: Scenario, reset: ResetReport) -> None:
        if reset.run is None:
            purge = purge_report_shown(reset.purge, request)
            first = (purge.left_alone or purge.blocked or purge.errors or [""])[0]
            self.message_user(request, f"{scenario.name}: {reset.reason}: {first}", messages.ERROR)
            return
        run = SyntheticRun.objects.get(pk=reset.run.run_id)
        run_log_addition(
            self,
            request,
            run,
            f"Reset scenario {scenario.name}: purged {reset.purge.users_deleted} user(s), ran again.",
        )
        self.message_user(
            request,
            format_html(
                "{}: purged {}, then {} — {}.",
                scenario.name,
                plural(reset.purge.users_deleted, "user"),
                reset.run.status,
                run_link(self.admin_site, run.id),
            ),
            messages.SUCCESS,
        )
