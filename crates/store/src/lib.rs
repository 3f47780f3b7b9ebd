//! SQLite repositories for tacnode (to come): contacts, encrypted ratchet
//! sessions, prekeys, the durable outbox, the inbox, mailbox holdings and a
//! routing-table snapshot, with versioned migrations.
