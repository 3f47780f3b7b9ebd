//! The tacnode binary: see the library crate for everything it does.

fn main() -> std::process::ExitCode {
    tacnode::main_entry()
}
