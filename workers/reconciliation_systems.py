"""The vendor adapters in their reconciliation roles: Stripe's lists, NetSuite's SuiteQL, the built-in revenue
engine's balances, and the reconciliation tables in the operational store's database."""

from __future__ import annotations

from adapters.netsuite.ar_postings import NetSuiteArPostings
from adapters.netsuite.erp import NetSuiteErp
from adapters.reconciliation_ports import ReconciliationPorts
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.store.reconciliation import ReconciliationStore
from adapters.store.store import OperationalStore
from adapters.stripe.billing import StripeBilling
from adapters.stripe.invoice_listing import StripeInvoiceListing
from canonical.mapping_rules import MappingRules


def reconciliation_ports(
    billing: StripeBilling,
    erp: NetSuiteErp,
    revenue: BuiltInRevenueEngine,
    store: OperationalStore,
    rules: MappingRules,
) -> ReconciliationPorts:
    """The GL balances are compared in the first legal entity's first currency (the books' one, today)."""
    entities = {entity.erp_subsidiary: entity.code for entity in rules.legal_entities}
    return ReconciliationPorts(
        billing=StripeInvoiceListing(billing.client),
        erp=NetSuiteArPostings(erp, entities),
        revenue=revenue,
        store=ReconciliationStore(store),
        ledger_currency=rules.legal_entities[0].currencies[0],
    )
