"""The wire format checked against sources no one here wrote: RFC 5849's worked examples for OAuth 1.0a, and
pyjwt verifying the M2M client assertion exactly as NetSuite documents it (and signing one the emulator accepts).

oauthlib is not installed in this project's environment (simple-salesforce does not depend on it), so the
RFC's own examples are the independent check for TBA signing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest

from adapters.netsuite import oauth1 as adapter_oauth1
from adapters.netsuite.auth import client_assertion
from sandbox.netsuite import oauth1 as emulator_oauth1
from tests.sandbox.netsuite.conftest import ACCOUNT, TBA, Emulator

# RFC 5849 §3.4.1.1: the request, and the signature base string the RFC gives for it.
RFC_REQUEST_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC_BODY_PARAMS = [("c2", ""), ("a3", "2 q")]
RFC_OAUTH_PARAMS = [
    ("oauth_consumer_key", "9djdj82h48djs9d2"),
    ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "137131201"),
    ("oauth_nonce", "7d8f3e4a"),
]
RFC_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
    "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
    "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
)


def test_adapter_signature_base_string_is_rfc_5849s_example() -> None:
    assert (
        adapter_oauth1.signature_base_string(
            "POST", RFC_REQUEST_URL, [("realm", "Example"), *RFC_OAUTH_PARAMS], RFC_BODY_PARAMS
        )
        == RFC_BASE_STRING
    )


def test_emulator_signature_base_string_is_rfc_5849s_example() -> None:
    query = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b")]
    uri = emulator_oauth1.base_string_uri("http", "example.com", 80, "/request")
    assert (
        emulator_oauth1.signature_base_string("POST", uri, query + RFC_BODY_PARAMS + RFC_OAUTH_PARAMS)
        == RFC_BASE_STRING
    )


def test_hmac_signature_reproduces_rfc_5849_section_1_2() -> None:
    """The RFC's photos example: GET with a query, HMAC-SHA1, known secrets → the RFC's oauth_signature."""
    params = [
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131202"),
        ("oauth_nonce", "chapoH"),
    ]
    url = "http://photos.example.net/photos?file=vacation.jpg&size=original"
    base = adapter_oauth1.signature_base_string("GET", url, params)
    assert (
        adapter_oauth1.sign(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", "HMAC-SHA1") == "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    )
    emulator_base = emulator_oauth1.signature_base_string(
        "GET", "http://photos.example.net/photos", [("file", "vacation.jpg"), ("size", "original"), *params]
    )
    assert emulator_base == base
    assert emulator_oauth1.signature("HMAC-SHA1", emulator_base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00") == (
        "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    )


def test_percent_encoding_follows_rfc_5849_section_3_6() -> None:
    for encode in (adapter_oauth1.percent_encode, emulator_oauth1.encode):
        assert encode("Ladies + Gentlemen") == "Ladies%20%2B%20Gentlemen"
        assert encode("An encoded string!") == "An%20encoded%20string%21"
        assert encode("Dogs, Cats & Mice") == "Dogs%2C%20Cats%20%26%20Mice"
        assert encode("☃") == "%E2%98%83"
        assert encode("-._~") == "-._~"


async def _get_with_header(emulator: Emulator, url: str, header: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url, headers={"Authorization": header})


async def test_tba_signatures_are_checked_timestamp_window_and_nonce_reuse(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/services/rest/record/v1/subsidiary/1?expandSubResources=false"
    signing: dict[str, Any] = {
        "realm": ACCOUNT,
        "consumer_key": TBA.consumer_key,
        "consumer_secret": TBA.consumer_secret,
        "token": TBA.token_id,
        "token_secret": TBA.token_secret,
    }
    good = adapter_oauth1.authorization_header("GET", url, nonce="n-1", **signing)
    assert (await _get_with_header(emulator, url, good)).status_code == 200
    replayed = await _get_with_header(emulator, url, good)
    assert replayed.status_code == 401
    assert replayed.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert "nonce" in replayed.headers["X-Q2C-Sandbox-Reason"]

    stale = adapter_oauth1.authorization_header("GET", url, timestamp=int(time.time()) - 3600, **signing)
    assert "timestamp" in (await _get_with_header(emulator, url, stale)).headers["X-Q2C-Sandbox-Reason"]
    wrong_secret = adapter_oauth1.authorization_header("GET", url, **(signing | {"token_secret": "nope"}))
    assert (await _get_with_header(emulator, url, wrong_secret)).headers["X-Q2C-Sandbox-Reason"] == "signature mismatch"
    other_url = adapter_oauth1.authorization_header("GET", url.replace("/1?", "/2?"), **signing)
    assert (await _get_with_header(emulator, url, other_url)).status_code == 401
    wrong_realm = adapter_oauth1.authorization_header("GET", url, **(signing | {"realm": "OTHER"}))
    assert (await _get_with_header(emulator, url, wrong_realm)).status_code == 401


@pytest.mark.parametrize("algorithm", ["PS256", "ES256"])
def test_client_assertion_verifies_with_pyjwt_as_netsuite_documents(emulator: Emulator, algorithm: str) -> None:
    settings = emulator.adapter_settings(algorithm)
    pair = emulator.keys[algorithm]
    assertion = client_assertion(settings, int(time.time()))

    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": algorithm, "kid": pair.certificate_id, "typ": "JWT"}
    claims = jwt.decode(
        assertion,
        pair.public_pem,
        algorithms=[algorithm],
        audience=f"{emulator.base_url}/services/rest/auth/oauth2/v1/token",
        issuer=pair.client_id,
        options={"require": ["iss", "scope", "aud", "exp", "iat"]},
    )
    assert claims["scope"] == ["rest_webservices"]
    assert 0 < claims["exp"] - claims["iat"] <= 3600


async def _token(emulator: Emulator, assertion: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    async with httpx.AsyncClient() as http:
        return await http.post(f"{emulator.base_url}/services/rest/auth/oauth2/v1/token", data=form)


@pytest.mark.parametrize("algorithm", ["PS256", "ES256"])
async def test_token_endpoint_accepts_an_assertion_signed_by_pyjwt(emulator: Emulator, algorithm: str) -> None:
    pair = emulator.keys[algorithm]
    now = int(time.time())
    claims = {
        "iss": pair.client_id,
        "scope": "restlets,rest_webservices",  # NetSuite's documented comma-separated form
        "aud": f"{emulator.base_url}/services/rest/auth/oauth2/v1/token",
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode(claims, pair.private_pem, algorithm=algorithm, headers={"kid": pair.certificate_id})
    response = await _token(emulator, assertion)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == "3600"
    async with httpx.AsyncClient() as http:
        record = await http.get(
            f"{emulator.base_url}/services/rest/record/v1/customer/eid:{quote('nobody')}",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    assert record.status_code == 404
    assert record.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"


async def test_token_endpoint_refuses_bad_assertions(emulator: Emulator) -> None:
    pair = emulator.keys["PS256"]
    now = int(time.time())
    audience = f"{emulator.base_url}/services/rest/auth/oauth2/v1/token"
    good = {"iss": pair.client_id, "scope": ["rest_webservices"], "aud": audience, "iat": now, "exp": now + 300}

    def signed(claims: dict[str, object], kid: str = pair.certificate_id, algorithm: str = "PS256") -> str:
        return jwt.encode(claims, pair.private_pem, algorithm=algorithm, headers={"kid": kid})

    cases = {
        "invalid_client": signed(good, kid="cert-unknown"),
        "invalid_grant": signed(good | {"exp": now + 3601}),
        "invalid_scope": signed(good | {"scope": ["restlets"]}),
    }
    for error, assertion in cases.items():
        response = await _token(emulator, assertion)
        assert response.json()["error"] == error, response.text
    assert (await _token(emulator, signed(good | {"aud": "https://elsewhere/token"}))).json()[
        "error"
    ] == "invalid_grant"
    assert (await _token(emulator, signed(good | {"iss": "someone-else"}))).json()["error"] == "invalid_client"
    rs256 = jwt.encode(good, pair.private_pem, algorithm="RS256", headers={"kid": pair.certificate_id})
    assert (await _token(emulator, rs256)).json()["error"] == "invalid_request"  # NetSuite takes PS*/ES* only
    es_key_as_ps = signed(good, kid=emulator.keys["ES256"].certificate_id)
    assert (await _token(emulator, es_key_as_ps)).status_code in (400, 401)
