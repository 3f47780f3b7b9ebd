//! The tacnode binary (to come): configuration, dependency injection, CLI and daemon.

fn main() {
    println!("tacnode: the node daemon and CLI are being built; see README.md");
}
