"""The `balloon-harness` subcommands, one module each, registered by `harness.cli`."""
