fn main() -> std::process::ExitCode {
    dialback::cli::run()
}
