//! The `beckon` binary: see `beckon --help`.

fn main() -> std::process::ExitCode {
    beckon::cli::run()
}
