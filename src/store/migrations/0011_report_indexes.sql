-- Reports (issue 19): tickets done since a period began, and ladder steps by time, are read by range.
CREATE INDEX issues_resolved_at ON issues(resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX issues_closed_at ON issues(closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX ladder_steps_time ON ladder_steps(at_ms);
