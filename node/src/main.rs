//! The `cairn` binary.

fn main() -> anyhow::Result<()> {
    cairn_node::cli::run()
}
