"""People who sign in with an OpenID Connect provider (``server/api/oidc.py``).

A provider's account is one more ``credentials`` row of kind ``oauth`` (the kind migration
0004 left for it): ``provider`` is the issuer URL and ``subject`` the id token's ``sub``,
the pair the OpenID Connect spec says is unique and stable. Nothing else from the token
(no e-mail, no name) is stored, so a leaked table names no one outside Arbor.

Signing in hands the browser a fresh identity secret of its own (another ``secret`` row),
so the cookie works as it does after a claim or a recovery, and signing out one device
never depends on the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from .errors import StoreError, StoreReason
from .gallery import Person, _person
from .store import queries
from .store.postgres import CONNECTION_ERRORS


class SignInStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise StoreError(StoreReason.CONNECTION, f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(StoreReason.QUERY, f"PostgreSQL error: {exc}") from exc

    async def person_by_account(self, issuer: str, subject: str) -> Person | None:
        """The person this provider account is linked to, if any."""
        async with self._conn() as c:
            row = await c.fetchrow(queries["person_by_oauth"], issuer, subject)
            if row is not None:
                await c.execute(queries["touch_credential"], row["credential_id"])
        return None if row is None else _person(row)

    async def link_account(self, person_id: str, issuer: str, subject: str) -> str:
        """Link the account to the person unless it already is linked to someone; the id
        of the person it is linked to afterwards (the caller compares it with its own)."""
        async with self._conn() as c, c.transaction():
            await c.execute(queries["link_oauth"], person_id, issuer, subject)
            row = await c.fetchrow(queries["person_by_oauth"], issuer, subject)
        return str(row["id"])

    async def add_secret(self, person_id: str, secret_hash: bytes) -> None:
        """One more identity secret for the person: the cookie of a newly signed-in browser."""
        async with self._conn() as c:
            await c.execute(queries["add_secret"], person_id, secret_hash)
