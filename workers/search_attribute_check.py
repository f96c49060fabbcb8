"""Start-up check that the namespace has every search attribute q2c sagas upsert.

Without it the first `upsert_search_attributes` fails the workflow task, and the saga retries that task
forever with an error only visible in the UI; failing at worker start-up names the fix instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from workflows.search_attributes import ALL, TYPE_NAMES


class MissingSearchAttributes(RuntimeError):
    """The namespace lacks (or mistypes) search attributes q2c needs; the message says how to fix it."""


async def check_search_attributes(client: Client, namespace: str) -> None:
    """Raise `MissingSearchAttributes` unless every key in `workflows.search_attributes.ALL` is registered."""
    response = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    registered: dict[str, int] = dict(response.custom_attributes)
    wanted = {key.name: int(key.indexed_value_type) for key in ALL}
    missing = [name for name in wanted if name not in registered]
    mistyped = [name for name in wanted if name in registered and registered[name] != wanted[name]]
    if missing or mistyped:
        raise MissingSearchAttributes(_explain(namespace, wanted, registered, missing, mistyped))


def _type_name(value: int) -> str:
    return TYPE_NAMES.get(value, f"unknown type {value}")


def _explain(
    namespace: str,
    wanted: Mapping[str, int],
    registered: Mapping[str, int],
    missing: Sequence[str],
    mistyped: Sequence[str],
) -> str:
    lines = [f"namespace {namespace!r} is missing search attributes q2c needs:"]
    lines += [f"  {name} ({_type_name(wanted[name])}): missing" for name in missing]
    lines += [
        f"  {name}: registered as {_type_name(registered[name])}, q2c needs {_type_name(wanted[name])}"
        for name in mistyped
    ]
    if mistyped:
        # A search attribute's type is fixed at creation; the only way out is a new attribute.
        lines += [
            "A registered type cannot be changed: delete the mistyped ones first on a self-hosted server "
            f"(`temporal operator search-attribute delete --namespace {namespace} --name NAME`), or on "
            "Temporal Cloud rename them out of the way (`tcld namespace search-attributes rename`).",
        ]
    to_create = [*missing, *mistyped]
    lines += ["Dev server or self-hosted Temporal:"]
    lines += [
        f"  temporal operator search-attribute create --namespace {namespace} "
        f"--name {name} --type {_type_name(wanted[name])}"
        for name in to_create
    ]
    cloud_flags = " ".join(f"--search-attribute {name}={_type_name(wanted[name])}" for name in to_create)
    lines += [
        "Temporal Cloud (namespace as NAMESPACE.ACCOUNT_ID):",
        f"  tcld namespace search-attributes add --namespace {namespace} {cloud_flags}",
        "(A dev server started through workers.dev_server registers them itself.)",
    ]
    return "\n".join(lines)
