-- public.profiles and the tables that hang off it, in the LIVE shape of the app's Supabase
-- project (the front end's "existing database" migration plus the API's migrations 001-011),
-- without the is_test_patient flag, which profiles/migrations/0002 adds. Run only when
-- public.profiles does not exist yet (an empty database: embedded PostgreSQL, CI); a real
-- project already has all of this. docs/target-schema.md describes the shapes synthadmin meets.

CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TABLE public.profiles (
    id                     uuid        PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    role                   text        NOT NULL DEFAULT 'patient'
                                       CHECK (role IN ('patient', 'therapist', 'admin')),
    username               text,
    email                  text,
    created_at             timestamptz DEFAULT now(),
    updated_at             timestamptz DEFAULT now(),
    -- Soft delete (API migration 001): NULL = active; the app hides rows with deleted_at set.
    deletion_scheduled_at  timestamptz,
    deleted_at             timestamptz,
    deletion_token         uuid        DEFAULT gen_random_uuid(),
    -- Where the account came from (API migration 007): signup, admin_manual, synthetic, unknown.
    source                 text        DEFAULT 'unknown'
);

CREATE INDEX idx_profiles_role ON public.profiles (role);
CREATE INDEX idx_profiles_source ON public.profiles (source);
CREATE INDEX idx_profiles_deleted_at ON public.profiles (deleted_at);

CREATE TRIGGER update_profiles_updated_at
    BEFORE UPDATE ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- The signup trigger: Supabase Auth inserts the user, the trigger creates its profile, with
-- the role the client put in user_metadata (raw_user_meta_data), 'patient' by default.
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public
AS $$
BEGIN
    INSERT INTO public.profiles (id, email, role)
    VALUES (NEW.id, NEW.email, COALESCE(NEW.raw_user_meta_data ->> 'role', 'patient'));
    RETURN NEW;
END;
$$;

CREATE TRIGGER on_auth_user_created
    AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- A patient's therapist: at most one per patient.
CREATE TABLE public.therapist_patients (
    therapist_id  uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    patient_id    uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    assigned_at   timestamptz DEFAULT now(),
    PRIMARY KEY (therapist_id, patient_id),
    CONSTRAINT therapist_patients_patient_id_key UNIQUE (patient_id)
);

CREATE INDEX idx_therapist_patients_therapist_id ON public.therapist_patients (therapist_id);

CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = public
AS $$
    SELECT EXISTS (SELECT 1 FROM public.profiles WHERE id = auth.uid() AND role = 'admin')
$$;

CREATE TABLE public.clinical_notes (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    therapist_id  uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    patient_id    uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    note          text        NOT NULL,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE public.crisis_plan (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE CASCADE,
    plan        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now()
);

CREATE TABLE public.user_consent (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    consent_type  text        NOT NULL,
    granted       boolean     NOT NULL DEFAULT false,
    created_at    timestamptz DEFAULT now()
);

CREATE TABLE public.predictions (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz DEFAULT now()
);

-- No foreign key: log rows outlive the users they mention.
CREATE TABLE public.audit_log (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid,
    action        text        NOT NULL,
    details       jsonb,
    performed_by  uuid,
    created_at    timestamptz DEFAULT now()
);

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.therapist_patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.clinical_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.crisis_plan ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_consent ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.predictions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own profile" ON public.profiles
    FOR SELECT USING (auth.uid() = id);
CREATE POLICY "Users can update own profile" ON public.profiles
    FOR UPDATE USING (auth.uid() = id);
CREATE POLICY "Therapists can view their patients" ON public.profiles
    FOR SELECT USING (
        EXISTS (
            SELECT 1 FROM public.therapist_patients tp
            WHERE tp.patient_id = profiles.id AND tp.therapist_id = auth.uid()
        )
    );
CREATE POLICY "Admins can view all profiles" ON public.profiles
    FOR SELECT USING (public.is_admin());

CREATE POLICY "Therapists see their patient links" ON public.therapist_patients
    FOR SELECT USING (therapist_id = auth.uid());
CREATE POLICY "Patients see their therapist link" ON public.therapist_patients
    FOR SELECT USING (patient_id = auth.uid());

CREATE POLICY "Therapists manage their notes" ON public.clinical_notes
    FOR ALL USING (therapist_id = auth.uid());
CREATE POLICY "Users manage their crisis plan" ON public.crisis_plan
    FOR ALL USING (user_id = auth.uid());
CREATE POLICY "Users manage their consent" ON public.user_consent
    FOR ALL USING (user_id = auth.uid());
CREATE POLICY "Users see their predictions" ON public.predictions
    FOR SELECT USING (user_id = auth.uid());
CREATE POLICY "Admins read the audit log" ON public.audit_log
    FOR SELECT USING (public.is_admin());
