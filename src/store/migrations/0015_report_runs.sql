-- Scheduled report files (issue 19, [reports]): a row per period of each kind once its files are written, so a
-- restart neither skips nor repeats a run.
CREATE TABLE report_runs (
    kind TEXT NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly')),
    first_day TEXT NOT NULL,           -- the period's first local day, YYYY-MM-DD
    label TEXT NOT NULL,               -- 2026-12-07, 2026-W50, 2026-12
    due_ms INTEGER NOT NULL,           -- when the run was due
    done_ms INTEGER NOT NULL,          -- when its files were written
    files TEXT NOT NULL DEFAULT '[]',  -- JSON array of the file names written
    PRIMARY KEY (kind, first_day)
) WITHOUT ROWID;
