//! Command-line definitions.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// tacnode: a serverless, end-to-end encrypted peer-to-peer messaging node.
#[derive(Parser, Debug)]
#[command(name = "tacnode", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Data directory (keystore, database, control socket).
    /// Default: $XDG_DATA_HOME/tacnode or ~/.local/share/tacnode.
    #[arg(long, global = true, env = "TACNODE_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// Configuration file (TOML). Default: <data-dir>/tacnode.toml if present.
    #[arg(long, global = true, env = "TACNODE_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// More daemon log (`run`): -v debug, -vv trace (over log.level;
    /// RUST_LOG still wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,

    /// Less daemon log (`run`): -q warnings and errors, -qq errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) quiet: u8,

    /// Print what the daemon answered as JSON (one object, or one object
    /// per line for `inbox` and `peers --watch`), with the control
    /// protocol's field names, instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the passphrase comes from: `--passphrase-file`, else the
/// `TACNODE_PASSPHRASE` variable, else an interactive prompt.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct PassphraseArgs {
    /// Read the keystore passphrase from this file (first line).
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormatArg {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeTypeArg {
    Server,
    Client,
}

/// `tacnode admin …`: a closed network's admin, on the admin's machine.
#[derive(Subcommand, Debug)]
pub(crate) enum AdminAction {
    /// Create the network's admin key (a passphrase-protected keystore) and
    /// print the `[admission]` lines for the members' config.
    Init {
        /// Where the admin key lives (default: <data-dir>/admin).
        #[arg(long)]
        admin_dir: Option<PathBuf>,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Issue a member certificate for a node's key_… address.
    Issue {
        /// The member's key_… address (`tacnode id` on its machine).
        member: String,
        /// What the member may run as.
        #[arg(long, value_enum, default_value = "server")]
        role: NodeTypeArg,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// A name shown to operators.
        #[arg(long)]
        name: Option<String>,
        /// The certificate file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Where the admin key lives (default: <data-dir>/admin).
        #[arg(long)]
        admin_dir: Option<PathBuf>,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Revoke members (or reinstate them): writes the admin's next signed
    /// revocation list, which replaces the previous one.
    Revoke {
        /// key_… addresses of the members.
        #[arg(required = true)]
        members: Vec<String>,
        /// Take them off the list instead.
        #[arg(long)]
        reinstate: bool,
        /// The revocation file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Where the admin key lives (default: <data-dir>/admin).
        #[arg(long)]
        admin_dir: Option<PathBuf>,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
}

/// `tacnode member …`: this node in a closed network.
#[derive(Subcommand, Debug)]
pub(crate) enum MemberAction {
    /// Install this node's member certificate (used from the next start).
    Import {
        /// The file `tacnode admin issue` wrote.
        file: PathBuf,
    },
    /// Give the running daemon an admin's revocation list: applied at once
    /// and published, so every member enforces it within its revocation
    /// fetch interval.
    Revocations {
        /// The file `tacnode admin revoke` wrote.
        file: PathBuf,
    },
}

/// `tacnode outbox …`.
#[derive(Subcommand, Debug)]
pub(crate) enum OutboxAction {
    /// Cancel a waiting message (its id, or enough of it to be unique).
    Cancel {
        /// Message id or prefix.
        id: String,
    },
    /// Try now instead of at the next retry: the recipient of ID, or all.
    Retry {
        /// Message id or prefix (all waiting messages without it).
        id: Option<String>,
    },
}

/// `tacnode files …`.
#[derive(Subcommand, Debug)]
pub(crate) enum FilesAction {
    /// Cancel a file transfer (its id, or enough of it to be unique): ours
    /// is served no more, theirs is fetched no more and its partial file
    /// goes.
    Cancel {
        /// Transfer id or prefix.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Create the encrypted identity in the data directory.
    Init {
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Run the daemon.
    Run {
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// UDP address to listen on (overrides node.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Server or client (overrides node.node_type).
        #[arg(long, value_enum)]
        node_type: Option<NodeTypeArg>,
        /// Extra pre-shared peer, key_…@ip:port (repeatable; added to bootstrap.peers).
        #[arg(long = "bootstrap")]
        bootstrap: Vec<String>,
        /// Log format (overrides log.format).
        #[arg(long, value_enum)]
        log_format: Option<LogFormatArg>,
        /// Start with an empty database although this data dir had one
        /// (its contacts, sessions and history are then gone).
        #[arg(long)]
        new_database: bool,
    },
    /// Show this node's address (and its QR code).
    Id {
        /// Also print the address as a QR code.
        #[arg(long)]
        qr: bool,
    },
    /// Manage contacts.
    Contacts {
        #[command(subcommand)]
        command: ContactsCommand,
    },
    /// Send a text message to a contact (name), an address (key_…) or a
    /// group (@NAME).
    Send {
        /// Contact name, key_… address or @GROUP.
        to: String,
        /// The text.
        #[arg(required_unless_present = "stdin")]
        text: Option<String>,
        /// Send each line of standard input as its own message, in order
        /// (empty lines are skipped; queued in groups of up to 1000, each
        /// group in one commit).
        #[arg(long, conflicts_with = "text")]
        stdin: bool,
    },
    /// Show received and sent messages.
    Inbox {
        /// Keep printing new messages as they arrive.
        #[arg(long)]
        follow: bool,
        /// Show at most this many of the latest messages (default 1000, at
        /// most 10000; `tacnode export` writes the whole history).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Chat in the terminal: conversations with unread counts, messages
    /// with local times and delivery ticks, live updates (Esc quits).
    Chat {
        /// Contact name or key_… address to show first.
        contact: Option<String>,
    },
    /// Show the peers this node knows: the routing table's contacts plus
    /// the peers connected now.
    ///
    /// Each with its contact name or key_… address, node type, whether it
    /// is connected, the round-trip time, when it was last seen (local
    /// time), the path (direct) and its endpoints.
    Peers {
        /// Redraw every second until Ctrl-C; when standard output is not a
        /// terminal, print a snapshot every second instead (with --json one
        /// object per line).
        #[arg(long)]
        watch: bool,
    },
    /// Offer a file to a contact, with a progress bar until it arrived.
    ///
    /// The daemon reads the file where it lies (give a path its user can
    /// read) and must keep it unchanged until the transfer is done. The
    /// recipient fetches it from this node directly, end-to-end encrypted,
    /// and resumes after a disconnect or a restart; an offline recipient
    /// finds the offer in its mailboxes. Ctrl-C stops watching, not the
    /// transfer (`tacnode files` follows it, `tacnode files cancel ID`
    /// stops it).
    SendFile {
        /// Contact name or key_… address.
        contact: String,
        /// The file.
        path: PathBuf,
        /// Return once the transfer is recorded instead of showing its
        /// progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show file transfers, both ways, newest first: progress, state, and
    /// where a received file was saved.
    Files {
        #[command(subcommand)]
        action: Option<FilesAction>,
        /// Progress bars for the transfers under way, until none is (or
        /// Ctrl-C).
        #[arg(long)]
        watch: bool,
    },
    /// Show the messages waiting to go, and why each waits.
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// Show the daemon's status.
    Status,
    /// Announce to every node of the network: an alert (TEXT), or with
    /// --service a service others list with `tacnode services`. At most 6
    /// announcements an hour.
    Announce {
        /// The alert (1 to 280 bytes).
        #[arg(required_unless_present = "service")]
        text: Option<String>,
        /// Advertise a service by this name instead ("medic", "map tiles").
        #[arg(long, conflicts_with = "text")]
        service: Option<String>,
        /// What to know about the service.
        #[arg(long, default_value = "", requires = "service")]
        detail: String,
        /// How long the service is listed, hours (at most 24).
        #[arg(long, default_value_t = 24, requires = "service")]
        hours: u64,
    },
    /// List the services advertised to the network.
    Services,
    /// Team channels: end-to-end encrypted groups (`send @NAME TEXT`
    /// writes to one).
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Administer a closed network (admin key, member certificates,
    /// revocations).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// This node's membership of a closed network.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Write the message history as JSON Lines.
    Export {
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Output file (`-` for standard output).
        file: PathBuf,
    },
    /// Restore a JSON Lines history idempotently.
    Import {
        #[command(flatten)]
        passphrase: PassphraseArgs,
        /// Input file.
        file: PathBuf,
    },
    /// Start a local network of nodes and show messages flowing, also to an
    /// offline node through mailboxes.
    Demo {
        /// Number of nodes.
        #[arg(long, default_value_t = 10)]
        nodes: usize,
    },
    /// Print a shell completion script (the Debian package installs them;
    /// deploy/completions holds the generated files).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; deploy/man/tacnode.1 is this output).
    Man,
}

#[derive(Subcommand, Debug)]
pub(crate) enum GroupAction {
    /// Create a group with this node as its admin.
    Create {
        /// The group's name.
        name: String,
    },
    /// Add a contact to a group (admins only); it joins as soon as it has
    /// this node as a contact (invitations come from contacts only).
    Add {
        /// Group name.
        group: String,
        /// Contact name or key_… address.
        contact: String,
    },
    /// Remove a member (admins only); it reads nothing sent afterwards.
    Remove {
        /// Group name.
        group: String,
        /// Contact name or key_… address.
        contact: String,
    },
    /// List the groups this node is in.
    List,
    /// Show a group's members.
    Members {
        /// Group name.
        group: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ContactsCommand {
    /// Add a contact.
    Add {
        /// Local name.
        name: String,
        /// Its key_… address.
        address: String,
    },
    /// List contacts.
    List,
    /// Forget a contact: its name, its session and the device key pinned
    /// for it. Messages already exchanged stay in the history.
    Remove {
        /// Contact name or key_… address.
        name: String,
    },
    /// Show the safety number to compare out of band; --confirm marks the contact verified.
    Verify {
        /// Contact name.
        name: String,
        /// Mark verified after comparing the numbers.
        #[arg(long)]
        confirm: bool,
        /// Also print the QR code of the safety number.
        #[arg(long)]
        qr: bool,
    },
}
