"""The finance console: a web page on the receiver (at `/console`) for the people who are not engineers.

Approvals inbox, exception queue, reconciliation and saga search, behind a sign-in with roles (viewer, approver,
operations) and CSRF-checked forms; every action goes to the operational store's audit trail.
"""

from receiver.console.pages import create_console
from receiver.console.settings import ConsoleSettings
from receiver.console.users import ConsoleUser, Role, hash_password, write_user

__all__ = ["ConsoleSettings", "ConsoleUser", "Role", "create_console", "hash_password", "write_user"]
