"""Unmanaged models over the Supabase tables ``public.profiles`` and ``auth.users``.

synthadmin does not own these tables: Django never creates or alters them (``managed = False``).
Their shape on an empty database comes from the baseline migration, and the one change this
project makes, ``is_test_patient``, from ``0002_is_test_patient``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now

TEST_PATIENT_COMMENT = (
    "Marks synthetic/test users (true) created for QA, demos and load tests, "
    "versus real patients and therapists (false)."
)


class AuthUser(models.Model):
    """Read-only view of Supabase Auth's ``auth.users`` (used to reconcile profiles)."""

    id = models.UUIDField(primary_key=True)
    instance_id = models.UUIDField(null=True)
    aud = models.CharField(max_length=255, null=True)  # noqa: DJ001 - nullable in auth.users
    role = models.CharField(max_length=255, null=True)  # noqa: DJ001 - nullable in auth.users
    email = models.CharField(max_length=255, null=True)  # noqa: DJ001 - nullable in auth.users
    email_confirmed_at = models.DateTimeField(null=True)
    last_sign_in_at = models.DateTimeField(null=True)
    raw_app_meta_data = models.JSONField(null=True)
    raw_user_meta_data = models.JSONField(null=True)
    created_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)
    deleted_at = models.DateTimeField(null=True)
    is_sso_user = models.BooleanField(default=False)
    is_anonymous = models.BooleanField(default=False)

    class Meta:
        managed = False
        db_table = 'auth"."users'
        verbose_name = "auth user"

    def __str__(self) -> str:
        return self.email or str(self.id)


class ProfileQuerySet(models.QuerySet["Profile"]):
    def synthetic(self) -> ProfileQuerySet:
        return self.filter(is_test_patient=True)

    def real(self) -> ProfileQuerySet:
        # NULL counts as real: the column is nullable, as the app's own migration made it.
        return self.exclude(is_test_patient=True)


class Profile(models.Model):
    """A patient or therapist: ``public.profiles``, one row per ``auth.users`` row (same id).

    Only the columns every supported shape has are fields here (``docs/target-schema.md``):
    the therapist link (a junction table or a ``therapist_id`` column, or none), ``source`` and
    the soft-delete columns exist in some projects only, and are read through
    ``synthadmin.selectors`` with what ``synthadmin.target`` found in the catalog.
    """

    class Role(models.TextChoices):
        PATIENT = "patient", "Patient"
        THERAPIST = "therapist", "Therapist"
        ADMIN = "admin", "Admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    email = models.TextField(null=True, blank=True)  # noqa: DJ001 - nullable in the live shape
    username = models.TextField(null=True, blank=True)  # noqa: DJ001 - nullable in Supabase
    role = models.TextField(choices=Role.choices)
    is_test_patient = models.BooleanField(
        null=True, default=False, db_default=False, db_comment=TEST_PATIENT_COMMENT
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    objects = ProfileQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = 'public"."profiles'
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email or str(self.id)
