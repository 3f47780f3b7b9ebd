//! `tacnode admin …` and `tacnode member import`: the admin's key unlocked
//! (a keystore of its own), then the step done by `tacnode_admin`, then what
//! was done, printed.

use std::path::{Path, PathBuf};

use anyhow::Result;
use tacnode_crypto::keystore::KdfParams;
use tacnode_domain::{NodeType, PeerAddress};

use crate::cli::{AdminAction, NodeTypeArg, PassphraseArgs};

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
            member,
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
            let name = name.as_deref().unwrap_or("");
            tacnode_admin::issue_member_certificate_file(
                &admin, &member, role, days, name, now, &out,
            )?;
            println!(
                "wrote {}: {member} may run as a {role:?} for {days} days",
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
            let list =
                tacnode_admin::revoke_members(&admin, &admin_dir, &members, reinstate, now, &out)?;
            println!(
                "wrote {}: revocation list {}, {} members revoked; give it to any \
                 member's daemon with `tacnode member revocations FILE`",
                out.display(),
                list.sequence,
                list.revoked.len()
            );
        }
    }
    Ok(())
}

/// `tacnode member import FILE`: checks the file and installs it as this
/// node's member certificate (used from the next start).
pub(crate) fn import_certificate(data_dir: &Path, file: &Path) -> Result<()> {
    let cert = tacnode_admin::install_member_certificate(data_dir, file)?;
    println!(
        "installed the member certificate of {} (admin {}, {:?}); restart the daemon to use it",
        PeerAddress::new(cert.member),
        PeerAddress::new(cert.admin),
        cert.role
    );
    Ok(())
}
