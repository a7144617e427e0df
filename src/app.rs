//! Building and running the appliance: open the data dir, start the workers, serve HTTP, shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::{Clock, Core, SystemClock};
use crate::pipeline::Pipeline;
use crate::web;

pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    pipeline: Arc<Pipeline>,
    web: web::AppState,
}

impl App {
    /// Opens everything and binds the listener (so `--listen 127.0.0.1:0` reports the real port).
    pub async fn build(cfg: Config) -> anyhow::Result<App> {
        App::build_with_clock(cfg, Arc::new(SystemClock)).await
    }

    /// As [`App::build`] with the given clock (tests run the whole appliance on a fake one).
    pub async fn build_with_clock(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let listen = cfg.server.listen.clone();
        let core = Arc::new(Core::open(cfg, clock)?);
        let pipeline = Arc::new(Pipeline::new(core));
        let web = web::AppState::new(web::WebState::new(pipeline.clone()));
        let listener = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        Ok(App {
            listener,
            addr,
            pipeline,
            web,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The records pipeline (and through it the core) the app runs on.
    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.pipeline.clone()
    }

    /// The URL to print: a wildcard bind address is shown as 127.0.0.1.
    pub fn base_url(&self) -> String {
        let scheme = if self.pipeline.cfg.server.tls_cert.is_empty() {
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
        let core = self.pipeline.core().clone();
        tasks.spawn(crate::pipeline::run(
            self.pipeline.clone(),
            stop.child_token(),
        ));
        tasks.spawn(crate::pipeline::inbox::run(
            self.pipeline.clone(),
            stop.child_token(),
        ));
        tasks.spawn(crate::evidence::fetch::run(
            core.clone(),
            stop.child_token(),
        ));
        tasks.spawn(crate::gateway::run(core.clone(), stop.child_token()));
        let sender = crate::outbox::sender::Sender::new(
            core.db.clone(),
            crate::whatsapp::client::Client::new(
                core.http.clone(),
                core.cfg.whatsapp.clone(),
                std::time::Duration::from_secs(core.cfg.outbox.timeout_seconds),
            ),
            core.cfg.reminders.clone(),
            core.cfg.outbox.clone(),
            core.tz,
        );
        tasks.spawn(crate::outbox::sender::run(
            sender,
            core.clock.clone(),
            core.wake.outbox.clone(),
            std::time::Duration::from_secs(core.cfg.outbox.poll_seconds),
            stop.child_token(),
        ));
        let clock = core.clock.clone();
        tasks.spawn(crate::scheduler::run(
            core.db.clone(),
            crate::scheduler::Settings::from_config(&core.cfg, core.tz),
            Arc::new(move || clock.now()),
            std::time::Duration::from_secs(core.cfg.scheduler.tick_seconds),
            stop.child_token(),
        ));
        let router = web::router(self.web).into_make_service_with_connect_info::<SocketAddr>();
        let cfg = core.cfg.clone();
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
        let db = core.db.clone();
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
