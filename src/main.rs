fn main() -> std::process::ExitCode {
    tapak::cli::main()
}
