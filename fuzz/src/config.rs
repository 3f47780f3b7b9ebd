//! `tacnode::config::Config::parse` on arbitrary UTF-8 text.

use tacnode::config::Config;

/// Parses the text; a parsed configuration must parse the same way again
/// and have every bootstrap peer readable (validation parsed them all).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Config::parse(text, "fuzz");
    if let Ok(config) = &parsed {
        assert_eq!(
            config.bootstrap_peers().len(),
            config.bootstrap.peers.len(),
            "an accepted configuration has an unreadable bootstrap peer"
        );
        assert_eq!(
            Config::parse(text, "fuzz").ok().as_ref(),
            Some(config),
            "parsing is not deterministic"
        );
    }
}
