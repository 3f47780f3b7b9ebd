//! Closed-network administration on the command line: the admin's key (a
//! keystore of its own), member certificates and revocation lists as text
//! files, and a member installing its certificate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tacnode_crypto::admin::{issue_member_certificate, issue_revocation_list};
use tacnode_crypto::keystore::KdfParams;
use tacnode_domain::{
    MemberCertificate, NodeId, NodeType, PeerAddress, RevocationList, UnixMillis,
};
use tacnode_messaging::{
    MAX_ADMISSION_FILE_BYTES, MEMBER_CERTIFICATE_LABEL, REVOCATION_LIST_LABEL,
    decode_member_certificate, decode_revocation_list, encode_member_certificate,
    encode_revocation_list, from_admission_text, to_admission_text,
};

use crate::cli::{AdminAction, NodeTypeArg, PassphraseArgs};

/// Where a node keeps its member certificate unless the config says otherwise.
pub(crate) fn member_certificate_path(data_dir: &Path) -> PathBuf {
    data_dir.join("member.cert")
}

/// The admin's revocation list so far (the next one continues it).
fn issued_revocations_path(admin_dir: &Path) -> PathBuf {
    admin_dir.join("revocations")
}

fn read_text(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_ADMISSION_FILE_BYTES as u64 {
        bail!("{} is not a certificate or revocation file", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads a member certificate file.
pub(crate) fn read_member_certificate(path: &Path) -> Result<MemberCertificate> {
    if !path.exists() {
        bail!(
            "this is a closed network and {} holds no member certificate: ask an admin \
             for one (tacnode admin issue) and install it with `tacnode member import FILE`",
            path.display()
        );
    }
    let bytes = from_admission_text(MEMBER_CERTIFICATE_LABEL, &read_text(path)?)?;
    decode_member_certificate(&bytes)
        .with_context(|| format!("{} is not a member certificate", path.display()))
}

/// Reads a revocation list file.
pub(crate) fn read_revocations(path: &Path) -> Result<RevocationList> {
    let bytes = from_admission_text(REVOCATION_LIST_LABEL, &read_text(path)?)?;
    decode_revocation_list(&bytes)
        .with_context(|| format!("{} is not a revocation list", path.display()))
}

/// Writes `text` to a new file readable by its owner only.
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn member(address: &str) -> Result<PeerAddress> {
    address
        .parse::<PeerAddress>()
        .with_context(|| format!("member {address:?}"))
}

/// `tacnode admin …`.
pub(crate) fn run(action: AdminAction, data_dir: &Path) -> Result<()> {
    let dir = |d: Option<PathBuf>| d.unwrap_or_else(|| data_dir.join("admin"));
    let unlock = |admin_dir: &Path, p: &PassphraseArgs| -> Result<tacnode_crypto::Identity> {
        let pass = crate::keys::passphrase(p, false)?;
        Ok(crate::keys::unlock(admin_dir, &pass)?.identity().clone())
    };
    let now = crate::node::now();
    match action {
        AdminAction::Init {
            admin_dir,
            passphrase,
        } => {
            let admin_dir = dir(admin_dir);
            let pass = crate::keys::passphrase(&passphrase, true)?;
            let secrets = crate::keys::init(&admin_dir, &pass, &KdfParams::DEFAULT)?;
            println!("created the network's admin key in {}", admin_dir.display());
            println!("put it in every member's config:");
            println!(
                "[admission]\nadmins = [\"{}\"]",
                secrets.identity().address()
            );
        }
        AdminAction::Issue {
            member: address,
            role,
            days,
            name,
            out,
            admin_dir,
            passphrase,
        } => {
            let admin = unlock(&dir(admin_dir), &passphrase)?;
            let role = match role {
                NodeTypeArg::Server => NodeType::Server,
                NodeTypeArg::Client => NodeType::Client,
            };
            let until = now.saturating_add_millis(u64::from(days).saturating_mul(86_400_000));
            let cert = issue_member_certificate(
                &admin,
                *member(&address)?.identity_key(),
                role,
                until,
                name.as_deref().unwrap_or(""),
            )?;
            let text =
                to_admission_text(MEMBER_CERTIFICATE_LABEL, &encode_member_certificate(&cert));
            write_new(&out, &text)?;
            println!(
                "wrote {}: {address} may run as a {role:?} for {days} days",
                out.display()
            );
        }
        AdminAction::Revoke {
            members,
            reinstate,
            out,
            admin_dir,
            passphrase,
        } => {
            let admin_dir = dir(admin_dir);
            let admin = unlock(&admin_dir, &passphrase)?;
            let state = issued_revocations_path(&admin_dir);
            let previous = if state.exists() {
                Some(read_revocations(&state)?)
            } else {
                None
            };
            let mut revoked = previous
                .as_ref()
                .map(|l| l.revoked.clone())
                .unwrap_or_default();
            for m in &members {
                let id: NodeId = member(m)?.node_id();
                revoked.retain(|r| *r != id);
                if !reinstate {
                    revoked.push(id);
                }
            }
            let sequence = previous.map_or(1, |l| l.sequence.saturating_add(1));
            let list = issue_revocation_list(&admin, sequence, UnixMillis(now.0), revoked)?;
            let text = to_admission_text(REVOCATION_LIST_LABEL, &encode_revocation_list(&list));
            write_new(&out, &text)?;
            // Kept only once the list is out: the next one continues it.
            let fresh = admin_dir.join("revocations.new");
            let _ = std::fs::remove_file(&fresh);
            write_new(&fresh, &text)?;
            std::fs::rename(&fresh, &state)
                .with_context(|| format!("cannot update {}", state.display()))?;
            println!(
                "wrote {}: revocation list {sequence}, {} members revoked; give it to any \
                 member's daemon with `tacnode member revocations FILE`",
                out.display(),
                list.revoked.len()
            );
        }
    }
    Ok(())
}

/// `tacnode member import FILE`: checks the file and installs it as this
/// node's member certificate (used from the next start).
pub(crate) fn import_certificate(data_dir: &Path, file: &Path) -> Result<()> {
    let cert = read_member_certificate(file)?;
    cert.verify_signature()
        .with_context(|| format!("{} does not verify", file.display()))?;
    crate::keys::create_private_dir(data_dir)?;
    let target = member_certificate_path(data_dir);
    let text = to_admission_text(MEMBER_CERTIFICATE_LABEL, &encode_member_certificate(&cert));
    let fresh = data_dir.join("member.cert.new");
    let _ = std::fs::remove_file(&fresh);
    write_new(&fresh, &text)?;
    std::fs::rename(&fresh, &target)
        .with_context(|| format!("cannot install {}", target.display()))?;
    println!(
        "installed the member certificate of {} (admin {}, {:?}); restart the daemon to use it",
        PeerAddress::new(cert.member),
        PeerAddress::new(cert.admin),
        cert.role
    );
    Ok(())
}
