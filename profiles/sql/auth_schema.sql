-- The subset of Supabase Auth's `auth` schema that synthadmin's local mode needs:
-- auth.users and auth.identities in their current GoTrue shape, and the auth.uid() /
-- auth.role() / auth.jwt() helpers that the app's row level security policies call.
-- Run ONLY in a database synthadmin owns (embedded PostgreSQL, CI); the migration skips this
-- file whenever auth.users already exists, as it does on every Supabase project.

CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    instance_id                 uuid,
    id                          uuid         NOT NULL,
    aud                         varchar(255),
    role                        varchar(255),
    email                       varchar(255),
    encrypted_password          varchar(255),
    email_confirmed_at          timestamptz,
    invited_at                  timestamptz,
    -- GoTrue scans these four into Go strings: they have no default and must never be NULL.
    confirmation_token          varchar(255),
    confirmation_sent_at        timestamptz,
    recovery_token              varchar(255),
    recovery_sent_at            timestamptz,
    email_change_token_new      varchar(255),
    email_change                varchar(255),
    email_change_sent_at        timestamptz,
    last_sign_in_at             timestamptz,
    raw_app_meta_data           jsonb,
    raw_user_meta_data          jsonb,
    is_super_admin              boolean,
    created_at                  timestamptz,
    updated_at                  timestamptz,
    phone                       text         DEFAULT NULL,
    phone_confirmed_at          timestamptz,
    phone_change                text         DEFAULT '',
    phone_change_token          varchar(255) DEFAULT '',
    phone_change_sent_at        timestamptz,
    confirmed_at                timestamptz
        GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current  varchar(255) DEFAULT '',
    email_change_confirm_status smallint     DEFAULT 0,
    banned_until                timestamptz,
    reauthentication_token      varchar(255) DEFAULT '',
    reauthentication_sent_at    timestamptz,
    is_sso_user                 boolean      NOT NULL DEFAULT false,
    deleted_at                  timestamptz,
    is_anonymous                boolean      NOT NULL DEFAULT false,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_email_change_confirm_status_check
        CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2)
);

COMMENT ON COLUMN auth.users.is_sso_user
    IS 'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';

-- Email uniqueness is case-sensitive in the index; GoTrue lower-cases emails before writing.
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE is_sso_user = false;
-- '' and numeric one-time codes are exempt, which is why '' is safe in every token column.
CREATE UNIQUE INDEX confirmation_token_idx ON auth.users (confirmation_token)
    WHERE confirmation_token !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX recovery_token_idx ON auth.users (recovery_token)
    WHERE recovery_token !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX email_change_token_current_idx ON auth.users (email_change_token_current)
    WHERE email_change_token_current !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX email_change_token_new_idx ON auth.users (email_change_token_new)
    WHERE email_change_token_new !~ '^[0-9 ]*$';
CREATE UNIQUE INDEX reauthentication_token_idx ON auth.users (reauthentication_token)
    WHERE reauthentication_token !~ '^[0-9 ]*$';
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, lower(email));
CREATE INDEX users_is_anonymous_idx ON auth.users (is_anonymous);

CREATE TABLE auth.identities (
    provider_id      text        NOT NULL,
    user_id          uuid        NOT NULL,
    identity_data    jsonb       NOT NULL,
    provider         text        NOT NULL,
    last_sign_in_at  timestamptz,
    created_at       timestamptz,
    updated_at       timestamptz,
    email            text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    CONSTRAINT identities_pkey PRIMARY KEY (id),
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider),
    CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);

CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX identities_email_idx ON auth.identities (email text_pattern_ops);

-- The request's JWT claims, as PostgREST sets them per request. A direct connection sets
-- nothing, so these return NULL there.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
