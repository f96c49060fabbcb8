"""Checking, before anything starts, that the ports a command will listen on are distinct and free."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from cli.context import CliError

SANDBOX_DEFAULT_PORTS = {"salesforce": 8701, "stripe": 8702, "netsuite": 8703}
SANDBOX_PORT_OPTIONS = {"salesforce": "--salesforce-port", "stripe": "--stripe-port", "netsuite": "--netsuite-port"}
SANDBOX_PORT_ROLES = {
    "salesforce": "Salesforce emulator",
    "stripe": "Stripe emulator",
    "netsuite": "NetSuite emulator",
}


def taken(ip: str, ports: Mapping[str, int]) -> list[str]:
    """`PORT (ROLE)` for each port of `ports` (role → port) that something on `ip` already listens on."""
    found = []
    for role, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((ip, port))
            except OSError:
                found.append(f"{port} ({role})")
    return found


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
