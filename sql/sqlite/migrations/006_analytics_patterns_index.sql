-- Failure patterns (issue 5): one covering index for the pattern grouping and the category counts over a window
-- (fingerprint, category, severity and prompt per error, in time order). It supersedes idx_ael_window, which
-- lacked severity. Exception type, node class and template are not in it: they are part of the fingerprint, so
-- they are read from one row per reported pattern.
CREATE INDEX IF NOT EXISTS idx_ael_patterns ON anime_error_logs(timestamp, fingerprint, category, severity, prompt_id);
DROP INDEX IF EXISTS idx_ael_window;
