-- Indexes for the list filters managers use most (measured with examples/bench_records.rs on a year of a 50-site
-- firm: 3M messages, 112k issues; see BENCHMARKS.md).
CREATE INDEX issues_open_time ON issues(opened_ms DESC, id DESC) WHERE status NOT IN ('resolved','closed');
CREATE INDEX evidence_status ON evidence(status);
CREATE INDEX issues_reporter_time ON issues(reported_by, opened_ms DESC, id DESC);
CREATE INDEX issues_owner_time ON issues(owner_id, opened_ms DESC, id DESC);
CREATE INDEX tasks_reporter_time ON tasks(reported_by, reported_ms DESC, id DESC);
CREATE INDEX messages_kind_time ON messages(kind, sent_ms DESC, id DESC);
