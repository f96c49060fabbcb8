"""OAuth 1.0a request signing (RFC 5849 §3.4) for NetSuite token-based authentication.

NetSuite specifics: `realm` is the account ID (sent, not signed), `oauth_signature_method` is HMAC-SHA256, and
the signing key is `consumer_secret&token_secret`. HMAC-SHA1 is accepted here only so the RFC's own worked
examples can be reproduced in tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit

_DIGESTS = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte but ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX (upper-case hex)."""
    return quote(value.encode("utf-8"), safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower-cased, default port dropped, no query or fragment."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    authority = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{authority}{parts.path or '/'}"


def signature_base_string(
    method: str, url: str, oauth_params: Iterable[tuple[str, str]], body_params: Iterable[tuple[str, str]] = ()
) -> str:
    """RFC 5849 §3.4.1: METHOD & encoded base URI & encoded normalized parameters (query + body + oauth_*)."""
    params = [*parse_qsl(urlsplit(url).query, keep_blank_values=True), *body_params]
    params += [(k, v) for k, v in oauth_params if k not in ("realm", "oauth_signature")]
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), percent_encode(base_string_uri(url)), percent_encode(normalized)))


def sign(base_string: str, consumer_secret: str, token_secret: str, method: str = "HMAC-SHA256") -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode("ascii"), base_string.encode("utf-8"), _DIGESTS[method]).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(
    method: str,
    url: str,
    *,
    realm: str,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    timestamp: int | None = None,
    nonce: str | None = None,
    signature_method: str = "HMAC-SHA256",
    body_params: Iterable[tuple[str, str]] = (),
) -> str:
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_token": token,
        "oauth_signature_method": signature_method,
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_version": "1.0",
    }
    base = signature_base_string(method, url, oauth.items(), body_params)
    oauth["oauth_signature"] = sign(base, consumer_secret, token_secret, signature_method)
    fields = [f'realm="{percent_encode(realm)}"'] + [f'{k}="{percent_encode(v)}"' for k, v in oauth.items()]
    return "OAuth " + ", ".join(fields)
