"""``/api/identity``: claim a gallery handle, read it back, recover it on another device.

There are no passwords. Claiming a handle creates a long random *identity secret*; the
browser keeps it in the ``arbor_id`` cookie (HttpOnly, SameSite=Lax, Secure over https)
and the server keeps only its SHA-256. The recovery link (``/recover#secret=...``, the
secret in the fragment so it never reaches a server log) carries it to another device,
whose page posts it to ``/api/identity/recover``.

Every cookie-authenticated write (and every request that sets the cookie) must pass
:func:`check_csrf`: the ``X-Arbor-CSRF: 1`` header, which a cross-site form cannot send
and a cross-site script cannot send without a CORS preflight we never answer, and an
``Origin`` (or, lacking it, ``Referer``) that is this server, ``ARBOR_PUBLIC_URL`` or one
of ``ARBOR_ALLOWED_ORIGINS`` (a ``*`` there does not count here).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync.gallery import (
    MAX_BIO,
    MAX_DISPLAY_NAME,
    CursorError,
    GalleryStore,
    HandleError,
    Person,
    check_handle,
    hash_secret,
    new_secret,
)
from sync.lineage import BlockNotFoundError

from ..problems import problem
from ..ratelimit import Bucket, Rate, address_key
from .rooms import json_body

if TYPE_CHECKING:
    from ..app import Services

COOKIE = "arbor_id"
COOKIE_MAX_AGE = 400 * 86400  # the longest lifetime browsers honour
CSRF_HEADER = "x-arbor-csrf"
MAX_SECRET = 200
HANDLE_STATUS = {"malformed": 400, "reserved": 409, "taken": 409}

Handler = Callable[[Request], Awaitable[Response]]


class Refusal(Exception):
    """A request this API turns down: becomes a problem response in :func:`endpoint`."""

    def __init__(self, status: int, detail: str, kind: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind, self.headers = status, detail, kind, headers


def endpoint(handler: Handler) -> Handler:
    """Turn refusals and the gallery's own errors into problems."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Refusal as r:
            return problem(r.status, r.detail, kind=r.kind, headers=r.headers)
        except HandleError as exc:
            return problem(HANDLE_STATUS[exc.reason], exc.detail, kind=f"handle_{exc.reason}")
        except CursorError as exc:
            return problem(400, exc.detail, kind="bad_cursor")
        except BlockNotFoundError as exc:
            return problem(404, exc.detail, kind="block_not_found")
        except _Limited as exc:
            return exc.response

    return wrapped


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def gallery_of(request: Request) -> GalleryStore:
    return GalleryStore(services_of(request).store.pool)


# ------------------------------------------------------------------------------- CSRF


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request) -> set[str]:
    settings = services_of(request).settings
    allowed = {o.lower() for o in settings.allowed_origins if o != "*"}
    if settings.public_url and (public := _origin(settings.public_url)):
        allowed.add(public)
    host = request.headers.get("host")
    if host:
        allowed.add(f"{request.url.scheme}://{host}".lower())
    return allowed


