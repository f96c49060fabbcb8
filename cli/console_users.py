"""`q2c console-user NAME --role ROLE`: add someone to the finance console's users file, or change their role and
password. The password is read from the terminal (twice) or, with --password-stdin, from standard input; only its
scrypt hash is written."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from cli import output
from cli.context import CliError
from receiver.console import Role, write_user
from receiver.console.users import UsersFileError

MIN_PASSWORD_LENGTH = 12


async def console_user(args: argparse.Namespace) -> int:
    password = _password(args.password_stdin)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    path = Path(args.users_file)
    try:
        user = write_user(path, args.name, Role(args.role), password)
    except (UsersFileError, ValueError) as error:
        raise CliError(str(error)) from None
    output.say(f"{user.name} may sign in to the finance console as {user.role.value} ({path})")
    output.say("A running receiver reads the file again on its next request; no restart is needed.")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("the two passwords differ; nothing was written")
    return first
