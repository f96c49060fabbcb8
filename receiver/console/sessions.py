"""Console sessions: a signed cookie naming the user, and the CSRF token every form posts back.

The cookie holds `{user, csrf, expires}` signed with HMAC-SHA256 under the console secret; it is HttpOnly and
SameSite=Strict, so scripts cannot read it and other sites' forms do not carry it. Every POST must also carry the
session's CSRF token in its form (a synchronizer token): a request forged elsewhere has the cookie at best, never
the token. A visitor who is not signed in gets an anonymous session too, so the sign-in form is protected the same
way; signing in issues a new session with a new token (no session fixation). The user's role is not in the
cookie: it is read from the users file on every request, so a changed role applies at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

COOKIE_NAME = "q2c_console"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    user: str | None  # None: not signed in
    csrf_token: str
    expires_at: int  # seconds since the epoch

    @property
    def signed_in(self) -> bool:
        return self.user is not None


class SessionSigner:
    def __init__(self, secret: str, lifetime: timedelta) -> None:
        self._key = hashlib.sha256(b"q2c console session\0" + secret.encode()).digest()
        self._lifetime = int(lifetime.total_seconds())

    def new(self, user: str | None) -> Session:
        return Session(user=user, csrf_token=secrets.token_urlsafe(32), expires_at=int(time.time()) + self._lifetime)

    def cookie_value(self, session: Session) -> str:
        payload = json.dumps({"u": session.user, "c": session.csrf_token, "e": session.expires_at}).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._signature(body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie this console signed and that has not expired; None for anything else."""
        if not cookie or "." not in cookie:
            return None
        body, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._signature(body)):
            return None
        try:
            fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(user=fields["u"], csrf_token=str(fields["c"]), expires_at=int(fields["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at > time.time() else None

    @property
    def lifetime_seconds(self) -> int:
        return self._lifetime

    def _signature(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token_matches(session: Session, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(submitted.encode(), session.csrf_token.encode())
