//! The file port on disk ([`DiskFiles`]) and in memory ([`MemoryFiles`]).
//!
//! On disk, a file being received is written to
//! `DOWNLOADS/.partial/<transfer id>` and, once complete and checked, moved
//! into `DOWNLOADS` under its name: the name is claimed by creating it
//! exclusively (which fails rather than replace a file of that name:
//! ` (1)`, ` (2)`, … is tried then), the partial file renamed over the
//! claimed one, and the directory synced. Only the partial file's own
//! directory is made owner-only (a configured downloads directory keeps
//! its permissions; one the node creates is owner-only).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::UNIX_EPOCH;

use tacnode_domain::file_transfer::TransferId;
use tacnode_domain::ports::{BoxFuture, FileError, FileStamp, TransferFiles};

/// Where partial files are kept, inside the downloads directory (so the
/// finished file moves by a link on the same file system).
pub const PARTIAL_DIR: &str = ".partial";
/// Most names tried for a received file whose name is taken (`name (1)`
/// up to `name (999)`).
pub const MAX_NAME_TRIES: u32 = 1000;

fn io_error(path: &Path, what: &str, e: std::io::Error) -> FileError {
    match e.kind() {
        ErrorKind::NotFound => FileError::NotFound(path.to_owned()),
        ErrorKind::PermissionDenied => FileError::PermissionDenied(path.to_owned()),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => FileError::NoSpace,
        _ => FileError::Io {
            what: format!("{what} {}", path.display()),
            source: e,
        },
    }
}

fn stamp_of(meta: &std::fs::Metadata) -> FileStamp {
    FileStamp {
        size: meta.len(),
        modified_ns: meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos()),
    }
}

/// Longest file name written, in bytes (the usual `NAME_MAX`).
const MAX_WRITTEN_NAME_BYTES: usize = 255;

/// `name` with ` (n)` before its extension, for n ≥ 1; the stem is cut
/// (at a character boundary) so the result stays within
/// [`MAX_WRITTEN_NAME_BYTES`].
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let suffix = format!(" ({n}){ext}");
    let mut keep = MAX_WRITTEN_NAME_BYTES
        .saturating_sub(suffix.len())
        .min(stem.len());
    while !stem.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", stem.get(..keep).unwrap_or_default())
}

/// Bytes written to partial files after which their writeback is started
/// in the background, so the sync that makes progress durable (and the
/// last one, before the file is moved) finds little left to write.
pub const BACKGROUND_FLUSH_BYTES: u64 = 8 * 1024 * 1024;

/// Starts writeback in the background: at most one flush thread at a
/// time, each syncing the partial file that crossed
/// [`BACKGROUND_FLUSH_BYTES`].
/// A write-back error is reported once, to whichever sync sees it: the
/// flusher keeps it for the next [`TransferFiles::sync_part`] or
/// [`TransferFiles::finish_part`], which would otherwise succeed over
/// lost data.
#[derive(Debug, Default)]
struct Flusher {
    unflushed: std::sync::atomic::AtomicU64,
    running: Arc<std::sync::atomic::AtomicBool>,
    failed: Arc<Mutex<Option<std::io::Error>>>,
}

impl Flusher {
    fn wrote(&self, file: &File, bytes: usize) {
        use std::sync::atomic::Ordering;
        let total = self.unflushed.fetch_add(bytes as u64, Ordering::AcqRel) + bytes as u64;
        if total < BACKGROUND_FLUSH_BYTES || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.unflushed.store(0, Ordering::Release);
        let (running, failed) = (self.running.clone(), self.failed.clone());
        match file.try_clone() {
            Ok(copy) => {
                // A head start for the sync that counts (`sync_part`'s),
                // which also reports an error this one met.
                let spawned = std::thread::Builder::new()
                    .name("tacnode-flush".into())
                    .spawn(move || {
                        if let Err(e) = copy.sync_data() {
                            *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                        }
                        running.store(false, Ordering::Release);
                    });
                if spawned.is_err() {
                    self.running.store(false, Ordering::Release);
                }
            }
            Err(_) => self.running.store(false, Ordering::Release),
        }
    }
}

impl Flusher {
    /// The write-back error the last background flush met, once.
    fn check(&self, path: &Path) -> Result<(), FileError> {
        match self
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(e) => Err(io_error(path, "writing back", e)),
            None => Ok(()),
        }
    }
}

/// The file port over a downloads directory.
#[derive(Debug, Clone)]
pub struct DiskFiles {
    downloads: PathBuf,
    flusher: Arc<Flusher>,
}

