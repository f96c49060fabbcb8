"""The Salesforce CRM adapter: reads closed-won deals and writes each saga's outcome back to the opportunity."""

from adapters.salesforce.crm import SalesforceCrm
from adapters.salesforce.settings import AuthFlow, SalesforceSettings

__all__ = ["AuthFlow", "SalesforceCrm", "SalesforceSettings"]
