"""What q2c tells the CRM when a payment settles an invoice (the canonical model, re-exported for the adapter)."""

from __future__ import annotations

from canonical.billing_documents import AccountPaymentStatus, AccountPaymentUpdate

__all__ = ["AccountPaymentStatus", "AccountPaymentUpdate"]