impl DiskFiles {
    /// Files received go to `downloads` (created, owner-only, when missing).
    pub fn new(downloads: impl Into<PathBuf>) -> Self {
        Self {
            downloads: downloads.into(),
            flusher: Arc::default(),
        }
    }

    /// Where received files go.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    fn part(&self, transfer: &TransferId) -> PathBuf {
        self.downloads.join(PARTIAL_DIR).join(transfer.to_string())
    }

    /// Creates `dir` owner-only if it is missing (an existing one is left
    /// as it is).
    fn ensure_dir(dir: &Path) -> Result<(), FileError> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| io_error(dir, "creating", e))
    }

    fn open_part(&self, transfer: &TransferId, create: bool) -> Result<(File, PathBuf), FileError> {
        let path = self.part(transfer);
        if create {
            Self::ensure_dir(&self.downloads)?;
            Self::ensure_dir(&self.downloads.join(PARTIAL_DIR))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(create);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(&path)
            .map_err(|e| io_error(&path, "opening", e))?;
        Ok((file, path))
    }
}

fn read_at(file: &File, path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, FileError> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let at = offset.saturating_add(filled as u64);
        match file.read_at(buf.get_mut(filled..).unwrap_or_default(), at) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(path, "reading", e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The port's operations, run at once (the [`TransferFiles`] impl runs
/// them on the blocking threads).
impl DiskFiles {
    /// [`TransferFiles::stat`], now.
    pub fn stat_now(&self, path: &Path) -> Result<FileStamp, FileError> {
        let meta = std::fs::metadata(path).map_err(|e| io_error(path, "reading", e))?;
        if !meta.is_file() {
            return Err(FileError::NotAFile(path.to_owned()));
        }
        Ok(stamp_of(&meta))
    }

    /// [`TransferFiles::read`], now.
    pub fn read_now(
        &self,
        path: &Path,
        stamp: FileStamp,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, FileError> {
        let file = File::open(path).map_err(|e| io_error(path, "opening", e))?;
        let unchanged = |file: &File| -> Result<(), FileError> {
            let meta = file.metadata().map_err(|e| io_error(path, "reading", e))?;
            if stamp_of(&meta) != stamp {
                return Err(FileError::Changed(path.to_owned()));
            }
            Ok(())
        };
        unchanged(&file)?;
        let content = read_at(&file, path, offset, len)?;
        // Written to while it was read: not served (its blocks would be
        // sealed again under the same nonces with other content).
        unchanged(&file)?;
        Ok(content)
    }

    /// [`TransferFiles::write_part`], now.
    pub fn write_part_now(
        &self,
        transfer: &TransferId,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), FileError> {
        let (file, path) = self.open_part(transfer, true)?;
        file.write_all_at(bytes, offset)
            .map_err(|e| io_error(&path, "writing", e))?;
        self.flusher.wrote(&file, bytes.len());
        Ok(())
    }

    /// [`TransferFiles::read_part`], now.
    pub fn read_part_now(
        &self,
        transfer: &TransferId,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, FileError> {
        match self.open_part(transfer, false) {
            Ok((file, path)) => read_at(&file, &path, offset, len),
            Err(FileError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// [`TransferFiles::sync_part`], now.
    pub fn sync_part_now(&self, transfer: &TransferId) -> Result<(), FileError> {
        // Never created here: a partial file removed meanwhile (a cancel)
        // stays removed.
        let (file, path) = self.open_part(transfer, false)?;
        file.sync_data()
            .map_err(|e| io_error(&path, "syncing", e))?;
        self.flusher.check(&path)
    }

    /// [`TransferFiles::finish_part`], now.
    pub fn finish_part_now(
        &self,
        transfer: &TransferId,
        len: u64,
        name: &str,
    ) -> Result<PathBuf, FileError> {
        let (file, part) = self.open_part(transfer, false)?;
        let have = file
            .metadata()
            .map_err(|e| io_error(&part, "reading", e))?
            .len();
        if have < len {
            return Err(FileError::Changed(part));
        }
        file.set_len(len)
            .map_err(|e| io_error(&part, "cutting", e))?;
        file.sync_all().map_err(|e| io_error(&part, "syncing", e))?;
        self.flusher.check(&part)?;
        drop(file);
        for n in 0..MAX_NAME_TRIES {
            let target = self.downloads.join(numbered(name, n));
            // Claims the name (fails if taken), then the partial file
            // replaces the empty claim in one rename.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
            {
                Ok(_) => {
                    if let Err(e) = std::fs::rename(&part, &target) {
                        // The claim goes; the partial file stays for a retry.
                        let _ = std::fs::remove_file(&target);
                        return Err(io_error(&target, "moving", e));
                    }
                    // The file is in place: a failed directory sync only
                    // risks the name after a power cut, not a second copy
                    // on a retry, so it is not reported as a failure.
                    let _ = File::open(&self.downloads).and_then(|d| d.sync_all());
                    return Ok(target);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&target, "naming", e)),
            }
        }
        Err(FileError::Io {
            what: format!("naming {name} in {}", self.downloads.display()),
            source: std::io::Error::other(format!(
                "{MAX_NAME_TRIES} files of that name exist already"
            )),
        })
    }

    /// [`TransferFiles::remove_part`], now.
    pub fn remove_part_now(&self, transfer: &TransferId) -> Result<(), FileError> {
        let path = self.part(transfer);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, "removing", e)),
        }
    }
}

/// Runs `op` on tokio's blocking threads (disk I/O must not hold up the
/// node's tasks).
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| FileError::Io {
            what: "the file thread".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
}

impl TransferFiles for DiskFiles {
    fn stat(&self, path: PathBuf) -> BoxFuture<'static, Result<FileStamp, FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.stat_now(&path)))
    }

    fn read(
        &self,
        path: PathBuf,
        stamp: FileStamp,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.read_now(&path, stamp, offset, len)))
    }

    fn write_part(
        &self,
        transfer: TransferId,
        offset: u64,
        bytes: Vec<u8>,
    ) -> BoxFuture<'static, Result<(), FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || {
            this.write_part_now(&transfer, offset, &bytes)
        }))
    }

    fn read_part(
        &self,
        transfer: TransferId,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.read_part_now(&transfer, offset, len)))
    }

    fn sync_part(&self, transfer: TransferId) -> BoxFuture<'static, Result<(), FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.sync_part_now(&transfer)))
    }

    fn finish_part(
        &self,
        transfer: TransferId,
        len: u64,
        name: String,
    ) -> BoxFuture<'static, Result<PathBuf, FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || {
            this.finish_part_now(&transfer, len, &name)
        }))
    }

    fn remove_part(&self, transfer: TransferId) -> BoxFuture<'static, Result<(), FileError>> {
        let this = self.clone();
        Box::pin(blocking(move || this.remove_part_now(&transfer)))
    }
}

