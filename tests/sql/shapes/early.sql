-- The EARLY shape (the front end's first migration): profiles.therapist_id links a patient to
-- a therapist, email NOT NULL, no signup trigger, no source, no soft delete, no flag.
-- public.check_ins comes from checkins/sql/check_ins_table.sql after this file.
CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TABLE public.profiles (
    id            uuid        PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email         text        NOT NULL,
    username      text,
    role          text        NOT NULL CHECK (role IN ('patient', 'therapist')),
    therapist_id  uuid        REFERENCES public.profiles (id) ON DELETE SET NULL,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);
CREATE INDEX idx_profiles_therapist_id ON public.profiles (therapist_id);
CREATE TRIGGER update_profiles_updated_at BEFORE UPDATE ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users can view own profile" ON public.profiles FOR SELECT USING (auth.uid() = id);
CREATE POLICY "Therapists can view their patients" ON public.profiles
    FOR SELECT USING (therapist_id = auth.uid());
