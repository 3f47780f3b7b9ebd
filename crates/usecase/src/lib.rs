//! Use cases of tacnode (to come): bootstrap, send, receive and
//! store-and-forward through mailboxes, orchestrated through ports.
