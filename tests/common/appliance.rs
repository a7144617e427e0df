//! The whole appliance in the test's process (`App::build_with_clock` + `run`): real HTTP on 127.0.0.1:0, a real
//! SQLite file in a data dir the test owns (so a test can stop it and start it again on the same data), the real
//! pipeline, and a fake clock the test moves. The scheduler's `tick(now)` is called directly at the times under test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tapak::app::App;
use tapak::core::FakeClock;
use tapak::pipeline::Pipeline;

use super::*;

pub struct Appliance {
    pub url: String,
    pub svc: Arc<Pipeline>,
    pub clock: Arc<FakeClock>,
    /// The data directory (`DIR/data`) and the config file (`DIR/config.toml`).
    pub data: PathBuf,
    pub config: PathBuf,
    /// A manager's API token, made at start.
    pub manager: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Appliance {
    pub async fn start(dir: &Path, graph: &str, now: DateTime<Utc>) -> Appliance {
        Appliance::start_with(dir, graph, now, "").await
    }

    /// With `extra` appended to the config file right after `[scheduler] tick_seconds` (so lines without a section
    /// header are `[scheduler]` keys; later sections start with their header). The scheduler's own loop ticks once a
    /// day of real time: tests call [`Appliance::tick_at`].
    pub async fn start_with(dir: &Path, graph: &str, now: DateTime<Utc>, extra: &str) -> Appliance {
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\npublic_url = \"http://tapak.lan:8080\"\n[posters]\nbusiness_number = \"+60 3-8000 1234\"\n{}\n[scheduler]\ntick_seconds = 86400\n{extra}\n",
                default_config(graph)
            ),
        )
        .unwrap();
        let data = dir.join("data");
        let cfg = tapak::config::Config::load_from(
            &tapak::config::Overrides {
                config_file: Some(config.clone()),
                data_dir: Some(data.clone()),
                listen: Some("127.0.0.1:0".into()),
            },
            &[],
        )
        .unwrap();
        let clock = FakeClock::new(now);
        let app = App::build_with_clock(cfg, clock.clone()).await.unwrap();
        let url = app.base_url();
        let svc = app.pipeline();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            app.run(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let mut a = Appliance {
            url,
            svc,
            clock,
            data,
            config,
            manager: String::new(),
            stop: Some(tx),
            done: Some(done),
        };
        a.manager = a.token_named("harness", "manager").await;
        a
    }

    /// Stops serving and waits for the workers and the writer to finish.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            d.await.unwrap();
        }
    }

    pub fn u(&self, p: &str) -> String {
        format!("{}{p}", self.url)
    }

    /// A new API token with `role`.
    pub async fn token(&self, role: &str) -> String {
        self.token_named(role, role).await
    }

    async fn token_named(&self, name: &str, role: &str) -> String {
        let token = tapak::auth::new_token();
        let (h, n, r) = (
            tapak::auth::secret_hash(&token),
            format!("t-{name}"),
            role.to_string(),
        );
        self.svc
            .db
            .write(move |tx| tapak::store::users::create_token(tx, &n, &r, &h))
            .await
            .unwrap();
        token
    }

    /// Moves the clock and runs one scheduler tick at the new time.
    pub async fn tick_at(&self, now: DateTime<Utc>) -> tapak::scheduler::TickStats {
        self.clock.set(now);
        let set = tapak::scheduler::Settings::from_config(&self.svc.cfg, self.svc.tz);
        tapak::scheduler::tick(&self.svc.db, &set, now)
            .await
            .unwrap()
    }

    /// Posts a signed Cloud API webhook body.
    pub async fn post_cloud(&self, c: &reqwest::Client, body: &[u8]) {
        let r = c
            .post(self.u("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(APP_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// GET as the manager; asserts 200.
    pub async fn get(&self, path: &str) -> Value {
        let (st, v) = get_json(&client(), &self.u(path), &self.manager).await;
        assert_eq!(st, 200, "GET {path}: {v}");
        v
    }

    /// A request with a JSON body as the manager; asserts 2xx.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (st, v) = send_json(&client(), method, &self.u(path), &self.manager, &body).await;
        assert!((200..300).contains(&st), "{path}: {st} {v}");
        v
    }

    /// A group message in `group`, sent at `at` (the clock is moved there first).
    pub async fn say(
        &self,
        group: &str,
        id: &str,
        from: (&str, &str),
        at: DateTime<Utc>,
        text: &str,
        image: Option<&str>,
    ) {
        self.clock.set(at);
        let body = String::from_utf8(cloud_group_msg(
            id,
            from.0,
            from.1,
            at.timestamp(),
            Some(text),
            image,
            None,
        ))
        .unwrap()
        .replace("Y2FwaV9ncm91cDpURVNUWkQ", group);
        let r = client()
            .post(self.u("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(APP_SECRET, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// Waits until `n` tickets exist and answers the newest.
    pub async fn ticket(&self, n: usize) -> Value {
        let (u, t) = (self.u("/api/v1/issues?limit=500"), self.manager.clone());
        eventually(30, "the ticket", || {
            let (u, t) = (u.clone(), t.clone());
            async move {
                let (_, v) = get_json(&client(), &u, &t).await;
                let items = v["items"].as_array().cloned().unwrap_or_default();
                (items.len() == n).then(|| items[0].clone())
            }
        })
        .await
    }

    /// Moves the clock to `at` and sets a ticket's status there.
    pub async fn status(&self, id: i64, at: DateTime<Utc>, status: &str) {
        self.clock.set(at);
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/issues/{id}/status"),
            json!({"status": status}),
        )
        .await;
    }
}
