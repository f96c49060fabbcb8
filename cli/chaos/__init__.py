"""`q2c chaos`: the fault campaign. Hundreds of sagas run over the real stack (dev server on SQLite, the vendor
emulators, the receiver, a worker in its own process) while the campaign kills the worker, injects vendor faults,
kills the Temporal server, or feeds in fuzzed deals and webhooks; then it counts what each system holds."""
