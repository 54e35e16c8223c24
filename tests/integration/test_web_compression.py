"""The build's assets go out compressed: the server picks the ``.br`` or ``.gz`` twin the
build wrote beside each file by the request's ``Accept-Encoding``, over real HTTP."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import httpx

from tests.conftest import run_server

SCRIPT = ("export const arbor = 'canvas';\n" * 400).encode()
# Not real brotli (Python has no brotli codec here): the test checks which file was sent.
FAKE_BROTLI = b"brotli twin of the script"
GZIPPED = gzip.compress(SCRIPT, 9, mtime=0)


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    assets = dist / "assets"
    assets.mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/index-3f9a1c2b.js"></script>')
    (assets / "index-3f9a1c2b.js").write_bytes(SCRIPT)
    (assets / "index-3f9a1c2b.js.gz").write_bytes(GZIPPED)
    (assets / "index-3f9a1c2b.js.br").write_bytes(FAKE_BROTLI)
    # A style sheet the build gave only a gzip twin (its brotli was not smaller).
    (assets / "CanvasPage-77aa01fe.css").write_text("body{color:black}\n" * 200)
    (assets / "CanvasPage-77aa01fe.css.gz").write_bytes(
        gzip.compress(b"body{color:black}\n" * 200, 9))
    return dist


def raw(http: httpx.AsyncClient, path: str, accept: str, **headers: str) -> httpx.Request:
    """A request whose body httpx leaves encoded, so the test sees the bytes on the wire."""
    return http.build_request("GET", path, headers={"Accept-Encoding": accept, **headers})


async def test_each_encoding_is_served_when_asked_and_identity_when_not(settings, tmp_path):
    """A browser taking brotli gets the .br file, one taking gzip the .gz, one taking
    neither the plain file; each with its own length, ETag and ``Vary``."""
    dist = build(tmp_path)
    async with run_server(settings, web_dist=dist) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        etags = set()
        for accept, encoding, body in (("gzip, deflate, br, zstd", "br", FAKE_BROTLI),
                                       ("gzip, deflate", "gzip", GZIPPED),
                                       ("identity", None, SCRIPT),
                                       ("br;q=0, gzip;q=0", None, SCRIPT),
                                       ("br;q=0.5, gzip", "gzip", GZIPPED),
                                       ("*", "br", FAKE_BROTLI)):
            response = await http.send(raw(http, "/assets/index-3f9a1c2b.js", accept),
                                       stream=True)
            sent = b"".join([chunk async for chunk in response.aiter_raw()])
            assert response.status_code == 200, accept
            assert response.headers.get("content-encoding") == encoding, accept
            assert sent == body, accept
            assert int(response.headers["content-length"]) == len(body), accept
            assert "javascript" in response.headers["content-type"], accept
            assert response.headers["vary"] == "Accept-Encoding", accept
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            etags.add((encoding, response.headers["etag"]))
            # Asking again with the ETag: not modified, for that encoding.
            again = await http.send(raw(http, "/assets/index-3f9a1c2b.js", accept,
                                        **{"If-None-Match": response.headers["etag"]}))
            assert again.status_code == 304, accept
            assert again.headers["vary"] == "Accept-Encoding", accept
        assert len({etag for _, etag in etags}) == 3  # one per encoding


async def test_a_missing_brotli_twin_falls_back_to_gzip_then_to_the_plain_file(
        settings, tmp_path):
    """A file the build gave no .br is sent as gzip to a browser taking both, and plain to
    one taking only brotli; a file with no twin at all is sent plain."""
    dist = build(tmp_path)
    (dist / "assets" / "tiny-0badc0de.js").write_text("1\n")
    async with run_server(settings, web_dist=dist) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        css = "/assets/CanvasPage-77aa01fe.css"
        both = await http.send(raw(http, css, "br, gzip"))
        assert both.headers["content-encoding"] == "gzip"
        assert both.text == "body{color:black}\n" * 200
        only_br = await http.send(raw(http, css, "br"))
        assert "content-encoding" not in only_br.headers
        assert only_br.text == "body{color:black}\n" * 200
        tiny = await http.send(raw(http, "/assets/tiny-0badc0de.js", "br, gzip"))
        assert "content-encoding" not in tiny.headers
        assert tiny.text == "1\n"


async def test_encoded_names_do_not_reach_outside_the_assets(settings, tmp_path):
    """Path traversal through the twin's name: a `..` path whose `.br` exists outside
    ``assets/``, and a `.br` twin that is a symlink to a file outside, are never sent."""
    dist = build(tmp_path)
    (tmp_path / "secret.txt").write_text("plain secret")
    (tmp_path / "secret.txt.br").write_text("brotli secret")
    (dist / "secret.txt.gz").write_text("gzip secret")
    (dist / "assets" / "secret.txt").write_text("innocent")
    (dist / "assets" / "script-11111111.js").write_text("ok\n")
    os.symlink(tmp_path / "secret.txt.br", dist / "assets" / "script-11111111.js.br")
    async with run_server(settings, web_dist=dist) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        for path in ("/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                     "/assets/..%2fsecret.txt"):
            response = await http.send(raw(http, path, "br, gzip"))
            assert b"secret" not in response.content, path
        linked = await http.send(raw(http, "/assets/script-11111111.js", "br"))
        assert linked.status_code == 200
        assert "content-encoding" not in linked.headers
        assert linked.text == "ok\n"
        # A twin with no plain file beside it is not a form of anything we serve.
        gone = await http.send(raw(http, "/assets/missing-00000000.js", "br, gzip"))
        assert gone.status_code == 404
