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
    /// The data dir's lock, held until the app is dropped (see [`lock_data_dir`]).
    _lock: std::fs::File,
}

/// Takes an exclusive advisory lock on `DATA_DIR/tapak.lock` for the life of the returned file, so a second server
/// on the same data dir refuses to start instead of serving beside the first. The kernel drops the lock when the
/// process ends, however it ends (a kill -9 leaves no stale lock).
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let path = dir.join("tapak.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock only takes an advisory lock on a file descriptor this function owns.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                anyhow::bail!(
                    "another tapak server is already running on the data directory {} (it holds {}); stop it first, \
                     or give this one another --data directory",
                    dir.display(),
                    path.display()
                );
            }
            return Err(err).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

impl App {
    /// Opens everything and binds the listener (so `--listen 127.0.0.1:0` reports the real port).
    pub async fn build(cfg: Config) -> anyhow::Result<App> {
        App::build_with_clock(cfg, Arc::new(SystemClock)).await
    }

    /// As [`App::build`] with the given clock (tests run the whole appliance on a fake one).
    pub async fn build_with_clock(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let listen = cfg.server.listen.clone();
        let lock = lock_data_dir(&cfg.data_dir)?;
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
            _lock: lock,
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
        tasks.spawn(crate::transcribe::run(
            self.pipeline.clone(),
            stop.child_token(),
        ));
        let sender = crate::outbox::sender::Sender::new(
            core.db.clone(),
            core.whatsapp.clone(),
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
        tasks.spawn(crate::audit::anchor::run(
            core.db.clone(),
            crate::audit::anchor::Settings::from_config(&core.cfg, core.tz),
            core.clock.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> Config {
        let mut cfg = Config {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        };
        cfg.server.listen = "127.0.0.1:0".into();
        cfg
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_server_on_the_same_data_dir_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = App::build(config(dir.path())).await.unwrap();
        let e = match App::build(config(dir.path())).await {
            Ok(_) => panic!("a second server started on the same data dir"),
            Err(e) => format!("{e:#}"),
        };
        assert!(e.contains("another tapak server is already running"), "{e}");
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        // Another data dir is fine, and the lock goes with the first server.
        let other = tempfile::tempdir().unwrap();
        drop(App::build(config(other.path())).await.unwrap());
        let db = first.pipeline().core().db.clone();
        drop(first);
        db.close();
        let again = App::build(config(dir.path())).await.unwrap();
        drop(again);
    }
}
