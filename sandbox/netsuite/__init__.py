"""NetSuite emulator: REST record service, SuiteQL, OAuth 2.0 M2M and TBA, a double-entry ledger behind them.

`close_period` / `reopen_period` close and reopen an accounting period through the emulator's admin surface
(NetSuite itself does that in its UI, with the Period Close Checklist).
"""

from sandbox.netsuite.app import create_app
from sandbox.netsuite.period_close import PeriodState, close_period, reopen_period
from sandbox.netsuite.seed import SeededIds, seed_netsuite
from sandbox.netsuite.settings import M2MClient, NetSuiteEmulatorSettings, TbaCredential

__all__ = [
    "M2MClient",
    "NetSuiteEmulatorSettings",
    "PeriodState",
    "SeededIds",
    "TbaCredential",
    "close_period",
    "create_app",
    "reopen_period",
    "seed_netsuite",
]
