"""Who may sign in to the finance console, with which role, and how their passwords are checked.

The users file is TOML, one table per user, passwords stored as scrypt hashes only:

    [users."fiona.finance"]
    role = "approver"
    password_hash = "scrypt:16384:8:1:<salt>:<hash>"

`q2c console-user NAME --role ROLE` adds or changes one. The file is read again whenever it changes, so adding
someone or taking their access away needs no restart. The user name is the identity the sagas see: an approver's
name must be the one the saga policy lists under `[approval.people]`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# scrypt's cost: 16 MiB of memory and some 50 ms per check, the interactive-login figures of its paper.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything, changes nothing
    APPROVER = "approver"  # approves or rejects deals and amendments
    OPERATIONS = "operations"  # resolves, retries or dismisses exception cases


class ConsoleUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=USER_NAME_PATTERN)
    role: Role
    password_hash: str = Field(min_length=1, repr=False)

    def may(self, role: Role) -> bool:
        """Viewing is everyone's; approving and operating exceptions are separate duties."""
        return role is Role.VIEWER or self.role is role


class UsersFileError(ValueError):
    """The users file cannot be read; the message names the file and the user or field."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{_b64(salt)}:{_b64(digest)}"


def password_matches(password: str, password_hash: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = password_hash.split(":")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@functools.cache
def _nobody_hash() -> str:
    """Checked when the user name is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Directory:
    """The users of one version of the users file."""

    users: dict[str, ConsoleUser]

    def user(self, name: str) -> ConsoleUser | None:
        return self.users.get(name)

    def signed_in(self, name: str, password: str) -> ConsoleUser | None:
        """The user if the password is theirs; None for a wrong password or an unknown name (indistinguishably)."""
        user = self.users.get(name)
        matches = password_matches(password, user.password_hash if user else _nobody_hash())
        return user if user is not None and matches else None


class UsersFile:
    """The users file, read again when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._directory = Directory({})

    def directory(self) -> Directory:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise UsersFileError(
                f"console users file {self.path} does not exist; add users with `q2c console-user`"
            ) from None
        version = (stat.st_mtime_ns, stat.st_size)
        if version != self._seen:
            self._directory = read_users(self.path)
            self._seen = version
        return self._directory


def read_users(path: Path) -> Directory:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsersFileError(f"console users file {path}: {error}") from None
    tables = document.get("users", {})
    if not isinstance(tables, dict):
        raise UsersFileError(f"console users file {path}: `users` must be a table of users")
    users = {}
    for name, fields in tables.items():
        try:
            users[name] = ConsoleUser.model_validate({"name": name, **fields})
        except (ValidationError, TypeError) as error:
            raise UsersFileError(f"console users file {path}, user {name!r}: {_first_problem(error)}") from None
    return Directory(users)


def write_user(path: Path, name: str, role: Role, password: str) -> ConsoleUser:
    """Add `name` to the users file, or change their role and password; creates the file if needed."""
    user = ConsoleUser(name=name, role=role, password_hash=hash_password(password))
    users = read_users(path).users if path.exists() else {}
    users[name] = user
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(users_toml(users.values()), encoding="utf-8")
    return user


def users_toml(users: Iterable[ConsoleUser]) -> str:
    lines = ["# q2c finance console users: `q2c console-user NAME --role viewer|approver|operations` edits this.", ""]
    for user in sorted(users, key=lambda u: u.name):
        lines += [f'[users."{user.name}"]', f'role = "{user.role.value}"']
        lines += [f'password_hash = "{user.password_hash}"', ""]
    return "\n".join(lines)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAX_MEMORY, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _first_problem(error: ValidationError | TypeError) -> str:
    if isinstance(error, TypeError):
        return "must be a table with `role` and `password_hash`"
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}"
