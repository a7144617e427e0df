//! Voice notes become text (issue 17). When `[transcribe] command` is set, every stored voice note is queued on the
//! persistent `transcribe` job queue (so a restart loses nothing); the worker runs the command on the file, one at a
//! time and never inside the database writer, so ingest goes on while it runs. What the command prints on standard
//! output is the transcript: it is stored beside the evidence (`transcripts`), made searchable, and the message is
//! classified with it and its chat replayed, exactly as a text message at that place in the chat would have been (the
//! records stay a pure function of the messages, their transcripts and the corrections). A run that fails (non-zero
//! exit, cannot start) or outlives `timeout_seconds` (it is killed with its process group) is recorded and retried
//! with backoff up to `max_attempts`, then the transcript is marked `failed` and the voice note stays evidence.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::pipeline::Pipeline;
use crate::store::{self, jobs, transcripts};

/// The longest transcript kept (characters); a command that prints more is cut there.
const MAX_CHARS: usize = 16_000;

/// Runs until `stop` is cancelled; does nothing when no command is configured.
pub async fn run(p: Arc<Pipeline>, stop: CancellationToken) {
    match p.cfg.transcribe.argv() {
        Ok(Some(_)) => {}
        _ => return,
    }
    loop {
        let worked = tokio::select! {
            _ = stop.cancelled() => return,
            n = tick(&p, p.clock.now()) => n,
        };
        if worked > 0 {
            continue;
        }
        let wait = jobs::wait_until_due(&p.db, transcripts::JOB).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = p.wake.transcribe.notified() => {},
            _ = tokio::time::sleep(wait) => {},
        }
    }
}

