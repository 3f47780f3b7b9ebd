//! Where the daemon's files are inside its data directory, as far as a
//! client needs them.

use std::path::{Path, PathBuf};

/// File name of the control socket inside the data directory.
pub const SOCKET_NAME: &str = "control.sock";
/// File name of the keystore inside the data directory.
pub const KEYSTORE_NAME: &str = "identity.json";

/// Path of the control socket in `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// Path of the keystore in `data_dir`.
pub fn keystore_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYSTORE_NAME)
}
