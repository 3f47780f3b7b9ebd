//! `tacnode run`: the daemon. It locks the data dir, starts the node and
//! serves the control socket until SIGINT or SIGTERM.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::{Config, LogFormat};
use crate::node::{Node, NodeSettings};

/// The configuration: `--config`, else `<data-dir>/tacnode.toml` when it
/// exists, else the defaults.
pub(crate) fn load_config(explicit: Option<&Path>, data_dir: &Path) -> Result<Config> {
    match explicit {
        Some(p) => Config::load(p),
        None => {
            let p = data_dir.join("tacnode.toml");
            if p.exists() {
                Config::load(&p)
            } else {
                Ok(Config::default())
            }
        }
    }
}

/// Logging to stderr: `RUST_LOG` when set, else `log.level` (validated when
/// the config was loaded); colours only on a terminal.
fn init_logging(config: &Config) -> Result<()> {
    use std::io::IsTerminal as _;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => tracing_subscriber::EnvFilter::try_new(&f)
            .with_context(|| format!("RUST_LOG={f:?} is not a valid log filter"))?,
        _ => tracing_subscriber::EnvFilter::try_new(&config.log.level).with_context(|| {
            format!("log.level {:?} is not a valid log filter", config.log.level)
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}

/// Takes `<data-dir>/daemon.lock` (an exclusive advisory lock holding our
/// pid) for as long as the returned file lives, before anything else
/// touches the data dir or the network: a second daemon on the same data
/// dir stops here, saying which process holds it.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("daemon.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            bail!(
                "another tacnode daemon is running on {} (pid {}); stop it first",
                data_dir.display(),
                pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The daemon: node, control socket, until SIGINT or SIGTERM.
pub(crate) async fn run(
    data_dir: PathBuf,
    config: Config,
    secrets: tacnode_crypto::keystore::KeystoreSecrets,
    new_database: bool,
) -> Result<()> {
    init_logging(&config)?;
    let _lock = lock_data_dir(&data_dir)?;
    // The database belongs with the keystore: once a data dir has had one,
    // a missing file is an accident (or a deletion), never a fresh start,
    // unless the operator says so.
    let db = data_dir.join("tacnode.db");
    let marker = data_dir.join("tacnode.db.created");
    if !db.exists() && marker.exists() && !new_database {
        bail!(
            "the database {} is missing, but this data dir had one (contacts, sessions, \
             history): restore it from a backup, or start with an empty one with \
             `tacnode run --new-database`",
            db.display()
        );
    }
    let node = Node::start(NodeSettings {
        data_dir: data_dir.clone(),
        config,
        secrets,
    })
    .await?;
    if !marker.exists() {
        std::fs::write(&marker, b"")
            .with_context(|| format!("cannot create {}", marker.display()))?;
    }
    let handle = node.handle();
    tracing::info!(address = %handle.address(), listen = %handle.local_addr(), "tacnode running");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let control = {
        let data_dir = data_dir.clone();
        let handle = handle.clone();
        tokio::spawn(async move { crate::control_server::serve(&data_dir, handle, stop_rx).await })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        r = control => {
            // The control socket could not start (e.g. another daemon runs).
            node.shutdown().await;
            return r.map_err(anyhow::Error::from)?;
        }
    }
    let _ = stop_tx.send(true);
    node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
