"""Unmanaged model over the Supabase table ``public.check_ins``."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now

from profiles.models import Profile
from synthadmin.content import PAYLOAD_COLUMNS

__all__ = ["PAYLOAD_COLUMNS", "CheckIn"]


class CheckIn(models.Model):
    """One patient's daily check-in: six JSONB objects (see the payload contract)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(
        Profile,
        on_delete=models.DO_NOTHING,  # the database does ON DELETE CASCADE
        db_column="user_id",
        db_constraint=False,
        related_name="checkins",
    )
    checkin_date = models.DateField()
    sleep_data = models.JSONField(default=dict)
    mood_data = models.JSONField(default=dict)
    symptoms_data = models.JSONField(default=dict)
    risk_routine_data = models.JSONField(default=dict)
    appetite_impulse_data = models.JSONField(default=dict)
    meds_context_data = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        managed = False
        db_table = 'public"."check_ins'
        verbose_name = "check-in"
        ordering = ["-checkin_date"]
        constraints = [
            models.UniqueConstraint(fields=["user", "checkin_date"], name="unique_checkin_per_user_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.checkin_date}"
