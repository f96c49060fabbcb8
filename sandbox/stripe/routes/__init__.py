"""The emulator's v1 endpoints, one module per resource."""
