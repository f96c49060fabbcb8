"""The payload codec: AES-256-GCM round trip, tampering and wrong keys refused, a saga on a real dev server whose
history holds only ciphertext, and the codec endpoint the Temporal UI calls, with and without its token."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from receiver.codec_endpoint import mount_codec_endpoint
from sandbox.servers import serve_apps
from workers.closed_won_worker import build_worker
from workers.dev_server import free_port
from workers.payload_codec import ENCODING, EncryptionCodec, PayloadDecryptionError, codec_from_env
from workers.temporal_settings import SettingsError, TemporalSettings, connect_temporal
from workflows.closed_won_client import start_closed_won

KEY = os.urandom(32)
KEY_B64 = base64.b64encode(KEY).decode()
CUSTOMER = b"Northwind"  # the reference deal's account name
TOKEN = "codec-token-for-tests"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_payloads_round_trip_and_say_only_encrypted_and_key_id() -> None:
    codec = EncryptionCodec("k1", KEY)
    original = plain("Northwind Analytics")

    [sealed] = await codec.encode([original])
    [opened] = await codec.decode([sealed])

    assert dict(sealed.metadata) == {"encoding": ENCODING, "encryption-key-id": b"k1"}
    assert CUSTOMER not in sealed.SerializeToString()
    assert opened == original


async def test_altered_ciphertext_is_refused() -> None:
    codec = EncryptionCodec("k1", KEY)
    [sealed] = await codec.encode([plain("Northwind Analytics")])
    altered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))

    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([altered])


async def test_a_wrong_key_or_an_unknown_key_id_is_refused_and_a_previous_key_still_reads() -> None:
    [sealed] = await EncryptionCodec("k1", KEY).encode([plain("x")])

    with pytest.raises(PayloadDecryptionError, match="altered, or a different key"):
        await EncryptionCodec("k1", os.urandom(32)).decode([sealed])
    with pytest.raises(PayloadDecryptionError, match="key 'k1', which this process does not have"):
        await EncryptionCodec("k2", os.urandom(32)).decode([sealed])
    rotated = EncryptionCodec("k2", os.urandom(32), previous_keys={"k1": KEY})
    assert await rotated.decode([sealed]) == [plain("x")]


async def test_payloads_from_before_the_codec_decode_as_they_are() -> None:
    assert await EncryptionCodec("k1", KEY).decode([plain("old")]) == [plain("old")]


def test_key_settings_are_checked_and_named() -> None:
    assert codec_from_env({}) is None
    with pytest.raises(SettingsError, match="Q2C_PAYLOAD_KEY_ID"):
        codec_from_env({"Q2C_PAYLOAD_KEY": KEY_B64})
    with pytest.raises(SettingsError, match="must decode to 32 bytes"):
        codec_from_env({"Q2C_PAYLOAD_KEY": base64.b64encode(b"short").decode(), "Q2C_PAYLOAD_KEY_ID": "k"})
    with pytest.raises(SettingsError, match="not base64"):
        codec_from_env({"Q2C_PAYLOAD_KEY": "not base64!", "Q2C_PAYLOAD_KEY_ID": "k"})
    with pytest.raises(SettingsError, match="Q2C_PAYLOAD_PREVIOUS_KEYS"):
        codec_from_env({"Q2C_PAYLOAD_KEY": KEY_B64, "Q2C_PAYLOAD_KEY_ID": "k", "Q2C_PAYLOAD_PREVIOUS_KEYS": "x"})


@pytest.fixture
async def encrypting_client(temporal_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("Q2C_PAYLOAD_KEY", KEY_B64)
    monkeypatch.setenv("Q2C_PAYLOAD_KEY_ID", "test-key")
    address = temporal_env.client.service_client.config.target_host
    return await connect_temporal(TemporalSettings(address=address, namespace=temporal_env.client.namespace))


async def test_a_saga_run_with_the_codec_leaves_only_ciphertext_on_the_server(
    encrypting_client: Client,
    temporal_env: WorkflowEnvironment,
    systems: InMemorySystems,
    mapping_rules: MappingRules,
    fast_policy: SagaPolicy,
) -> None:
    task_queue = f"codec-{uuid.uuid4()}"  # only the encrypting worker polls it
    opportunity = reference_deal().opportunity.opportunity_id
    async with build_worker(encrypting_client, task_queue, systems.ports(), mapping_rules):
        started = await start_closed_won(encrypting_client, opportunity, fast_policy, task_queue)
        result = await started.handle.result()

    assert result.references.subscription_id is not None  # the codec's client reads its own payloads
    history = await temporal_env.client.get_workflow_handle(started.handle.id).fetch_history()  # no codec
    payloads = [p for event in history.events for p in payloads_in(event)]
    assert len(payloads) > 10 and {p.metadata["encoding"] for p in payloads} == {ENCODING}
    assert all(CUSTOMER not in event.SerializeToString() for event in history.events)


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every data payload inside a history event: inputs, results, memos; not search attributes (indexed by the
    server, plaintext by design), user metadata (the UI's summaries) nor headers (trace context only)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None or field.name in ("search_attributes", "user_metadata", "header"):
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


@pytest.fixture
async def codec_endpoint(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    environ = {"Q2C_PAYLOAD_KEY": KEY_B64, "Q2C_PAYLOAD_KEY_ID": "k1", "Q2C_CODEC_AUTH_TOKEN": TOKEN}
    app = FastAPI()
    assert mount_codec_endpoint(app, environ)
    async with serve_apps({"codec": (app, free_port())}) as urls, httpx.AsyncClient(base_url=urls["codec"]) as http:
        yield http


async def test_the_codec_endpoint_decodes_for_the_token_holder_only(codec_endpoint: httpx.AsyncClient) -> None:
    [sealed] = await EncryptionCodec("k1", KEY).encode([plain("Northwind Analytics")])
    body = {"payloads": [json_format.MessageToDict(sealed)]}
    bearer = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}

    decoded = await codec_endpoint.post("/codec/decode", json=body, headers=bearer)
    anonymous = await codec_endpoint.post("/codec/decode", json=body)
    wrong = await codec_endpoint.post("/codec/decode", json=body, headers={"Authorization": "Bearer nope"})

    assert decoded.status_code == 200
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'"Northwind Analytics"'
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert "Northwind" not in anonymous.text + wrong.text


async def test_the_codec_endpoint_encodes_and_answers_the_ui_preflight(codec_endpoint: httpx.AsyncClient) -> None:
    body = {"payloads": [json_format.MessageToDict(plain("x"))]}
    encoded = await codec_endpoint.post("/codec/encode", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    preflight = await codec_endpoint.options(
        "/codec/decode",
        headers={
            "Origin": "http://127.0.0.1:8233",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )

    [payload] = encoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"


def test_without_a_token_the_codec_endpoint_is_not_served() -> None:
    app = FastAPI()
    assert not mount_codec_endpoint(app, {"Q2C_PAYLOAD_KEY": KEY_B64, "Q2C_PAYLOAD_KEY_ID": "k1"})
    assert not mount_codec_endpoint(app, {"Q2C_CODEC_AUTH_TOKEN": TOKEN})  # nothing to decode with
