//! Closed-network administration: an admin issues member certificates and
//! signed revocation lists as text files (a label, a space, the protobuf
//! encoding in hex), and a member installs its certificate in its data
//! directory, where the node reads it at start.
//!
//! Every file is read bounded by
//! [`tacnode_messaging::MAX_ADMISSION_FILE_BYTES`] and written new, readable
//! by its owner only; a file that replaces another (the admin's revocation
//! state, an installed certificate) is written beside it and renamed over
//! it. The caller unlocks the admin's key and passes the time: this crate
//! reads no clock and prompts for nothing.

mod admission_file;
mod error;
mod member;
mod member_certificate;
mod revocation_list;

pub use error::AdminError;
pub use member::member_address;
pub use member_certificate::{
    MEMBER_CERTIFICATE_FILE, install_member_certificate, issue_member_certificate_file,
    member_certificate_path, read_member_certificate,
};
pub use revocation_list::{
    ISSUED_REVOCATIONS_FILE, issued_revocations_path, read_revocation_list, revoke_members,
};
