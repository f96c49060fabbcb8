"""Optional encryption of saga payloads (customer, contract and invoice data) before they reach the Temporal server.

With `Q2C_PAYLOAD_KEY` (32 bytes, base64) and `Q2C_PAYLOAD_KEY_ID` set, every payload a q2c client or worker sends
is encrypted with AES-256-GCM: the server — Temporal Cloud included — stores `binary/encrypted` bytes and the key
ID in the payload's metadata. Rotation: set the new key and ID, and keep the old ones readable with
`Q2C_PAYLOAD_PREVIOUS_KEYS` (`id=base64key,id=base64key`) until no running saga holds payloads written under them.
Payloads that were never encrypted (histories from before the codec was turned on) decode as they are.

Not covered by the codec: search attributes (indexed by the server, so plaintext by design), and failure messages.
The Temporal UI shows decrypted payloads to those who may see them through the codec endpoint
(`receiver.codec_endpoint`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from workers.temporal_settings import SettingsError

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_ENV = "Q2C_PAYLOAD_KEY"
KEY_ID_ENV = "Q2C_PAYLOAD_KEY_ID"
PREVIOUS_KEYS_ENV = "Q2C_PAYLOAD_PREVIOUS_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload could not be decrypted: unknown key ID, wrong key, or altered bytes."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialised payload (metadata included); the key ID is bound in as associated
    data, so a payload cannot be passed off as encrypted under another key."""

    def __init__(self, key_id: str, key: bytes, previous_keys: Mapping[str, bytes] | None = None) -> None:
        keys = {**(previous_keys or {}), key_id: key}
        for name, secret in keys.items():
            if len(secret) != KEY_BYTES:
                raise ValueError(f"payload key {name!r} must be {KEY_BYTES} bytes (AES-256), not {len(secret)}")
        self.key_id = key_id
        self._ciphers = {name: AESGCM(secret) for name, secret in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self.key_id.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before the codec was on: nothing to undo
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r}, which this process does not have "
                f"(set it in {KEY_ENV} or {PREVIOUS_KEYS_ENV})"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload under key {key_id!r} does not decrypt: altered, or a different key with the same ID"
            ) from None
        return Payload.FromString(plain)


def codec_from_env(environ: Mapping[str, str] = os.environ) -> EncryptionCodec | None:
    """The codec `Q2C_PAYLOAD_KEY`/`Q2C_PAYLOAD_KEY_ID` describe, or None when no key is set (no encryption)."""
    raw_key = environ.get(KEY_ENV)
    if not raw_key:
        return None
    key_id = environ.get(KEY_ID_ENV, "").strip()
    if not key_id:
        raise SettingsError(f"{KEY_ID_ENV} must name the key in {KEY_ENV} (it is written into every payload)")
    key = _key_bytes(KEY_ENV, raw_key)
    previous = {name: _key_bytes(f"{PREVIOUS_KEYS_ENV} ({name})", value) for name, value in _previous(environ)}
    return EncryptionCodec(key_id, key, previous)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic data converter q2c always uses, with `codec` on its payloads when given."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def _key_bytes(source: str, raw: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{source} is not base64 (generate one with `openssl rand -base64 32`)") from None
    if len(key) != KEY_BYTES:
        raise SettingsError(f"{source} must decode to {KEY_BYTES} bytes (AES-256), not {len(key)}")
    return key


def _previous(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    entries = [entry.strip() for entry in environ.get(PREVIOUS_KEYS_ENV, "").split(",") if entry.strip()]
    pairs = []
    for entry in entries:
        name, separator, value = entry.partition("=")
        if not separator or not name.strip():
            raise SettingsError(f"{PREVIOUS_KEYS_ENV}: every entry must be id=base64key (comma-separated)")
        pairs.append((name.strip(), value))
    return pairs
