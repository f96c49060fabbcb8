"""Checking, before anything starts, that the ports a command will listen on are distinct and free."""

from __future__ import annotations

from collections.abc import Mapping

from cli.context import CliError
from sandbox.ports import DEFAULT_PORTS
from workers.dev_server import port_is_taken

SANDBOX_DEFAULT_PORTS = DEFAULT_PORTS
SANDBOX_PORT_OPTIONS = {"salesforce": "--salesforce-port", "stripe": "--stripe-port", "netsuite": "--netsuite-port"}
SANDBOX_PORT_ROLES = {
    "salesforce": "Salesforce emulator",
    "stripe": "Stripe emulator",
    "netsuite": "NetSuite emulator",
}


def taken(ip: str, ports: Mapping[str, int]) -> list[str]:
    """`PORT (ROLE)` for each port of `ports` (role → port) that something on `ip` already listens on."""
    return [f"{port} ({role})" for role, port in ports.items() if port_is_taken(ip, port)]


def require_distinct(options: Mapping[str, int], hint: str) -> None:
    """CliError when two options (option → port) name the same port."""
    seen: dict[int, str] = {}
    for option, port in options.items():
        if port in seen:
            raise CliError(f"{seen[port]} and {option} are both {port}; {hint}")
        seen[port] = option


def require_free(ip: str, ports: Mapping[str, int], hint: str) -> None:
    """CliError naming the ports (role → port) that are in use."""
    busy = taken(ip, ports)
    if busy:
        raise CliError(
            f"port {' and '.join(busy)} on {ip} is already in use (a `q2c sandbox`, `q2c dev` or `q2c demo` "
            f"still running?); stop it or {hint}"
        )
