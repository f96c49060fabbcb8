"""An emulated Salesforce org: OAuth 2.0, sObject REST, SOQL, and the closed-won Outbound Message."""

from sandbox.salesforce.app import create_app
from sandbox.salesforce.settings import SalesforceEmulatorSettings

__all__ = ["SalesforceEmulatorSettings", "create_app"]