/// One pass: queues the voice notes stored since the last pass, then runs the transcriptions due at `now` (one at a
/// time: speech recognition takes every core it is given). Returns how many runs it made.
pub async fn tick(p: &Pipeline, now: DateTime<Utc>) -> usize {
    let argv = match p.cfg.transcribe.argv() {
        Ok(Some(a)) => a,
        _ => return 0,
    };
    let now_ms = now.timestamp_millis();
    let fresh =
        p.db.read(|c| transcripts::untranscribed(c, 256))
            .await
            .unwrap_or_default();
    if !fresh.is_empty() {
        let queued =
            p.db.write(move |tx| {
                for (e, m) in &fresh {
                    transcripts::queue(tx, *e, *m, now_ms)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = queued {
            tracing::warn!(error = %e, "could not queue voice notes for transcription");
        }
    }
    let due =
        p.db.read(move |c| jobs::due(c, transcripts::JOB, now_ms, 8))
            .await
            .unwrap_or_default();
    let n = due.len();
    for job in due {
        work_job(p, &argv, job, now).await;
    }
    n
}

async fn work_job(p: &Pipeline, argv: &[String], job: jobs::Job, now: DateTime<Utc>) {
    let done = |p: &Pipeline, id: i64| {
        let db = p.db.clone();
        async move {
            let _ = db.write(move |tx| jobs::complete(tx, id)).await;
        }
    };
    let eid = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("evidence").and_then(|e| e.as_i64()));
    let Some(eid) = eid else {
        return done(p, job.id).await;
    };
    let target = match p.db.read(move |c| transcripts::target(c, eid)).await {
        Ok(Some(t)) if t.status == "pending" => t,
        _ => return done(p, job.id).await,
    };
    let Some(sha) = target.sha256.clone() else {
        return done(p, job.id).await;
    };
    let file = p.evidence.path_of(&sha);
    let timeout = Duration::from_secs(p.cfg.transcribe.timeout_seconds.max(1));
    match run_command(argv, &file, timeout).await {
        Ok(text) => {
            if let Err(e) = apply(p, &target, job.id, text).await {
                tracing::warn!(evidence = eid, error = %e, "storing a transcript failed; retrying");
                let next = now
                    .timestamp_millis()
                    .saturating_add(jobs::backoff_ms(job.attempts));
                let msg = e.to_string();
                let _ =
                    p.db.write(move |tx| jobs::retry_later(tx, job.id, &msg, next))
                        .await;
            }
        }
        Err(e) => {
            let give_up = target.attempts + 1 >= i64::from(p.cfg.transcribe.max_attempts);
            tracing::warn!(evidence = eid, attempt = target.attempts + 1, error = %e, give_up, "transcription failed");
            let next = now
                .timestamp_millis()
                .saturating_add(jobs::backoff_ms(job.attempts));
            let _ =
                p.db.write(move |tx| {
                    transcripts::record_failure(tx, eid, &e, give_up)?;
                    if give_up {
                        jobs::complete(tx, job.id)?;
                        store::events::append(
                            tx,
                            "system:transcriber",
                            "evidence.transcription_failed",
                            "evidence",
                            Some(&eid.to_string()),
                            &serde_json::json!({ "error": e }),
                        )?;
                    } else {
                        jobs::retry_later(tx, job.id, &e, next)?;
                    }
                    Ok(())
                })
                .await;
        }
    }
}

/// Stores the transcript; a processed message is classified with it and its chat replayed in the same transaction
/// (one not yet processed is read with its transcript when the pipeline gets to it).
async fn apply(
    p: &Pipeline,
    t: &transcripts::Target,
    job: i64,
    text: String,
) -> Result<(), store::StoreError> {
    let class = if text.is_empty() || !t.processed {
        None
    } else {
        let c = p.classifier();
        let txt = text.clone();
        tokio::task::spawn_blocking(move || c.classify(&txt))
            .await
            .ok()
    };
    let (eid, msg, chat) = (t.evidence_id, t.message_id, t.chat_id);
    let cache = p.states();
    let (tz, now) = (p.tz, p.clock.now());
    p.db.write(move |tx| {
        transcripts::set_done(tx, eid, &text)?;
        jobs::complete(tx, job)?;
        if let Some(c) = &class {
            let json = serde_json::to_string(c)?;
            let ov = store::records::load_overrides(tx, chat)?;
            // A manager's classification of the message stays; the transcript is still stored and searchable.
            if ov
                .messages
                .get(&msg)
                .and_then(|m| m.class.as_ref())
                .is_none()
            {
                store::messages::set_classification(
                    tx,
                    msg,
                    c.kind.as_str(),
                    &json,
                    crate::classify::VERSION,
                    false,
                )?;
            }
            crate::pipeline::replay_chat_in_tx(tx, &cache, chat, tz, now)?;
        }
        store::events::append(
            tx,
            "system:transcriber",
            "evidence.transcribed",
            "evidence",
            Some(&eid.to_string()),
            &serde_json::json!({ "message": msg, "chars": text.chars().count(),
                                     "kind": class.as_ref().map(|c| c.kind.as_str()) }),
        )?;
        Ok(())
    })
    .await
}

/// Runs the command on `file` (`{file}` in any word is replaced by its path; appended when no word has it) and
/// answers its standard output, whitespace runs collapsed, at most [`MAX_CHARS`]. A non-zero exit, a command that
/// cannot start or one still running after `timeout` (then killed with its whole process group) is an error that
/// says what happened, with the end of its standard error.
pub async fn run_command(
    argv: &[String],
    file: &Path,
    timeout: Duration,
) -> Result<String, String> {
    let path = file.to_string_lossy();
    let mut words: Vec<String> = argv.iter().map(|w| w.replace("{file}", &path)).collect();
    if !argv.iter().any(|w| w.contains("{file}")) {
        words.push(path.to_string());
    }
    let Some((prog, args)) = words.split_first() else {
        return Err("transcribe.command is empty".into());
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {prog}: {e}"))?;
    let pid = child.id();
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r.map_err(|e| format!("{prog}: {e}"))?,
        Err(_) => {
            // The child is killed when its future drops; its own children (a wrapper script's converter) go too.
            #[cfg(unix)]
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            return Err(format!(
                "{prog} still running after {} s: killed",
                timeout.as_secs()
            ));
        }
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = {
            let t = err.trim();
            let skip = t.chars().count().saturating_sub(300);
            t.chars().skip(skip).collect()
        };
        return Err(format!("{prog} failed ({}): {tail}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_CHARS)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into(), "sh".into()]
    }

    #[tokio::test]
    async fn the_transcript_is_what_the_command_prints() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("v.opus");
        std::fs::write(&f, b"OggS").unwrap();
        // The path is appended when no word has {file}; lines and spaces collapse.
        let t = run_command(
            &sh("head -c 4 \"$1\"; printf '\\n  pam  rosak\\n\\n'"),
            &f,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(t, "OggS pam rosak");
        let t = run_command(
            &[
                "sh".into(),
                "-c".into(),
                "echo \"$0\"".into(),
                "x{file}x".into(),
            ],
            &f,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(t, format!("x{}x", f.display()));
    }

    #[tokio::test]
    async fn a_failing_or_hanging_command_is_an_error_that_says_why() {
        let f = Path::new("/nonexistent.opus");
        let e = run_command(
            &sh("echo model missing >&2; exit 3"),
            f,
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("exit status: 3") && e.ends_with("model missing"),
            "{e}"
        );
        let e = run_command(&["/no/such/whisper-cli".into()], f, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(e.starts_with("cannot start /no/such/whisper-cli"), "{e}");
        // A wrapper whose child hangs: the whole group is killed at the timeout.
        let started = std::time::Instant::now();
        let e = run_command(&sh("sleep 30 & wait"), f, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(e.contains("still running after 1 s: killed"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