impl TransferFiles for MemoryFiles {
    fn stat(&self, path: PathBuf) -> BoxFuture<'static, Result<FileStamp, FileError>> {
        Box::pin(std::future::ready(self.stat_now(&path)))
    }

    fn read(
        &self,
        path: PathBuf,
        stamp: FileStamp,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>> {
        Box::pin(std::future::ready(self.read_now(&path, stamp, offset, len)))
    }

    fn write_part(
        &self,
        transfer: TransferId,
        offset: u64,
        bytes: Vec<u8>,
    ) -> BoxFuture<'static, Result<(), FileError>> {
        Box::pin(std::future::ready(
            self.write_part_now(&transfer, offset, &bytes),
        ))
    }

    fn read_part(
        &self,
        transfer: TransferId,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>> {
        Box::pin(std::future::ready(
            self.read_part_now(&transfer, offset, len),
        ))
    }

    fn sync_part(&self, transfer: TransferId) -> BoxFuture<'static, Result<(), FileError>> {
        Box::pin(std::future::ready(self.sync_part_now(&transfer)))
    }

    fn finish_part(
        &self,
        transfer: TransferId,
        len: u64,
        name: String,
    ) -> BoxFuture<'static, Result<PathBuf, FileError>> {
        Box::pin(std::future::ready(
            self.finish_part_now(&transfer, len, &name),
        ))
    }

    fn remove_part(&self, transfer: TransferId) -> BoxFuture<'static, Result<(), FileError>> {
        Box::pin(std::future::ready(self.remove_part_now(&transfer)))
    }
}

#[derive(Default)]
struct MemoryTables {
    /// The operator's files: content and modification stamp.
    files: BTreeMap<PathBuf, (Vec<u8>, u128)>,
    /// Partial files: as written, and as last synced.
    parts: BTreeMap<TransferId, (Vec<u8>, Vec<u8>)>,
    /// Files received, by name.
    downloads: BTreeMap<String, Vec<u8>>,
    /// Writes fail as on a full disk.
    full: bool,
    /// Modification stamps handed out.
    stamps: u128,
    /// Syncs (and so finishing a file) fail as on a disk that filled up
    /// after the writes went to its cache.
    syncs_fail: bool,
}

