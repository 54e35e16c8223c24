"""API keys a canvas brings for its own jobs: encrypted at rest, never shown again.

A room's editor may set an OpenAI (with an optional OpenAI-compatible base URL) or Gemini
key. It is stored AES-GCM encrypted with a key derived from the server secret
(``ARBOR_SECRET_KEY``, else a random one kept in the data folder), bound to its room and
provider (a ciphertext copied to another row does not decrypt). Only the last four
characters are kept in clear, for people to recognise which key is set. The plain key
exists only in the worker's memory while it runs that room's job (``KeyRing.reveal``), as a
``Secret`` that never prints itself.

    KeyError_ (ArborError)   kind: bad_provider, bad_key, bad_base_url
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .addresses import why_internal
from .blobs.disk import load_or_create_secret
from .errors import ArborError
from .models import KEY_PROVIDERS
from .settings import Secret, Settings
from .store import queries

log = logging.getLogger(__name__)

SECRET_FILE: Final = "secret_key"
MAX_KEY_CHARS: Final = 500
MAX_URL_CHARS: Final = 500
_CONTEXT: Final = b"arbor room keys v1"


class RoomKeyError(ArborError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def server_secret(settings: Settings) -> bytes:
    """``ARBOR_SECRET_KEY``, else a random secret created once in the data folder."""
    configured = settings.secret_key.reveal()
    if configured:
        return configured.encode()
    return load_or_create_secret(Path(settings.data_dir) / SECRET_FILE)


@dataclasses.dataclass(frozen=True)
class StoredKey:
    provider: str
    last4: str
    base_url: str

    def to_json(self) -> dict[str, Any]:
        return {"set": True, "last4": self.last4, "base_url": self.base_url}


@dataclasses.dataclass(frozen=True)
class RoomKey:
    """A decrypted key: only ever in the worker's memory."""

    provider: str
    api_key: Secret
    base_url: str

    def __repr__(self) -> str:
        return f"RoomKey({self.provider!r}, {self.api_key!r}, {self.base_url!r})"


def check_provider(provider: str) -> str:
    if provider not in KEY_PROVIDERS:
        raise RoomKeyError("bad_provider", f"a canvas can bring keys for "
                           f"{' and '.join(KEY_PROVIDERS)}, not {provider[:40]!r}")
    return provider


def check_key(value: object) -> str:
    """The key, or ``RoomKeyError`` (whose message never repeats the key)."""
    if not isinstance(value, str) or not value.strip():
        raise RoomKeyError("bad_key", "api_key must be a non-empty string")
    key = value.strip()
    if len(key) > MAX_KEY_CHARS or len(key) < 8:
        raise RoomKeyError("bad_key", f"api_key must be 8 to {MAX_KEY_CHARS} characters long")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise RoomKeyError("bad_key", "api_key must not contain spaces or control characters")
    return key


def check_base_url(value: object, provider: str) -> str:
    if value is None or value == "":
        return ""
    if provider != "openai":
        raise RoomKeyError("bad_base_url", "only an OpenAI key takes a base_url (an "
                           "OpenAI-compatible endpoint)")
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise RoomKeyError("bad_base_url", f"base_url must be a URL of at most {MAX_URL_CHARS} "
                           "characters")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or (
            parts.password):
        raise RoomKeyError("bad_base_url", "base_url must be an http(s) URL without "
                           "credentials, like https://example.com/v1")
    return value.strip().rstrip("/")


def check_public_host(url: str) -> None:
    """Refuse a base URL that points into the server's own network (loopback, private,
    link-local, reserved addresses, and their IPv6 spellings: ``sync.addresses``): a
    room's editor must not make the worker call internal services. Names are resolved
    now; a name re-pointed later (DNS rebinding) is stopped when the worker connects
    (``worker/providers/public_only.py``)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        raise RoomKeyError("bad_base_url", f"base_url host {host!r} does not resolve") from None
    literal = _literal(host)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        why = why_internal(address)
        if why is None:
            continue
        # A typed address is told why; for a name, the address it resolves to is not
        # repeated (the endpoint must not become a way to map the internal DNS).
        where = f"{host} is {why}" if literal == address else (
            f"{host} resolves to an address inside the server's network")
        raise RoomKeyError("bad_base_url", f"base_url must be a public endpoint, not an "
                           f"address inside the server's network: {where}")


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class KeyBox:
    """AES-GCM with a key derived from the server secret; associated data binds a
    ciphertext to its room and provider."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the key box needs a secret")
        self._aead = AESGCM(hashlib.sha256(_CONTEXT + b"\x00" + secret).digest())

    @staticmethod
    def _aad(room_id: str, provider: str) -> bytes:
        return f"{room_id}\x00{provider}".encode()

    def seal(self, room_id: str, provider: str, key: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, key.encode(), self._aad(room_id, provider))

    def open(self, room_id: str, provider: str, sealed: bytes) -> str:
        plain = self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]),
                                   self._aad(room_id, provider))
        return plain.decode()


class KeyRing:
    """The ``room_keys`` table through a ``KeyBox``."""

    def __init__(self, pool: asyncpg.Pool, box: KeyBox, *,
                 allow_private_base_urls: bool = False) -> None:
        self.pool = pool
        self.box = box
        self.allow_private_base_urls = allow_private_base_urls

    async def put(self, room_id: str, provider: str, api_key: object,
                  base_url: object = "") -> StoredKey:
        provider = check_provider(provider)
        key = check_key(api_key)
        url = check_base_url(base_url, provider)
        if url and not self.allow_private_base_urls:
            await asyncio.to_thread(check_public_host, url)
        await self.pool.execute(queries["put_room_key"], room_id, provider,
                                self.box.seal(room_id, provider, key), key[-4:], url)
        return StoredKey(provider, key[-4:], url)

    async def delete(self, room_id: str, provider: str) -> bool:
        result = await self.pool.execute(queries["delete_room_key"], room_id,
                                         check_provider(provider))
        return str(result).endswith(" 1")

    async def list(self, room_id: str) -> dict[str, StoredKey]:
        rows = await self.pool.fetch(queries["list_room_keys"], room_id)
        return {r["provider"]: StoredKey(r["provider"], r["last4"], r["base_url"]) for r in rows}

    async def providers(self, room_id: str) -> set[str]:
        return set(await self.list(room_id))

    async def reveal(self, room_id: str) -> dict[str, RoomKey]:
        """The room's keys, decrypted (for the worker). A key that no longer decrypts (the
        server secret changed) is left out, with a warning that does not show it."""
        out = {}
        for r in await self.pool.fetch(queries["list_room_keys"], room_id):
            try:
                plain = self.box.open(room_id, r["provider"], r["ciphertext"])
            except (InvalidTag, ValueError, UnicodeDecodeError):
                log.warning("the %s key of room %s cannot be decrypted (was ARBOR_SECRET_KEY "
                            "changed?); using the server's", r["provider"], room_id)
                continue
            out[r["provider"]] = RoomKey(r["provider"], Secret(plain), r["base_url"])
        return out


def public_keys(stored: dict[str, StoredKey]) -> dict[str, dict[str, Any]]:
    """The body of ``GET /api/rooms/{room}/keys``: per provider, set / last4 / base_url."""
    return {p: stored[p].to_json() if p in stored else
            {"set": False, "last4": None, "base_url": ""} for p in KEY_PROVIDERS}


__all__ = ["KeyBox", "KeyRing", "RoomKey", "RoomKeyError", "StoredKey", "check_base_url",
           "check_key", "check_provider", "public_keys", "server_secret"]
