//! `tacnode send-file` and `tacnode files --watch`: the requests go to the
//! daemon, the progress is followed by `tacnode_control::follow_files`, and
//! this draws it (indicatif bars on standard error, hidden when it is not
//! a terminal; the outcome on standard output).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tacnode_control::{FileView, Follow, Request, Response, follow_files, text};

use crate::run::{CliError, ask};

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// The bars of the transfers followed, by id.
#[derive(Default)]
struct Bars {
    all: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Bars {
    fn update(&mut self, views: &[FileView]) {
        for v in views {
            let bar = self.bars.entry(v.id.clone()).or_insert_with(|| {
                let b = self.all.add(ProgressBar::new(v.size));
                b.set_style(bar_style());
                let arrow = if v.direction == "out" { "to" } else { "from" };
                b.set_prefix(format!("{} {arrow} {}", text::shown(&v.name), v.peer));
                b
            });
            bar.set_position(v.done);
            bar.set_message(v.state.clone());
        }
    }

    fn finish(&self) {
        for b in self.bars.values() {
            b.finish_and_clear();
        }
    }
}

/// `tacnode send-file CONTACT PATH`: offered, then followed until done.
pub(crate) async fn send_file(
    data_dir: &Path,
    json: bool,
    contact: &str,
    path: &Path,
    no_wait: bool,
) -> Result<ExitCode, CliError> {
    // The daemon's working directory is not ours: it gets the absolute
    // path, and a missing file is named here.
    let path = std::fs::canonicalize(path)
        .with_context(|| format!("{}: cannot read it", path.display()))?;
    let path = path
        .to_str()
        .ok_or_else(|| anyhow!("{}: the path is not UTF-8", path.display()))?
        .to_owned();
    let req = Request::SendFile {
        to: contact.to_owned(),
        path,
    };
    let offered = match tacnode_control::ControlClient::connect(data_dir)
        .await?
        .call(&req)
        .await?
    {
        Response::File(f) => f,
        other => return Err(anyhow!("unexpected answer {other:?}").into()),
    };
    if json {
        // The offer, then (unless --no-wait) the transfer as it ended, one
        // JSON object per line.
        println!(
            "{}",
            serde_json::to_string(&Response::File(offered.clone()))?
        );
        if no_wait {
            return Ok(ExitCode::SUCCESS);
        }
        let last = follow_files(
            data_dir,
            Follow::One(offered.id.clone()),
            |_| {},
            tokio::signal::ctrl_c(),
        )
        .await?;
        let Some(f) = last.into_iter().next() else {
            return Ok(ExitCode::SUCCESS);
        };
        println!("{}", serde_json::to_string(&Response::File(f.clone()))?);
        return Ok(if f.ended() && f.state != "done" {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    println!(
        "offering {} ({}) to {} as transfer {}",
        text::shown(&offered.name),
        text::human_bytes(offered.size),
        offered.peer,
        offered.id.get(..8).unwrap_or(&offered.id)
    );
    if no_wait {
        return Ok(ExitCode::SUCCESS);
    }
    let mut bars = Bars::default();
    let last = follow_files(
        data_dir,
        Follow::One(offered.id.clone()),
        |v| bars.update(v),
        tokio::signal::ctrl_c(),
    )
    .await;
    bars.finish();
    let last = last?;
    let now = crate::node::now().0;
    match last.first() {
        Some(f) if f.state == "done" => {
            println!(
                "{} delivered: the recipient has it whole",
                text::shown(&f.name)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(f) if f.ended() => {
            println!("{}", text::file_line(f, now).trim_start());
            Ok(ExitCode::FAILURE)
        }
        _ => {
            println!(
                "stopped watching; the transfer goes on (`tacnode files` follows it, `tacnode files cancel {}` stops it)",
                offered.id.get(..8).unwrap_or(&offered.id)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `tacnode files --watch`: bars for the transfers under way, until none is.
pub(crate) async fn watch(data_dir: &Path, json: bool) -> Result<(), CliError> {
    if json {
        // One JSON object per look, like `peers --watch --json`.
        follow_files(
            data_dir,
            Follow::Active,
            |v| {
                if let Ok(line) = serde_json::to_string(&Response::Files {
                    transfers: v.to_vec(),
                }) {
                    println!("{line}");
                }
            },
            tokio::signal::ctrl_c(),
        )
        .await?;
        return Ok(());
    }
    let mut bars = Bars::default();
    let mut seen: HashMap<String, FileView> = HashMap::new();
    let result = follow_files(
        data_dir,
        Follow::Active,
        |v| {
            bars.update(v);
            for f in v {
                seen.insert(f.id.clone(), f.clone());
            }
        },
        tokio::signal::ctrl_c(),
    )
    .await;
    bars.finish();
    result?;
    if seen.is_empty() {
        println!("no file transfer under way");
        return Ok(());
    }
    // How each one followed ended.
    if let Some(Response::Files { transfers }) = ask(data_dir, false, &Request::Files).await? {
        let now = crate::node::now().0;
        for f in transfers.iter().filter(|f| seen.contains_key(&f.id)) {
            println!("{}", text::file_line(f, now).trim_start());
        }
    }
    Ok(())
}
