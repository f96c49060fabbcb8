"""Stripe Billing behind the BillingPort and the BillingDocumentsPort: `StripeBilling(StripeSettings.from_env())`."""

from adapters.stripe.billing import StripeBilling
from adapters.stripe.settings import StripeSettings

__all__ = ["StripeBilling", "StripeSettings"]
