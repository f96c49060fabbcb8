"""The `q2c` command line (see `cli.main`)."""
