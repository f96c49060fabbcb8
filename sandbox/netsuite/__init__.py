"""NetSuite emulator: REST record service, SuiteQL, OAuth 2.0 M2M and TBA, a double-entry ledger behind them."""

from sandbox.netsuite.app import create_app
from sandbox.netsuite.seed import SeededIds, seed_netsuite
from sandbox.netsuite.settings import M2MClient, NetSuiteEmulatorSettings, TbaCredential

__all__ = ["M2MClient", "NetSuiteEmulatorSettings", "SeededIds", "TbaCredential", "create_app", "seed_netsuite"]
