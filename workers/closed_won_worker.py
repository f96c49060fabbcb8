"""A worker for the closed-won saga: its workflow and the activities bound to one set of systems."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.closed_won import (
    BillingActivities,
    ContractMappingActivities,
    CrmActivities,
    ErpActivities,
    RevenueActivities,
)
from adapters.ports import SystemPorts
from canonical.mapping_rules import MappingRules
from workflows.closed_won import ClosedWonToSubscription

WORKFLOWS: Sequence[type] = (ClosedWonToSubscription,)


def closed_won_activities(systems: SystemPorts, rules: MappingRules) -> list[Callable[..., Any]]:
    crm, mapping = CrmActivities(systems.crm), ContractMappingActivities(rules)
    erp, billing, revenue = (
        ErpActivities(systems.erp),
        BillingActivities(systems.billing),
        RevenueActivities(systems.revenue),
    )
    return [
        crm.read_closed_won_deal,
        crm.write_saga_outcome_to_crm,
        mapping.map_deal_to_contract,
        erp.match_or_create_erp_customer,
        erp.deactivate_erp_customer_created_by,
        billing.match_or_create_billing_customer,
        billing.deactivate_billing_customer_created_by,
        billing.create_subscription,
        billing.cancel_subscription_created_by,
        revenue.register_revenue_contract,
        revenue.withdraw_revenue_contract_registered_by,
    ]


def build_worker(client: Client, task_queue: str, systems: SystemPorts, rules: MappingRules) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=closed_won_activities(systems, rules),
    )
