"""How the server lets browsers cache the web app: the page itself is checked every time,
the build's hashed assets are kept for a year (a new build is new names)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import run_server


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/index-3f9a1c2b.js"></script>')
    (dist / "assets" / "index-3f9a1c2b.js").write_text("console.log('arbor')\n")
    (dist / "assets" / "CanvasPage-77aa01fe.css").write_text("body{}\n")
    return dist


async def test_assets_are_immutable_and_the_page_is_revalidated(settings, tmp_path):
    dist = build(tmp_path)
    async with run_server(settings, web_dist=dist) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        for path in ("/", "/r/abcdefgh12345678", "/gallery"):
            page = await http.get(path)
            assert page.status_code == 200
            assert page.headers["cache-control"] == "no-cache", path
            assert "/assets/index-3f9a1c2b.js" in page.text
        for name, kind in (("index-3f9a1c2b.js", "javascript"), ("CanvasPage-77aa01fe.css", "css")):
            asset = await http.get(f"/assets/{name}")
            assert asset.status_code == 200
            assert kind in asset.headers["content-type"]
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            again = await http.get(f"/assets/{name}",
                                   headers={"If-None-Match": asset.headers["etag"]})
            assert again.status_code == 304
            assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
        # A name the build does not have (a tab from before a deploy): 404, not the page.
        gone = await http.get("/assets/CanvasPage-00000000.js")
        assert gone.status_code == 404
        assert "immutable" not in gone.headers.get("cache-control", "")
