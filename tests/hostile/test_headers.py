"""What a browser may do with our answers, and who may read /metrics.

Attacks: frame a canvas page on another site (clickjacking), get a script to run in a
page (inline markup in someone's text), open an API answer or an image as a page (content
sniffing), leak an image's ``?token=`` through Referer or a shared cache, and scrape
/metrics from outside the network (it shows rooms, connections and job counts).
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from server.headers import API_CSP
from sync.settings import Secret
from tests.conftest import run_server

METRICS_TOKEN = "scrape-" + "m" * 24


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def assert_common_headers(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


async def new_room(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/api/rooms", json={"title": "headers"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_page_runs_only_our_own_script_and_cannot_be_framed(settings):
    """Attack: frame the app on another site, or get inline script (or eval) to run in
    it. The page's policy allows scripts from our origin alone, no plugins, no foreign
    <base>, and no framing."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        for path in ("/", "/r/SomeRoomId1", "/gallery"):
            r = await http.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            assert_common_headers(r)
            csp = directives(r.headers["content-security-policy"])
            assert csp["script-src"] == ["'self'"], csp
            assert csp["frame-ancestors"] == ["'none'"]
            assert csp["object-src"] == ["'none'"]
            assert csp["base-uri"] == ["'self'"]
            assert csp["default-src"] == ["'self'"]
            # Inline styles stay allowed (CodeMirror writes a <style> element); scripts not.
            assert not any("unsafe" in s for name, sources in csp.items()
                           for s in sources if name != "style-src"), csp
            # The app's own websocket, to the host the page came from.
            assert f"ws://127.0.0.1:{srv.port}" in csp["connect-src"]
            assert "*" not in csp["connect-src"] and "*" not in csp["img-src"]


async def test_a_forged_host_header_cannot_write_into_the_policy(settings):
    """Attack: a Host header carrying policy syntax (``x; script-src *``), hoping the
    websocket source built from it widens the policy. Such a host is not repeated."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.get("/", headers={"Host": "x; script-src * 'unsafe-inline'"})
        csp = r.headers["content-security-policy"]
        assert "script-src *" not in csp and "x;" not in csp, csp
        assert directives(csp)["script-src"] == ["'self'"]
        assert directives(csp)["connect-src"] == ["'self'"]


async def test_an_api_answer_opened_as_a_page_can_run_nothing(settings):
    """Attack: open a JSON answer (or an error echoing input) directly in the browser,
    hoping it is sniffed as HTML. It is not sniffed, and its policy allows nothing."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        ok = await http.get(f"/api/rooms/{room['room']}",
                            headers={"Authorization": f"Bearer {room['view_token']}"})
        missing = await http.get("/api/rooms/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        for r in (ok, missing):
            assert_common_headers(r)
            assert r.headers["content-security-policy"] == API_CSP
        assert ok.status_code == 200 and missing.status_code in (400, 404)


async def test_a_token_protected_image_is_kept_out_of_shared_caches(settings):
    """Attack: read a canvas's image from a shared cache (proxy, CDN) that stored it for
    someone who had the link, or from the Referer it leaked to the next site. The image
    is ``Cache-Control: private``, sent with no-referrer, and never sniffed."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        data = b"RIFF....WEBP stands for a stored rendition"
        key = f"rooms/{room['room']}/{hashlib.sha256(data).hexdigest()}.webp"
        await srv.services.blobs.put(key, data, "image/webp")
        r = await http.get(f"/api/rooms/{room['room']}/images/{key}",
                           params={"token": room["view_token"]})
        assert r.status_code == 200, r.text
        cache = [d.strip() for d in r.headers["cache-control"].split(",")]
        assert "private" in cache and "public" not in cache, cache
        assert_common_headers(r)
        again = await http.get(f"/api/rooms/{room['room']}/images/{key}",
                               params={"token": room["view_token"]},
                               headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        assert "private" in again.headers["cache-control"]


async def test_metrics_are_refused_without_the_scrape_token(settings):
    """Attack: scrape /metrics when the deployment set ARBOR_METRICS_TOKEN: no token or
    a wrong one is 401; the token is 200."""
    configured = settings.replace(metrics_token=Secret(METRICS_TOKEN))
    async with run_server(configured) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        bare = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 31})
        for r in (bare, wrong):
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"] == "Bearer"
            assert "arbor_rooms" not in r.text
        good = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert good.status_code == 200 and "arbor_rooms" in good.text


async def test_metrics_are_refused_to_an_address_outside_the_allowed_list(settings):
    """Attack: scrape /metrics from an address the deployment did not list. Refused even
    with the token (each setting only narrows)."""
    configured = settings.replace(metrics_allow=("10.0.0.0/8",),
                                  metrics_token=Secret(METRICS_TOKEN))
    async with run_server(configured) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert r.status_code == 403, r.text
        assert "arbor_rooms" not in r.text


@pytest.mark.parametrize(("forwarded", "status"), [("203.0.113.9", 403), ("10.1.2.3", 200)],
                         ids=["public-client", "in-cluster-scraper"])
async def test_metrics_by_default_are_refused_to_a_public_client_behind_the_proxy(
        settings, forwarded, status):
    """Attack: scrape /metrics from the internet through the load balancer. By default
    only loopback and private networks may read them, judged by the client address
    (X-Forwarded-For from a trusted proxy), so a public client is refused while a
    scraper inside the network still reads them."""
    behind = settings.replace(trusted_proxies=frozenset({"127.0.0.1"}))
    async with run_server(behind) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.get("/metrics", headers={"X-Forwarded-For": forwarded})
        assert r.status_code == status, r.text
        assert ("arbor_rooms" in r.text) == (status == 200)


async def test_a_page_allows_images_and_uploads_from_the_s3_origin_and_no_other(settings):
    """With blobs in S3, images are redirects to presigned URLs and uploads are PUTs to
    them: the policy names that origin (and only it) so the app keeps working."""
    s3 = settings.replace(s3_bucket="arbor-csp", s3_endpoint_url="http://127.0.0.1:9",
                          s3_path_style=True, s3_access_key_id="k",
                          s3_secret_access_key=Secret("s"))
    async with run_server(s3) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        csp = directives((await http.get("/")).headers["content-security-policy"])
        assert "http://127.0.0.1:9" in csp["img-src"]
        assert "http://127.0.0.1:9" in csp["connect-src"]
        assert csp["script-src"] == ["'self'"]
