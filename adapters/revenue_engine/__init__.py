"""q2c's built-in ASC 606 revenue engine behind the revenue ports (`RevenuePort`, `RevenueLedgerPort`), its
state the fold of events kept in q2c's database. See `engine.BuiltInRevenueEngine`."""

from adapters.revenue_engine.engine import DEFAULT_CALENDAR, IN_MEMORY, BuiltInRevenueEngine
from revenue.book import PeriodClose, RevenueSnapshot
from revenue.book import RegisteredContract as RegisteredRevenueContract

__all__ = [
    "DEFAULT_CALENDAR",
    "IN_MEMORY",
    "BuiltInRevenueEngine",
    "PeriodClose",
    "RegisteredRevenueContract",
    "RevenueSnapshot",
]
