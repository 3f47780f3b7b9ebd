//! Revocation lists as files: the admin revokes (or reinstates) members in
//! a new signed list that continues its previous one, kept in the admin's
//! directory; a member's daemon is given the list's file.

use std::path::{Path, PathBuf};

use tacnode_crypto::Identity;
use tacnode_crypto::admin::issue_revocation_list;
use tacnode_domain::{NodeId, RevocationList, UnixMillis};
use tacnode_messaging::{
    REVOCATION_LIST_LABEL, decode_revocation_list, encode_revocation_list, from_admission_text,
    to_admission_text,
};

use crate::admission_file::{read_text, replace, write_new};
use crate::error::AdminError;
use crate::member::member_address;

/// The admin's last revocation list, in its directory (the next one
/// continues it).
pub const ISSUED_REVOCATIONS_FILE: &str = "revocations";
/// Where the next list is written before it replaces the last one.
const FRESH_REVOCATIONS_FILE: &str = "revocations.new";

/// The admin's last revocation list in `admin_dir`.
pub fn issued_revocations_path(admin_dir: &Path) -> PathBuf {
    admin_dir.join(ISSUED_REVOCATIONS_FILE)
}

/// Reads a revocation list file (its signature is not checked here: the
/// daemon checks it against its admins).
pub fn read_revocation_list(path: &Path) -> Result<RevocationList, AdminError> {
    let bytes =
        from_admission_text(REVOCATION_LIST_LABEL, &read_text(path)?).map_err(AdminError::Text)?;
    decode_revocation_list(&bytes).map_err(|source| AdminError::NotRevocationList {
        path: path.to_path_buf(),
        source,
    })
}

/// Issues, as `admin` at `now`, the list after the one kept in `admin_dir`
/// (the first is number 1) with `members` (`key_…` addresses) revoked, or
/// taken off the list when `reinstate`; writes it to the new file `out`,
/// then keeps it as the admin's last list.
pub fn revoke_members(
    admin: &Identity,
    admin_dir: &Path,
    members: &[String],
    reinstate: bool,
    now: UnixMillis,
    out: &Path,
) -> Result<RevocationList, AdminError> {
    let state = issued_revocations_path(admin_dir);
    let previous = if state.exists() {
        Some(read_revocation_list(&state)?)
    } else {
        None
    };
    let mut revoked = previous
        .as_ref()
        .map(|l| l.revoked.clone())
        .unwrap_or_default();
    for m in members {
        let id: NodeId = member_address(m)?.node_id();
        revoked.retain(|r| *r != id);
        if !reinstate {
            revoked.push(id);
        }
    }
    let sequence = previous.map_or(1, |l| l.sequence.saturating_add(1));
    let list = issue_revocation_list(admin, sequence, now, revoked)?;
    let text = to_admission_text(REVOCATION_LIST_LABEL, &encode_revocation_list(&list));
    write_new(out, &text)?;
    // Kept only once the list is out: the next one continues it.
    replace(
        &admin_dir.join(FRESH_REVOCATIONS_FILE),
        &state,
        &text,
        AdminError::Update,
    )?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn admin() -> Identity {
        Identity::from_secret_bytes(&[1; 32], &[2; 32])
    }

    fn member(n: u8) -> Identity {
        Identity::from_secret_bytes(&[n; 32], &[n; 32])
    }

    #[test]
    fn each_list_continues_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (member(3).address(), member(4).address());
        let first = revoke_members(
            &admin(),
            dir.path(),
            &[a.to_string(), b.to_string()],
            false,
            UnixMillis(10),
            &dir.path().join("1.rev"),
        )
        .unwrap();
        assert_eq!(first.sequence, 1);
        assert_eq!(first.revoked.len(), 2);
        first.verify_signature().unwrap();
        let second = revoke_members(
            &admin(),
            dir.path(),
            &[a.to_string()],
            true,
            UnixMillis(20),
            &dir.path().join("2.rev"),
        )
        .unwrap();
        assert_eq!(second.sequence, 2);
        assert_eq!(second.revoked, vec![b.node_id()]);
        let written = read_revocation_list(&dir.path().join("2.rev")).unwrap();
        assert_eq!(written, second);
        let kept = read_revocation_list(&issued_revocations_path(dir.path())).unwrap();
        assert_eq!(kept, second);
        assert!(!dir.path().join(FRESH_REVOCATIONS_FILE).exists());
    }

    #[test]
    fn nothing_is_kept_when_the_list_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("taken");
        std::fs::write(&out, "").unwrap();
        let e = revoke_members(
            &admin(),
            dir.path(),
            &[member(3).address().to_string()],
            false,
            UnixMillis(10),
            &out,
        )
        .unwrap_err();
        assert!(matches!(e, AdminError::Create { .. }), "{e}");
        assert!(!issued_revocations_path(dir.path()).exists());
        // Nor for a member that is not an address.
        let e = revoke_members(
            &admin(),
            dir.path(),
            &["bob".to_owned()],
            false,
            UnixMillis(10),
            &dir.path().join("x"),
        )
        .unwrap_err();
        assert!(matches!(e, AdminError::Member { .. }), "{e}");
    }

    #[test]
    fn a_certificate_is_not_a_revocation_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.cert");
        std::fs::write(&path, "tacnode-member-certificate-v1 00\n").unwrap();
        let e = read_revocation_list(&path).unwrap_err();
        assert!(matches!(e, AdminError::Text(_)), "{e}");
    }
}
