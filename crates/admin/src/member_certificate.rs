//! Member certificates as files: issued by an admin for a member's address,
//! installed by the member in its data directory, read by the node at start.

use std::path::{Path, PathBuf};

use tacnode_crypto::Identity;
use tacnode_crypto::admin::issue_member_certificate;
use tacnode_domain::{MemberCertificate, NodeType, UnixMillis};
use tacnode_messaging::{
    MEMBER_CERTIFICATE_LABEL, decode_member_certificate, encode_member_certificate,
    from_admission_text, to_admission_text,
};

use crate::admission_file::{read_text, replace, write_new};
use crate::error::AdminError;
use crate::member::member_address;

/// The member certificate's file in a data directory, unless the config
/// names another.
pub const MEMBER_CERTIFICATE_FILE: &str = "member.cert";
/// Where an installed certificate is written before it replaces the old one.
const FRESH_MEMBER_CERTIFICATE_FILE: &str = "member.cert.new";
/// Milliseconds in a day of validity.
const DAY_MS: u64 = 86_400_000;

/// Where a node keeps its member certificate unless the config says
/// otherwise.
pub fn member_certificate_path(data_dir: &Path) -> PathBuf {
    data_dir.join(MEMBER_CERTIFICATE_FILE)
}

/// Reads a member certificate file (its signature is not checked here: the
/// node checks it against its admins).
pub fn read_member_certificate(path: &Path) -> Result<MemberCertificate, AdminError> {
    if !path.exists() {
        return Err(AdminError::NoMemberCertificate(path.to_path_buf()));
    }
    let bytes = from_admission_text(MEMBER_CERTIFICATE_LABEL, &read_text(path)?)
        .map_err(AdminError::Text)?;
    decode_member_certificate(&bytes).map_err(|source| AdminError::NotMemberCertificate {
        path: path.to_path_buf(),
        source,
    })
}

/// Issues, as `admin` at `now`, a certificate letting the member at
/// `member` (its `key_…` address) run as `role` for `days` days, shown to
/// operators as `name`, and writes it to the new file `out`.
pub fn issue_member_certificate_file(
    admin: &Identity,
    member: &str,
    role: NodeType,
    days: u32,
    name: &str,
    now: UnixMillis,
    out: &Path,
) -> Result<MemberCertificate, AdminError> {
    let until = now.saturating_add_millis(u64::from(days).saturating_mul(DAY_MS));
    let member = *member_address(member)?.identity_key();
    let cert = issue_member_certificate(admin, member, role, until, name)?;
    let text = to_admission_text(MEMBER_CERTIFICATE_LABEL, &encode_member_certificate(&cert));
    write_new(out, &text)?;
    Ok(cert)
}

/// Checks the certificate in `file` (its admin's signature) and installs it
/// as the member certificate of the node in `data_dir` (created owner-only
/// if need be), replacing any before it. The node uses it from its next
/// start.
pub fn install_member_certificate(
    data_dir: &Path,
    file: &Path,
) -> Result<MemberCertificate, AdminError> {
    let cert = read_member_certificate(file)?;
    cert.verify_signature()
        .map_err(|source| AdminError::DoesNotVerify {
            path: file.to_path_buf(),
            source,
        })?;
    create_private_dir(data_dir)?;
    let text = to_admission_text(MEMBER_CERTIFICATE_LABEL, &encode_member_certificate(&cert));
    replace(
        &data_dir.join(FRESH_MEMBER_CERTIFICATE_FILE),
        &member_certificate_path(data_dir),
        &text,
        AdminError::Install,
    )?;
    Ok(cert)
}

/// Creates `dir` (and parents) with owner-only permissions.
fn create_private_dir(dir: &Path) -> Result<(), AdminError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| AdminError::DataDir {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn admin() -> Identity {
        Identity::from_secret_bytes(&[1; 32], &[2; 32])
    }

    fn member() -> Identity {
        Identity::from_secret_bytes(&[3; 32], &[4; 32])
    }

    #[test]
    fn issued_then_installed_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.cert");
        let address = member().address().to_string();
        let now = UnixMillis(1_000);
        let cert = issue_member_certificate_file(
            &admin(),
            &address,
            NodeType::Client,
            2,
            "radio 7",
            now,
            &out,
        )
        .unwrap();
        assert_eq!(cert.member, member().identity_key());
        assert_eq!(cert.not_after, UnixMillis(1_000 + 2 * DAY_MS));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with(MEMBER_CERTIFICATE_LABEL), "{text}");
        // Never over an existing file.
        let again =
            issue_member_certificate_file(&admin(), &address, NodeType::Client, 2, "", now, &out);
        assert!(matches!(again, Err(AdminError::Create { .. })));

        let data = dir.path().join("node");
        let installed = install_member_certificate(&data, &out).unwrap();
        assert_eq!(installed, cert);
        let back = read_member_certificate(&member_certificate_path(&data)).unwrap();
        assert_eq!(back, cert);
        assert!(!data.join(FRESH_MEMBER_CERTIFICATE_FILE).exists());
        // A second install replaces the first.
        install_member_certificate(&data, &out).unwrap();
    }

    #[test]
    fn a_bad_address_or_an_edited_signature_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.cert");
        let e = issue_member_certificate_file(
            &admin(),
            "key_nope",
            NodeType::Server,
            1,
            "",
            UnixMillis(0),
            &out,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("member \"key_nope\""), "{e}");
        assert!(!out.exists());

        let address = member().address().to_string();
        issue_member_certificate_file(
            &admin(),
            &address,
            NodeType::Server,
            1,
            "",
            UnixMillis(0),
            &out,
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let mut edited = text.trim_end().to_owned();
        let last = edited.pop().unwrap();
        edited.push(if last == '0' { '1' } else { '0' });
        let bad = dir.path().join("edited.cert");
        std::fs::write(&bad, edited).unwrap();
        let data = dir.path().join("node");
        let e = install_member_certificate(&data, &bad).unwrap_err();
        assert!(matches!(e, AdminError::DoesNotVerify { .. }), "{e}");
        assert!(!data.exists(), "nothing is created for a refused file");
    }

    #[test]
    fn a_missing_or_foreign_file_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("member.cert");
        let e = read_member_certificate(&missing).unwrap_err();
        assert!(e.to_string().contains("tacnode member import FILE"), "{e}");
        let foreign = dir.path().join("other");
        std::fs::write(&foreign, "tacnode-revocations-v1 00\n").unwrap();
        let e = read_member_certificate(&foreign).unwrap_err();
        assert!(matches!(e, AdminError::Text(_)), "{e}");
    }
}
