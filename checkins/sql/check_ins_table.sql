-- public.check_ins as the app's Supabase project defines it. Run only when the table does not
-- exist yet. At most one check-in per patient per day; deleting the profile removes them.

CREATE TABLE public.check_ins (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid        NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    checkin_date           date        NOT NULL,
    sleep_data             jsonb       DEFAULT '{}'::jsonb,
    mood_data              jsonb       DEFAULT '{}'::jsonb,
    symptoms_data          jsonb       DEFAULT '{}'::jsonb,
    risk_routine_data      jsonb       DEFAULT '{}'::jsonb,
    appetite_impulse_data  jsonb       DEFAULT '{}'::jsonb,
    meds_context_data      jsonb       DEFAULT '{}'::jsonb,
    created_at             timestamptz DEFAULT now(),
    updated_at             timestamptz DEFAULT now(),
    CONSTRAINT unique_checkin_per_user_per_day UNIQUE (user_id, checkin_date)
);

CREATE INDEX idx_check_ins_user_id ON public.check_ins (user_id);
CREATE INDEX idx_check_ins_checkin_date ON public.check_ins (checkin_date);
CREATE INDEX idx_check_ins_user_date ON public.check_ins (user_id, checkin_date DESC);

CREATE TRIGGER update_check_ins_updated_at
    BEFORE UPDATE ON public.check_ins
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.check_ins ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own check-ins" ON public.check_ins
    FOR SELECT USING (auth.uid() = user_id);
CREATE POLICY "Users can insert own check-ins" ON public.check_ins
    FOR INSERT WITH CHECK (auth.uid() = user_id);
CREATE POLICY "Users can update own check-ins" ON public.check_ins
    FOR UPDATE USING (auth.uid() = user_id);
CREATE POLICY "Users can delete own check-ins" ON public.check_ins
    FOR DELETE USING (auth.uid() = user_id);
-- A therapist reads their patients' check-ins through whichever link the project has: the
-- therapist_patients junction (live shape) or profiles.therapist_id (early shape).
DO $$
BEGIN
    IF to_regclass('public.therapist_patients') IS NOT NULL THEN
        CREATE POLICY "Therapists can view their patients' check-ins" ON public.check_ins
            FOR SELECT USING (
                EXISTS (
                    SELECT 1 FROM public.therapist_patients tp
                    WHERE tp.patient_id = check_ins.user_id AND tp.therapist_id = auth.uid()
                )
            );
    ELSIF EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'profiles' AND column_name = 'therapist_id'
    ) THEN
        CREATE POLICY "Therapists can view their patients' check-ins" ON public.check_ins
            FOR SELECT USING (
                EXISTS (
                    SELECT 1 FROM public.profiles p
                    WHERE p.id = check_ins.user_id AND p.therapist_id = auth.uid()
                )
            );
    END IF;
END;
$$;
