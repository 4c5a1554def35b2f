-- public.profiles as the app's Supabase project defines it (before the is_test_patient flag,
-- which profiles/migrations/0002 adds). Run only when the table does not exist yet.

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
CREATE INDEX idx_profiles_role ON public.profiles (role);

CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER update_profiles_updated_at
    BEFORE UPDATE ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own profile" ON public.profiles
    FOR SELECT USING (auth.uid() = id);
CREATE POLICY "Users can update own profile" ON public.profiles
    FOR UPDATE USING (auth.uid() = id);
CREATE POLICY "Users can insert own profile" ON public.profiles
    FOR INSERT WITH CHECK (auth.uid() = id);
CREATE POLICY "Therapists can view their patients" ON public.profiles
    FOR SELECT USING (therapist_id = auth.uid());
