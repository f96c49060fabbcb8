"""NetSuite adapter: the ERP port over REST web services and SuiteQL (OAuth 2.0 M2M or token-based auth)."""

from adapters.netsuite.erp import NetSuiteErp
from adapters.netsuite.errors import NetSuiteRecordError
from adapters.netsuite.settings import NetSuiteAuthMode, NetSuiteSettings

__all__ = ["NetSuiteAuthMode", "NetSuiteErp", "NetSuiteRecordError", "NetSuiteSettings"]
