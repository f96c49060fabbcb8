"""Where the emulators listen by default (a module of its own, so the CLI can know it without loading them)."""

DEFAULT_PORTS = {"salesforce": 8701, "stripe": 8702, "netsuite": 8703}
