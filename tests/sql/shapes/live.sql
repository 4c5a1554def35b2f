-- The LIVE shape as the app's own migrations leave it (front end "existing database" + API
-- migrations 001-011): therapist_patients junction, a signup trigger on auth.users, source,
-- soft delete, dependents with ON DELETE CASCADE — and is_test_patient ALREADY PRESENT, with
-- the app's own comment (API migration 004). This trigger's body differs from synthadmin's
-- baseline on purpose: it also fills username and marks the row source = 'signup'.
-- public.check_ins comes from checkins/sql/check_ins_table.sql after this file.
CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TABLE public.profiles (
    id                     uuid        PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    role                   text        NOT NULL DEFAULT 'patient' CHECK (role IN ('patient', 'therapist', 'admin')),
    username               text,
    email                  text,
    created_at             timestamptz DEFAULT now(),
    updated_at             timestamptz DEFAULT now(),
    deletion_scheduled_at  timestamptz,
    deleted_at             timestamptz,
    deletion_token         uuid        DEFAULT gen_random_uuid(),
    is_test_patient        boolean     DEFAULT false,
    source                 text        DEFAULT 'unknown'
);
CREATE INDEX idx_profiles_is_test_patient ON public.profiles (is_test_patient);
COMMENT ON COLUMN public.profiles.is_test_patient IS 'App: true for test users (API migration 004)';
CREATE INDEX idx_profiles_source ON public.profiles (source);
CREATE TRIGGER update_profiles_updated_at BEFORE UPDATE ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
BEGIN
    INSERT INTO public.profiles (id, email, role, username, source)
    VALUES (
        NEW.id, NEW.email, COALESCE(NEW.raw_user_meta_data ->> 'role', 'patient'),
        NEW.raw_user_meta_data ->> 'username', 'signup'
    );
    RETURN NEW;
END;
$$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

CREATE TABLE public.therapist_patients (
    therapist_id  uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    patient_id    uuid        NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE CASCADE,
    assigned_at   timestamptz DEFAULT now(),
    PRIMARY KEY (therapist_id, patient_id)
);
CREATE TABLE public.clinical_notes (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    therapist_id  uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    patient_id    uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    note          text        NOT NULL,
    created_at    timestamptz DEFAULT now()
);
CREATE TABLE public.crisis_plan (
    id       uuid  PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id  uuid  NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE CASCADE,
    plan     jsonb NOT NULL DEFAULT '{}'::jsonb
);
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
CREATE POLICY "Users can view own profile" ON public.profiles FOR SELECT USING (auth.uid() = id);
CREATE POLICY "Therapists can view their patients" ON public.profiles
    FOR SELECT USING (EXISTS (
        SELECT 1 FROM public.therapist_patients tp WHERE tp.patient_id = profiles.id AND tp.therapist_id = auth.uid()
    ));
CREATE POLICY "Therapists see their patient links" ON public.therapist_patients
    FOR SELECT USING (therapist_id = auth.uid());
CREATE POLICY "Therapists manage their notes" ON public.clinical_notes FOR ALL USING (therapist_id = auth.uid());