def check_csrf(request: Request) -> None:
    """Refuse (403) a write that a page on another site could have made with our cookie."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise Refusal(403, f"this request needs the {CSRF_HEADER.title()}: 1 header",
                      "csrf_header_missing")
    sent = request.headers.get("origin")
    origin = _origin(sent) if sent and sent != "null" else None
    if origin is None and not sent and (referer := request.headers.get("referer")):
        origin = _origin(referer)
    if origin is None or origin not in allowed_origins(request):
        raise Refusal(403, "this request did not come from an Arbor page", "origin_not_allowed")


# ----------------------------------------------------------------------------- cookies


def _secure(request: Request) -> bool:
    return (request.url.scheme == "https"
            or services_of(request).settings.public_url.startswith("https://"))


def set_identity_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(COOKIE, secret, max_age=COOKIE_MAX_AGE, path="/",
                        secure=_secure(request), httponly=True, samesite="lax")


async def current_person(request: Request) -> Person | None:
    """The person whose identity cookie came with the request, if it is a real one."""
    secret = request.cookies.get(COOKIE)
    if not secret or len(secret) > MAX_SECRET:
        return None
    return await gallery_of(request).person_by_secret(hash_secret(secret))


async def require_person(request: Request) -> Person:
    person = await current_person(request)
    if person is None:
        raise Refusal(401, "claim a handle first (or recover yours on this device)",
                      "identity_required")
    return person


def client_address(request: Request) -> bytes:
    """The keyed hash of the client's address, as likes, reports and handles record it
    (never the address itself: see :class:`~server.ratelimit.AddressHasher`)."""
    services = services_of(request)
    return services.addresses(services.client_ip(request))


def action_buckets(request: Request, what: str, person: Person | None) -> list[Bucket]:
    """Per-person and per-address buckets for gallery actions (likes, follows, ...)."""
    services = services_of(request)
    per_min = services.settings.rate_likes_per_min
    rate = Rate(per_min, max(1, round(per_min / 2)))
    ip = address_key(services.client_ip(request))
    # An address may hold several people (a household, an office): give it more room.
    buckets = [Bucket(f"{what}:ip:{ip}", Rate(per_min * 4, max(1, round(per_min * 2))), 1,
                      f"{what}-ip")]
    if person is not None:
        buckets.append(Bucket(f"{what}:person:{person.id}", rate, 1, f"{what}-person"))
    return buckets


async def limit(request: Request, buckets: list[Bucket], what: str) -> None:
    refused = await services_of(request).check_limits(buckets, what)
    if refused is not None:
        raise _Limited(refused)


class _Limited(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("rate limited")
        self.response = response


# ----------------------------------------------------------------------------- the API


def _base(request: Request) -> str:
    return services_of(request).settings.public_url or str(request.base_url).rstrip("/")


def avatar_url(person: Person) -> str | None:
    """Where the person's avatar is read (its public, content-addressed route; see
    ``server/api/avatars.py``), or None when they have none."""
    return None if person.avatar_key is None else f"/images/{person.avatar_key}"


def _identity_json(request: Request, person: Person, secret: str) -> dict[str, Any]:
    return {"handle": person.handle, "display_name": person.display_name, "bio": person.bio,
            "avatar_url": avatar_url(person),
            "recovery_url": f"{_base(request)}/recover#secret={secret}"}


def _display_name(raw: object, handle: str) -> str:
    if raw is None:
        return handle
    if not isinstance(raw, str):
        raise ValueError("display_name must be a string")
    name = " ".join(raw.split())
    if len(name) > MAX_DISPLAY_NAME:
        raise ValueError(f"display_name must be at most {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError("display_name must not contain control characters")
    return name or handle


@endpoint
async def claim_identity(request: Request) -> Response:
    """``POST /api/identity`` {handle, display_name?} -> 201 and the cookie."""
    check_csrf(request)
    body = await json_body(request)
    handle = check_handle(body.get("handle"))
    name = _display_name(body.get("display_name"), handle)
    if await current_person(request) is not None:
        raise Refusal(409, "this browser already has a handle", "identity_exists")
    services = services_of(request)
    # Its own, slower bucket (ARBOR_RATE_HANDLES_*): a handle is a voice in likes and
    # reports, so a burst of them from one address is what a sock-puppet script looks like.
    await limit(request, services.rates.handle_buckets(services.client_ip(request)),
                "new handles")
    secret = new_secret()
    person = await gallery_of(request).create_person(handle, name, hash_secret(secret),
                                                     client_address(request))
    response = JSONResponse(_identity_json(request, person, secret), status_code=201)
    set_identity_cookie(request, response, secret)
    # A browser back from signing in with a provider account that has no handle yet:
    # the new handle is that account's (imported here: oidc builds on this module).
    from . import oidc
    await oidc.link_pending(request, response, person.id, await oidc.take_pending(request))
    return response


@endpoint
async def get_identity(request: Request) -> Response:
    """``GET /api/identity`` -> {handle, display_name, recovery_url} or 401."""
    person = await require_person(request)
    return JSONResponse(_identity_json(request, person, request.cookies[COOKIE]),
                        headers={"Cache-Control": "no-store"})


PROFILE_FIELDS = frozenset({"display_name", "bio"})


def _bio(raw: object) -> str:
    """A bio as stored: trimmed, at most ``MAX_BIO`` characters, line breaks kept and no
    other control or format character (they hide text or reorder what the page shows)."""
    if not isinstance(raw, str):
        raise ValueError("bio must be a string")
    bio = "\n".join(" ".join(line.split()) for line in raw.strip().splitlines())
    if len(bio) > MAX_BIO:
        raise ValueError(f"bio must be at most {MAX_BIO} characters")
    if any(ch != "\n" and unicodedata.category(ch).startswith("C") for ch in bio):
        raise ValueError("bio must not contain control characters")
    return bio


@endpoint
async def update_identity(request: Request) -> Response:
    """``PATCH /api/identity`` {display_name?, bio?} -> the identity as ``GET`` shows it.

    Only the cookie's own person is changed: there is no handle or id to name in the
    body, and a body naming anything but these two fields is refused whole (so a client
    that believes it can edit someone else hears no, rather than a silent success)."""
    check_csrf(request)
    person = await require_person(request)
    body = await json_body(request)
    unknown = sorted(set(body) - PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"only display_name and bio can be changed, not {', '.join(unknown)}")
    if not body:
        raise ValueError("give display_name or bio")
    name = _display_name(body["display_name"], person.handle) if "display_name" in body \
        else None
    bio = _bio(body["bio"]) if "bio" in body else None
    await limit(request, action_buckets(request, "profile edits", person), "profile edits")
    person = await gallery_of(request).update_profile(person.id, display_name=name, bio=bio)
    return JSONResponse(_identity_json(request, person, request.cookies[COOKIE]),
                        headers={"Cache-Control": "no-store"})


@endpoint
async def recover_identity(request: Request) -> Response:
    """``POST /api/identity/recover`` {secret} -> the identity, and the cookie."""
    check_csrf(request)
    body = await json_body(request)
    secret = body.get("secret")
    if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET:
        raise ValueError("secret must be the text after #secret= in the recovery link")
    services = services_of(request)
    await limit(request, [Bucket(f"recover:ip:{address_key(services.client_ip(request))}",
                                 services.rates.rooms_ip, 1, "recover-ip")], "recoveries")
    person = await gallery_of(request).person_by_secret(hash_secret(secret))
    if person is None:
        raise Refusal(401, "this recovery link is not valid", "unknown_secret")
    response = JSONResponse(_identity_json(request, person, secret))
    set_identity_cookie(request, response, secret)
    return response