/// The file port in memory, for the simulator and tests: a node's files
/// outlive its restarts (clones share them), and [`MemoryFiles::crash`]
/// drops what was written to partial files since their last sync.
#[derive(Clone, Default)]
pub struct MemoryFiles(Arc<Mutex<MemoryTables>>);

impl std::fmt::Debug for MemoryFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryFiles")
    }
}

impl MemoryFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> MutexGuard<'_, MemoryTables> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a file the operator may send at `path` (a new modification
    /// stamp each time).
    pub fn put(&self, path: impl Into<PathBuf>, content: Vec<u8>) {
        let mut t = self.tables();
        t.stamps += 1;
        let stamp = t.stamps;
        t.files.insert(path.into(), (content, stamp));
    }

    /// A received file's content, by the name it was saved under.
    pub fn download(&self, name: &str) -> Option<Vec<u8>> {
        self.tables().downloads.get(name).cloned()
    }

    /// Bytes written to the partial file of `transfer` so far.
    pub fn part_len(&self, transfer: &TransferId) -> Option<usize> {
        self.tables().parts.get(transfer).map(|p| p.0.len())
    }

    /// Drops what partial files got since their last sync, as a power cut
    /// does.
    pub fn crash(&self) {
        for (written, synced) in self.tables().parts.values_mut() {
            written.clone_from(synced);
        }
    }

    /// Syncs and finishing a file fail (`true`) as on a disk that filled
    /// up once the writes were cached, or work again.
    pub fn set_syncs_fail(&self, fail: bool) {
        self.tables().syncs_fail = fail;
    }

    /// Writes fail (`true`) as on a full disk, or work again.
    pub fn set_full(&self, full: bool) {
        self.tables().full = full;
    }
}

/// The port's operations, run at once (the [`TransferFiles`] impl runs
/// them as they are: memory does not wait).
impl MemoryFiles {
    /// [`TransferFiles::stat`], now.
    pub fn stat_now(&self, path: &Path) -> Result<FileStamp, FileError> {
        let t = self.tables();
        let (content, modified_ns) = t
            .files
            .get(path)
            .ok_or_else(|| FileError::NotFound(path.to_owned()))?;
        Ok(FileStamp {
            size: content.len() as u64,
            modified_ns: *modified_ns,
        })
    }

