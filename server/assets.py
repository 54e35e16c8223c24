"""The web build's hashed assets, sent compressed when the browser takes it.

The build (web/precompress.mjs, a Vite plugin) writes ``name.js.br`` and ``name.js.gz`` beside
each script and style sheet, once, at the highest levels: compressing on every request would
spend the server's CPU on the same bytes again and again, and a canvas page's script is ~1 MB
plain but ~250 KB in brotli. The server only picks which file to send."""

from __future__ import annotations

import mimetypes
import os
import stat
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"

# Content-Encoding token -> the suffix the build writes, in the server's order of preference
# (brotli is the smaller) when the browser weighs them equally.
ENCODINGS: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))
ENCODED_SUFFIXES = tuple(suffix for _, suffix in ENCODINGS)


def accepted_encodings(header: str) -> list[str]:
    """The encodings of ours that ``Accept-Encoding`` allows, best first: by the browser's
    q-value, then ours. ``q=0`` refuses one; ``*`` stands for every encoding not named."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        token = token.strip().lower()
        if not token:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # a q we cannot read is not a yes
        weights[token] = q
    wildcard = weights.get("*", 0.0)
    ranked = [(weights.get(name, wildcard), -rank, name)
              for rank, (name, _) in enumerate(ENCODINGS)]
    return [name for q, _, name in sorted(ranked, reverse=True) if q > 0]


class HashedAssets(StaticFiles):
    """The web build's ``assets/``: every name there carries a hash of the file's content
    (Vite's ``[name]-[hash]``), so a browser keeps each for a year without asking again,
    and a new build is new names (``index.html``, never cached, points at them).

    A request for ``name.js`` gets ``name.js.br`` or ``name.js.gz`` instead when the browser
    accepts that encoding and the build made the file; otherwise the plain file. Each
    encoding has its own ETag (its own bytes), and every answer says ``Vary:
    Accept-Encoding`` so a shared cache never hands brotli to a browser that did not ask."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] in ("GET", "HEAD") and not path.endswith(ENCODED_SUFFIXES):
            request_headers = Headers(scope=scope)
            for encoding in accepted_encodings(request_headers.get("accept-encoding", "")):
                response = await self._encoded(path, encoding, scope)
                if response is not None:
                    return response
        response = await super().get_response(path, scope)
        response.headers["Vary"] = "Accept-Encoding"
        return response

    async def _encoded(self, path: str, encoding: str, scope: Scope) -> Response | None:
        """The ``encoding`` twin of ``path`` if the build made it (and the plain file is
        there too: the twin is only ever another form of a file we serve). Both names go
        through ``lookup_path``, which keeps them inside the directory."""
        suffix = dict(ENCODINGS)[encoding]
        try:
            _, plain = await anyio.to_thread.run_sync(self.lookup_path, path)
            full_path, encoded = await anyio.to_thread.run_sync(self.lookup_path, path + suffix)
        except (OSError, ValueError):
            return None  # too long a name, a NUL: the plain lookup answers with its 404
        if plain is None or encoded is None or not stat.S_ISREG(plain.st_mode) \
                or not stat.S_ISREG(encoded.st_mode):
            return None
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        response = FileResponse(full_path, stat_result=encoded, media_type=media_type,
                                headers={"Content-Encoding": encoding,
                                         "Vary": "Accept-Encoding"})
        etag = response.headers["etag"]
        response.headers["etag"] = f'{etag[:-1]}-{encoding}"'
        response.headers["Cache-Control"] = IMMUTABLE
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Any,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        return response
