"""The Salesforce CRM adapter: reads closed-won deals and amendments, writes each saga's outcome back to the
opportunity, and each settled payment to the account."""

from adapters.salesforce.account_payment import AccountPaymentStatus, AccountPaymentUpdate
from adapters.salesforce.crm import SalesforceCrm
from adapters.salesforce.settings import AuthFlow, SalesforceSettings

__all__ = ["AccountPaymentStatus", "AccountPaymentUpdate", "AuthFlow", "SalesforceCrm", "SalesforceSettings"]
