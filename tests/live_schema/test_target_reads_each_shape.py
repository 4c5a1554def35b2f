"""``synthadmin.target`` reads each shape from the catalog: link, trigger, columns, roles, keys."""

from __future__ import annotations

from synthadmin.target import AUTH_USERS, PROFILES, TableName, target_read

EXPECTED = {
    # shape: (link, signup triggers, source, soft delete, email nullable, roles)
    "live": ("junction", ("on_auth_user_created",), True, True, True, {"patient", "therapist", "admin"}),
    "early": ("column", (), False, False, False, {"patient", "therapist"}),
    "bare": ("none", (), False, False, False, None),
}


def test_the_target_matches_the_shape(shape):
    target = target_read()
    link, triggers, source, soft_delete, email_nullable, roles = EXPECTED[shape]
    assert target.therapist_link.kind == link
    assert target.signup_triggers == triggers
    assert (target.has_source, target.has_soft_delete, target.email_nullable) == (
        source,
        soft_delete,
        email_nullable,
    )
    assert target.role_values == (frozenset(roles) if roles is not None else None)
    assert target.has_flag and target.has_profiles and target.has_check_ins
    assert target.unfillable_profile_columns() == []


def test_every_foreign_key_to_users_is_read_with_its_rule(shape):
    target = target_read()
    rules = {(str(fk.table), fk.columns, str(fk.ref_table)): fk.on_delete for fk in target.foreign_keys}
    assert rules[("public.profiles", ("id",), "auth.users")] == "CASCADE"
    assert rules[("public.check_ins", ("user_id",), "public.profiles")] == "CASCADE"
    assert rules[("auth.identities", ("user_id",), "auth.users")] == "CASCADE"
    if shape == "live":
        assert target.therapist_link.junction == TableName("public", "therapist_patients")
        assert rules[("public.clinical_notes", ("patient_id",), "public.profiles")] == "CASCADE"
        assert rules[("public.crisis_plan", ("user_id",), "public.profiles")] == "CASCADE"
        # A clinical note names a therapist and a patient too, but is not a link: many rows per pair.
        assert target.user_reference_columns(TableName("public", "clinical_notes")) == [
            "patient_id",
            "therapist_id",
        ]
    if shape == "early":
        assert rules[("public.profiles", ("therapist_id",), "public.profiles")] == "SET NULL"
    assert {fk.ref_table for fk in target.foreign_keys} >= {AUTH_USERS, PROFILES}