    /// [`TransferFiles::read`], now.
    pub fn read_now(
        &self,
        path: &Path,
        stamp: FileStamp,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, FileError> {
        if self.stat_now(path)? != stamp {
            return Err(FileError::Changed(path.to_owned()));
        }
        let t = self.tables();
        let content = t
            .files
            .get(path)
            .map(|f| f.0.as_slice())
            .unwrap_or_default();
        Ok(slice(content, offset, len))
    }

    /// [`TransferFiles::write_part`], now.
    pub fn write_part_now(
        &self,
        transfer: &TransferId,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), FileError> {
        let mut t = self.tables();
        if t.full {
            return Err(FileError::NoSpace);
        }
        let part = &mut t.parts.entry(*transfer).or_default().0;
        let start = usize::try_from(offset).map_err(|_| FileError::NoSpace)?;
        let end = start.saturating_add(bytes.len());
        if part.len() < end {
            part.resize(end, 0);
        }
        if let Some(dst) = part.get_mut(start..end) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// [`TransferFiles::read_part`], now.
    pub fn read_part_now(
        &self,
        transfer: &TransferId,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, FileError> {
        let t = self.tables();
        let content = t
            .parts
            .get(transfer)
            .map(|p| p.0.as_slice())
            .unwrap_or_default();
        Ok(slice(content, offset, len))
    }

    /// [`TransferFiles::sync_part`], now.
    pub fn sync_part_now(&self, transfer: &TransferId) -> Result<(), FileError> {
        let mut t = self.tables();
        if t.syncs_fail {
            return Err(FileError::NoSpace);
        }
        let part = t
            .parts
            .get_mut(transfer)
            .ok_or_else(|| FileError::NotFound(PathBuf::from(transfer.to_string())))?;
        part.1.clone_from(&part.0);
        Ok(())
    }

    /// [`TransferFiles::finish_part`], now.
    pub fn finish_part_now(
        &self,
        transfer: &TransferId,
        len: u64,
        name: &str,
    ) -> Result<PathBuf, FileError> {
        let mut t = self.tables();
        if t.syncs_fail {
            return Err(FileError::NoSpace);
        }
        let have = t.parts.get(transfer).map(|p| p.0.len() as u64);
        if have.is_none_or(|h| h < len) {
            return Err(FileError::Changed(PathBuf::from(transfer.to_string())));
        }
        let mut content = t.parts.remove(transfer).map(|p| p.0).unwrap_or_default();
        content.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        let taken = (0..MAX_NAME_TRIES)
            .map(|n| numbered(name, n))
            .find(|n| !t.downloads.contains_key(n))
            .ok_or(FileError::NoSpace)?;
        t.downloads.insert(taken.clone(), content);
        Ok(PathBuf::from(taken))
    }

    /// [`TransferFiles::remove_part`], now.
    pub fn remove_part_now(&self, transfer: &TransferId) -> Result<(), FileError> {
        self.tables().parts.remove(transfer);
        Ok(())
    }
}

fn slice(content: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let end = start.saturating_add(len).min(content.len());
    content.get(start..end).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_file_never_replaces_one_of_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = DiskFiles::new(dir.path().join("files"));
        let (a, b) = (TransferId([1; 16]), TransferId([2; 16]));
        // A configured directory keeps its permissions.
        std::fs::create_dir(dir.path().join("files")).expect("mkdir");
        std::fs::set_permissions(
            dir.path().join("files"),
            std::os::unix::fs::PermissionsExt::from_mode(0o750),
        )
        .expect("chmod");
        for (t, body) in [(a, b"first"), (b, b"other")] {
            files.write_part_now(&t, 0, body).expect("write");
            files
                .write_part_now(&t, 5, b"-tail-not-kept")
                .expect("write");
        }
        let first = files.finish_part_now(&a, 5, "notes.txt").expect("finish");
        let second = files.finish_part_now(&b, 5, "notes.txt").expect("finish");
        assert_eq!(first, dir.path().join("files/notes.txt"));
        assert_eq!(second, dir.path().join("files/notes (1).txt"));
        assert_eq!(std::fs::read(&first).expect("read"), b"first");
        assert_eq!(std::fs::read(&second).expect("read"), b"other");
        assert!(files.read_part_now(&a, 0, 10).expect("gone").is_empty());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("files"))
                .expect("stat")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o750);
        // A partial file cut short is not published.
        let c = TransferId([9; 16]);
        files.write_part_now(&c, 0, b"abc").expect("write");
        assert!(matches!(
            files.finish_part_now(&c, 4, "c"),
            Err(FileError::Changed(_))
        ));
    }

    #[test]
    fn a_file_changed_since_its_stamp_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x");
        std::fs::write(&path, b"abc").expect("write");
        let files = DiskFiles::new(dir.path().join("files"));
        let stamp = files.stat_now(&path).expect("stat");
        assert_eq!(files.read_now(&path, stamp, 1, 10).expect("read"), b"bc");
        std::fs::write(&path, b"abcd").expect("write");
        assert!(matches!(
            files.read_now(&path, stamp, 0, 10),
            Err(FileError::Changed(_))
        ));
        assert!(matches!(
            files.stat_now(dir.path()),
            Err(FileError::NotAFile(_))
        ));
        assert!(matches!(
            files.stat_now(&dir.path().join("missing")),
            Err(FileError::NotFound(_))
        ));
    }

    #[test]
    fn memory_files_lose_unsynced_writes_in_a_crash() {
        let files = MemoryFiles::new();
        let t = TransferId([3; 16]);
        files.write_part_now(&t, 0, b"abc").expect("write");
        files.sync_part_now(&t).expect("sync");
        files.write_part_now(&t, 3, b"def").expect("write");
        files.crash();
        assert_eq!(files.read_part_now(&t, 0, 10).expect("read"), b"abc");
        assert_eq!(numbered("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(numbered(".bashrc", 1), ".bashrc (1)");
        let long = format!("{}.pdf", "я".repeat(125));
        let n = numbered(&long, 7);
        assert!(
            n.len() <= MAX_WRITTEN_NAME_BYTES && n.ends_with(" (7).pdf"),
            "{n}"
        );
        // A removed partial file is not brought back by a sync.
        files.remove_part_now(&t).expect("remove");
        assert!(matches!(
            files.sync_part_now(&t),
            Err(FileError::NotFound(_))
        ));
    }
}
