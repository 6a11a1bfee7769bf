//! The `lamina` command: a thin layer over the library.

mod cli;

/// mimalloc for every allocation, Clipper2's included (it replaces `malloc` too):
/// the boolean operations allocate per vertex, and glibc's allocator cost a fifth of
/// a large slice's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
