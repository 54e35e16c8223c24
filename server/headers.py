"""Security headers on every HTTP answer: what a browser may do with our pages.

Anyone can open a canvas, and the canvas shows text and images other people wrote, so a
page must not run anything but our own bundle even if some text slipped through as markup.
Every answer carries:

* ``Content-Security-Policy``. Pages (``text/html``: the web app) get ``script-src 'self'``
  (no inline script, no ``eval``: the Vite build has neither); ``style-src 'self'
  'unsafe-inline'``, because CodeMirror (style-mod) writes its themes into a ``<style>``
  element of the document (React's ``style`` props go through the CSSOM, which CSP does
  not govern; a nonce would need the page templated and ``EditorView.cspNonce`` set);
  images from ourselves, ``data:`` (the favicon) and ``blob:``; connections to ourselves
  and the websocket of the host the page was loaded from. With blobs in S3, images are a
  redirect to a presigned URL and uploads a PUT to one, so that origin (read from the store
  itself at startup: see ``blob_origins``) is added to ``img-src`` and ``connect-src``.
  Never framed (``frame-ancestors 'none'``), no plugins, no ``<base>`` elsewhere.
  Everything else (JSON, images, text) gets ``default-src 'none'``: opened directly, it
  can run nothing.
* ``X-Content-Type-Options: nosniff``: an uploaded image is never run as a script or page.
* ``Referrer-Policy: no-referrer``: share links carry their token in the fragment, which
  browsers never send, but image URLs carry ``?token=``; nothing leaks through Referer.
* ``X-Frame-Options: DENY``, for browsers that predate ``frame-ancestors``.

A route that sets one of these itself keeps its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.blobs import BlobError, BlobStore

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
COMMON: Final = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)
# A Host header we are willing to repeat in the policy: a name or address, and a port.
_HOST: Final = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
_PROBE_KEY: Final = "rooms/csp-probe/origin.webp"


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None (a relative URL is
    our own origin)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def blob_origins(blobs: BlobStore) -> tuple[str, ...]:
    """The origins a browser fetches blobs from when they are not the page's: where
    presigned GETs redirect and presigned PUTs go (S3; disk upload URLs are built on
    ``ARBOR_PUBLIC_URL``). Presigning is local computation, so asking costs nothing."""
    urls = []
    try:
        urls.append((await blobs.presign_put(_PROBE_KEY, "image/webp", 1, 60)).url)
        urls.append(await blobs.presign_get(_PROBE_KEY, 60) or "")
    except BlobError:  # a store that cannot presign serves bytes itself
        pass
    return tuple(dict.fromkeys(o for o in map(origin, urls) if o))


@dataclasses.dataclass
class PagePolicy:
    """The page CSP. ``public_url`` is ``ARBOR_PUBLIC_URL`` (its websocket is allowed
    even when a proxy rewrote the Host header); ``blob_origins`` is filled in at startup."""

    public_url: str = ""
    blob_origins: tuple[str, ...] = ()

    def csp(self, host: str | None) -> str:
        sockets = [f"{scheme}://{host}" for scheme in ("ws", "wss")
                   if host and _HOST.match(host)]
        public = origin(self.public_url)
        if public:
            sockets.append(public.replace("http", "ws", 1))  # https -> wss
        blobs = self.blob_origins
        return "; ".join([
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # CodeMirror's <style> element
            _directive("img-src", ["'self'", "data:", "blob:", *blobs]),
            _directive("connect-src", ["'self'", *sockets, *blobs]),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ])


def _directive(name: str, sources: Iterable[str]) -> str:
    return " ".join([name, *dict.fromkeys(sources)])


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, policy: PagePolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON:
                    headers.setdefault(name, value)
                if "content-security-policy" not in headers:
                    page = headers.get("content-type", "").startswith("text/html")
                    host = next((v.decode("latin-1") for k, v in scope["headers"]
                                 if k == b"host"), None)
                    headers["content-security-policy"] = (
                        self.policy.csp(host) if page else API_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["API_CSP", "PagePolicy", "SecurityHeaders", "blob_origins", "origin"]
