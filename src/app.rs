//! Building and running the appliance: open the data dir, start the workers, serve HTTP, shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::evidence::EvidenceStore;
use crate::store::Db;
use crate::web::{self, auth::LoginLimiter, metrics::Metrics};

/// A source of "now" (real in production, fixed in tests).
pub trait Clock: Send + Sync {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// Wakes background workers when there is new durable work.
#[derive(Default)]
pub struct Wake {
    pub process: Notify,
    pub fetch: Notify,
    /// Gateway lookups (WAHA `@lid` → phone).
    pub lookup: Notify,
    /// Deliveries queued in the inbox, to be filed.
    pub inbox: Notify,
}

/// Everything the web layer and the workers share.
pub struct Services {
    pub cfg: Arc<Config>,
    pub db: Db,
    pub tz: chrono_tz::Tz,
    pub evidence: EvidenceStore,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    pub wake: Wake,
    pub login_limiter: LoginLimiter,
    pub secure_cookies: bool,
    pub image_slots: tokio::sync::Semaphore,
    pub clock: Arc<dyn Clock>,
    pub started: Instant,
    pub pipeline: crate::pipeline::Pipeline,
}

impl Services {
    /// Opens the data dir and database (migrating it); starts the database writer; spawns nothing else.
    pub fn open(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
        let db = Db::open(&cfg.db_path())
            .with_context(|| format!("cannot open {}", cfg.db_path().display()))?;
        let evidence = EvidenceStore::open(&cfg.data_dir)?;
        let tz = cfg.timezone()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tapak/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .context("cannot build the HTTP client")?;
        let secure_cookies =
            !cfg.server.tls_cert.is_empty() || cfg.server.public_url.starts_with("https://");
        let pipeline = crate::pipeline::Pipeline::new();
        match crate::pipeline::learn_from_corrections(&db, &pipeline) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                corrections = n,
                "classifier adapted to managers' corrections"
            ),
            Err(e) => tracing::warn!(error = %e, "could not load classification corrections"),
        }
        Ok(Services {
            login_limiter: LoginLimiter::new(cfg.server.login_attempts),
            image_slots: tokio::sync::Semaphore::new(cfg.evidence.concurrency.max(1)),
            cfg: Arc::new(cfg),
            db,
            tz,
            evidence,
            http,
            metrics: Metrics::default(),
            wake: Wake::default(),
            secure_cookies,
            clock,
            started: Instant::now(),
            pipeline,
        })
    }
}

pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    svc: Arc<Services>,
}

impl App {
    /// Opens everything and binds the listener (so `--listen 127.0.0.1:0` reports the real port).
    pub async fn build(cfg: Config) -> anyhow::Result<App> {
        let listen = cfg.server.listen.clone();
        let svc = Arc::new(Services::open(cfg, Arc::new(SystemClock))?);
        let listener = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        Ok(App {
            listener,
            addr,
            svc,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn services(&self) -> Arc<Services> {
        self.svc.clone()
    }

    /// The URL to print: a wildcard bind address is shown as 127.0.0.1.
    pub fn base_url(&self) -> String {
        let scheme = if self.svc.cfg.server.tls_cert.is_empty() {
            "http"
        } else {
            "https"
        };
        let ip = if self.addr.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            self.addr.ip()
        };
        format!("{scheme}://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Serves until `shutdown` resolves, then stops the workers and drains the writer.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(crate::pipeline::run(self.svc.clone(), stop.child_token()));
        tasks.spawn(crate::pipeline::inbox::run(
            self.svc.clone(),
            stop.child_token(),
        ));
        tasks.spawn(crate::evidence::fetch::run(
            self.svc.clone(),
            stop.child_token(),
        ));
        tasks.spawn(crate::gateway::run(self.svc.clone(), stop.child_token()));
        let router =
            web::router(self.svc.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let cfg = self.svc.cfg.clone();
        if !cfg.server.tls_cert.is_empty() {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(
                &cfg.server.tls_cert,
                &cfg.server.tls_key,
            )
            .await
            .with_context(|| {
                format!(
                    "cannot load TLS certificate {} / key {}",
                    cfg.server.tls_cert, cfg.server.tls_key
                )
            })?;
            let handle = axum_server::Handle::new();
            let h2 = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h2.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            let std_listener = self.listener.into_std()?;
            axum_server::from_tcp_rustls(std_listener, tls)
                .handle(handle)
                .serve(router)
                .await?;
        } else {
            axum::serve(self.listener, router)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        tracing::info!("HTTP stopped; stopping workers");
        stop.cancel();
        tasks.close();
        tasks.wait().await;
        let db = self.svc.db.clone();
        tokio::task::spawn_blocking(move || db.close()).await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Registers the SIGTERM / Ctrl-C handlers now (so a signal arriving right after start-up is not fatal) and returns
/// a future that resolves when one arrives.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let t = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let i = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = t => {},
                _ = i => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested");
    }
}
