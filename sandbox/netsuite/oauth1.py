"""RFC 5849 (OAuth 1.0a) signature verification, as NetSuite token-based authentication uses it.

NetSuite specifics: `realm` is the account ID (it is not signed), the method is HMAC-SHA256, and the key is
`consumer_secret&token_secret`. This module is the emulator's own implementation, written from the RFC and
independent of the adapter's signer, so that each checks the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_]+)\s*=\s*"([^"]*)"\s*(?:,|$)')
_HASHES = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}


def encode(value: str) -> str:
    """RFC 5849 §3.6: percent-encode everything but ALPHA, DIGIT, '-', '.', '_', '~' (UTF-8 first)."""
    return quote(value, safe="-._~")


def parse_authorization(header: str) -> dict[str, str]:
    """The parameters of an `Authorization: OAuth ...` header, percent-decoded (RFC 5849 §3.5.1)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise ValueError("not an OAuth authorization header")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _HEADER_PARAM.match(rest, position)
        if match is None:
            raise ValueError(f"malformed OAuth header near {rest[position : position + 20]!r}")
        name, value = match.group(1), unquote(match.group(2))
        if name in params:
            raise ValueError(f"OAuth parameter {name} appears twice")
        params[name] = value
        position = match.end()
    return params


def base_string_uri(scheme: str, host: str, port: int | None, path: str) -> str:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, the port only when it is not the scheme's default."""
    scheme, host = scheme.lower(), host.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    authority = host if port is None or port == default else f"{host}:{port}"
    return f"{scheme}://{authority}{path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode names and values, sort by name then value, join with '=' and '&'."""
    encoded = sorted((encode(name), encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, uri: str, params: Iterable[tuple[str, str]]) -> str:
    """`params`: query and form-body parameters plus the oauth_* protocol parameters, minus oauth_signature."""
    return "&".join((method.upper(), encode(uri), encode(normalized_parameters(params))))


def signature(method_name: str, base_string: str, consumer_secret: str, token_secret: str) -> str:
    digest = _HASHES.get(method_name)
    if digest is None:
        raise ValueError(f"unsupported oauth_signature_method {method_name}")
    key = f"{encode(consumer_secret)}&{encode(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), digest).digest()).decode()


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
