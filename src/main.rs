use std::process::ExitCode;

// glibc's malloc showed as ~12 % of server CPU under scoring load; mimalloc is made for this.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    switchboard::cli::main()
}
