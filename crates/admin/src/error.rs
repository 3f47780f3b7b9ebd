//! Why an administration step failed, naming the file or the member.

use std::path::PathBuf;

use tacnode_domain::{AddressError, AdmissionError};
use tacnode_messaging::DecodeError;

/// Why an administration step failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a regular file, or too large to be an admission file.
    #[error("{} is not a certificate or revocation file", .0.display())]
    NotAdmissionFile(PathBuf),
    /// The node of a closed network has no member certificate.
    #[error(
        "this is a closed network and {} holds no member certificate: ask an admin \
         for one (tacnode admin issue) and install it with `tacnode member import FILE`",
        .0.display()
    )]
    NoMemberCertificate(PathBuf),
    /// The text is not an admission file of the expected kind.
    #[error(transparent)]
    Text(DecodeError),
    /// The file's content is not a member certificate.
    #[error("{} is not a member certificate", path.display())]
    NotMemberCertificate {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DecodeError,
    },
    /// The file's content is not a revocation list.
    #[error("{} is not a revocation list", path.display())]
    NotRevocationList {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DecodeError,
    },
    /// A member certificate's signature does not verify.
    #[error("{} does not verify", path.display())]
    DoesNotVerify {
        /// The file.
        path: PathBuf,
        /// Why.
        source: AdmissionError,
    },
    /// A member is not named by a valid `key_…` address.
    #[error("member {address:?}")]
    Member {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        source: AddressError,
    },
    /// The certificate or list cannot be issued (too long a name, too many
    /// members revoked).
    #[error(transparent)]
    Issue(#[from] AdmissionError),
    /// A file to write exists already, or cannot be created.
    #[error("cannot create {} (it must not exist yet)", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The admin's revocation state could not be replaced by the new list
    /// (the list itself was written).
    #[error("cannot update {}", .0.display())]
    Update(PathBuf, #[source] std::io::Error),
    /// The member certificate could not be put in place.
    #[error("cannot install {}", .0.display())]
    Install(PathBuf, #[source] std::io::Error),
}
