"""Refuse a request whose address (path or query) holds a NUL, before any route sees it.

Path and query parameters reach PostgreSQL as ``text`` (a handle, a job id, a room in
``?room=``), and ``text`` cannot hold U+0000: ``/api/people/%00`` failed its query and was
answered 503 "storage is unavailable" (logged at ERROR as an outage), and
``/api/rooms/R/jobs/%00`` 500. No name Arbor gives out holds a NUL, so one in the address
names nothing: it is answered 400 here, in one place, for every route present and future.
Other text PostgreSQL cannot hold does not get this far: the server decodes
percent-escapes as UTF-8 with replacement, so a lone surrogate never reaches a route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem

_NUL_ESCAPES = (b"%00", b"\x00")


def has_nul(scope: Scope) -> bool:
    """Whether the decoded path or the query string of ``scope`` holds a NUL."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or any(e in query for e in _NUL_ESCAPES)


class RefuseNul:
    """ASGI middleware: a 400 problem (``bad_address``) for an HTTP request whose path or
    query holds a NUL. Websockets pass: their one path parameter, the room, is matched
    against the room id pattern before anything is looked up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            response = problem(400, "the address holds a NUL character, which names nothing "
                                    "here", kind="bad_address")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
