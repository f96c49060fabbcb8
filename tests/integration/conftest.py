"""Fixtures of the end-to-end tests over HTTP (the closed-won module keeps its own, older ones)."""

from tests.integration.invoicing_stack import stack, temporal_server

__all__ = ["stack", "temporal_server"]
