"""``/api/auth/oidc``: sign in with the OpenID Connect provider the deployment configures.

The authorization code flow with PKCE (RFC 7636, ``S256``), ``state`` and ``nonce``:

1. ``GET /api/auth/oidc/start`` (``?link=1``: link the provider to the signed-in handle)
   makes a random state, nonce and PKCE verifier, keeps them in Redis under the run's
   prefix for ten minutes (``oidc:state:{state}``), puts the state in a cookie scoped to
   these routes (so only the browser that started a sign-in can finish it: a login-CSRF
   link carrying someone else's code fails), and redirects to the provider.
2. ``GET /api/auth/oidc/callback`` takes the state out of Redis (``GETDEL``: a replayed
   callback finds nothing), exchanges the code with the verifier and the client secret,
   and checks the id token: signature against the provider's JWKS, issuer, audience,
   expiry, nonce. Then the provider account (issuer + ``sub``, see :mod:`sync.signin`):
   linked to a person -> this browser gets an identity cookie of that person; not linked
   -> the browser is asked to claim a handle (``POST /api/identity`` links it, through a
   ten-minute ``oidc:pending:{token}`` entry whose token is the ``arbor_oidc_pending``
   cookie); ``link`` -> it is linked to the signed-in person.

The browser arrives here by navigation, not by script, so every refusal is a small HTML
page saying in words what went wrong (never a stack trace), status 400 (or 401 / 409 /
502 / 503 where that is what happened), and nothing is signed in.

Authlib's httpx client makes the authorization URL and the token request; joserfc (which
Authlib builds on) checks the id token.
"""

from __future__ import annotations

import functools
import html
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import httpx2  # what Authlib's client speaks (installed with openai, google-genai)
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sync.errors import ArborError
from sync.gallery import hash_secret, new_secret
from sync.signin import SignInStore

from ..ratelimit import Bucket, address_key
from .identity import Handler, _secure, current_person, set_identity_cookie

if TYPE_CHECKING:
    from ..app import Services

STATE_COOKIE = "arbor_oidc_state"
PENDING_COOKIE = "arbor_oidc_pending"
FLOW_SECONDS = 600  # how long a started sign-in (and an unclaimed account) waits
DISCOVERY_SECONDS = 300  # how long the provider's discovery document and keys are reused
LEEWAY = 60  # clock skew allowed on exp / iat
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
MAX_PARAM = 2048


class SignInError(ArborError):
    """A sign-in this server refuses: becomes an HTML page with ``detail`` in words."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _configured(request: Request) -> bool:
    s = _services(request).settings
    return bool(s.oidc_issuer and s.oidc_client_id)


def provider_name(request: Request) -> str:
    s = _services(request).settings
    return s.oidc_name or urlsplit(s.oidc_issuer).hostname or "your account"


def page(status: int, title: str, detail: str) -> HTMLResponse:
    """A page a person reads after a redirect: what happened, and a way back."""
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)} · Arbor</title></head>"
            f"<body><main><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>"
            f"<p><a href=\"/gallery\">Back to the gallery</a></p></main></body></html>")
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def signin_page(handler: Handler) -> Handler:
    """Turn a :class:`SignInError` into its page; the flow's cookie goes either way."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SignInError as exc:
            response: Response = page(exc.status, "Sign-in refused", exc.detail)
            response.delete_cookie(STATE_COOKIE, path="/api/auth/oidc")
            return response

    return wrapped


# ------------------------------------------------------------------------ the provider


_discovery: dict[str, tuple[float, dict[str, Any], KeySet]] = {}


async def _get_json(client: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
    try:
        r = await client.get(url)
        r.raise_for_status()
        data = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInError(f"the sign-in provider's {what} could not be read ({exc})",
                          502) from exc
    if not isinstance(data, dict):
        raise SignInError(f"the sign-in provider's {what} is not a JSON object", 502)
    return data


async def provider(request: Request, *, fresh: bool = False) -> tuple[dict[str, Any], KeySet]:
    """The provider's discovery document and signing keys (reused for a few minutes;
    ``fresh``: fetched again, as when a token names a key we have not seen)."""
    issuer = _services(request).settings.oidc_issuer
    cached = _discovery.get(issuer)
    if cached and not fresh and cached[0] > time.monotonic():
        return cached[1], cached[2]
    async with httpx.AsyncClient(timeout=10) as client:
        meta = await _get_json(client, f"{issuer}/.well-known/openid-configuration",
                               "discovery document")
        if str(meta.get("issuer", "")).rstrip("/") != issuer:
            raise SignInError("the sign-in provider names another issuer than the one "
                              "configured", 502)
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(field), str):
                raise SignInError(f"the sign-in provider does not say its {field}", 502)
        jwks = await _get_json(client, meta["jwks_uri"], "keys")
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise SignInError("the sign-in provider's keys could not be read", 502) from exc
    _discovery[issuer] = (time.monotonic() + DISCOVERY_SECONDS, meta, keys)
    return meta, keys


def _client(request: Request) -> AsyncOAuth2Client:
    s = _services(request).settings
    return AsyncOAuth2Client(s.oidc_client_id, s.oidc_client_secret.reveal() or None,
                             scope="openid", redirect_uri=_redirect_uri(request),
                             code_challenge_method="S256", timeout=10)


def _redirect_uri(request: Request) -> str:
    base = _services(request).settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}/api/auth/oidc/callback"


def _key(request: Request, kind: str, token: str) -> str:
    return f"{_services(request).settings.redis_prefix}oidc:{kind}:{token}"


# ----------------------------------------------------------------------------- routes


async def oidc_info(request: Request) -> Response:
    """``GET /api/auth/oidc`` -> {configured, name}: whether to show the sign-in button."""
    configured = _configured(request)
    return JSONResponse({"configured": configured,
                         "name": provider_name(request) if configured else None})


@signin_page
async def oidc_start(request: Request) -> Response:
    """``GET /api/auth/oidc/start[?link=1]`` -> 302 to the provider."""
    if not _configured(request):
        raise SignInError("signing in with another account is not set up here", 404)
    link = request.query_params.get("link") == "1"
    person = await current_person(request)
    if link and person is None:
        raise SignInError("claim a handle (or recover yours) before linking an account", 401)
    # Each start keeps a little state in Redis for ten minutes: bound how fast one address
    # can add to it (the same rate as creating canvases and recoveries).
    services = _services(request)
    ip = address_key(services.client_ip(request))
    refused = await services.check_limits(
        [Bucket(f"oidc:ip:{ip}", services.rates.rooms_ip, 1, "oidc-ip")], "sign-ins")
    if refused is not None:
        return refused
    meta, _ = await provider(request)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    flow = {"nonce": nonce, "verifier": verifier,
            "link": person.id if link and person else None}
    await _services(request).arq.set(_key(request, "state", state), json.dumps(flow),
                                     ex=FLOW_SECONDS)
    async with _client(request) as client:
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state,
                                                 code_verifier=verifier, nonce=nonce)
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(STATE_COOKIE, state, max_age=FLOW_SECONDS, path="/api/auth/oidc",
                        secure=_secure(request), httponly=True, samesite="lax")
    return response


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if not value or len(value) > MAX_PARAM:
        raise SignInError(f"the provider's answer has no usable {name}")
    return value


async def _take_flow(request: Request) -> dict[str, Any]:
    """The flow this callback finishes, taken out of Redis so it can finish only once."""
    state = _param(request, "state")
    if not secrets.compare_digest(state, request.cookies.get(STATE_COOKIE, "")):
        raise SignInError("this sign-in was not started in this browser (or it was already "
                          "finished); start again")
    raw = await _services(request).arq.getdel(_key(request, "state", state))
    if raw is None:
        raise SignInError("this sign-in has already been used or has expired; start again")
    flow: dict[str, Any] = json.loads(raw)
    return flow


async def _id_claims(request: Request, flow: dict[str, Any], code: str) -> dict[str, Any]:
    meta, keys = await provider(request)
    try:
        async with _client(request) as client:
            token = await client.fetch_token(meta["token_endpoint"], code=code,
                                             code_verifier=flow["verifier"],
                                             grant_type="authorization_code")
    except (AuthlibBaseError, httpx2.HTTPError, ValueError) as exc:
        raise SignInError(f"the provider did not accept the sign-in code ({exc})") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInError("the provider sent no id token")
    s = _services(request).settings
    try:
        try:
            decoded = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except (ValueError, KeyError, JoseError) as exc:
            if isinstance(exc, BadSignatureError):
                raise
            # Perhaps a key the provider rotated in since we read its keys: read them again.
            _, keys = await provider(request, fresh=True)
            decoded = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": s.oidc_issuer},
            aud={"essential": True, "value": s.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]},
        ).validate(decoded.claims)
    except BadSignatureError as exc:
        raise SignInError("the id token's signature is not the provider's") from exc
    except ExpiredTokenError as exc:
        raise SignInError("the id token has expired") from exc
    except InvalidClaimError as exc:
        words = {"iss": "was issued by another provider",
                 "aud": "was made for another application",
                 "nonce": "does not belong to this sign-in (its nonce differs)"}
        raise SignInError(f"the id token {words.get(exc.claim, f'has a bad {exc.claim}')}"
                          ) from exc
    except MissingClaimError as exc:
        raise SignInError(f"the id token lacks its {exc.claim}") from exc
    except (ValueError, KeyError, JoseError) as exc:
        raise SignInError(f"the id token could not be checked ({exc})") from exc
    claims: dict[str, Any] = decoded.claims
    if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
        raise SignInError("the id token's subject is not usable")
    return claims


@signin_page
async def oidc_callback(request: Request) -> Response:
    """``GET /api/auth/oidc/callback?code&state`` -> 303 to the gallery, signed in."""
    if not _configured(request):
        raise SignInError("signing in with another account is not set up here", 404)
    if error := request.query_params.get("error"):
        await _take_flow(request)
        described = request.query_params.get("error_description", "")[:200]
        raise SignInError(f"the provider refused the sign-in: {error[:100]}"
                          + (f" ({described})" if described else ""))
    flow = await _take_flow(request)
    claims = await _id_claims(request, flow, _param(request, "code"))
    issuer, subject = _services(request).settings.oidc_issuer, claims["sub"]
    store = SignInStore(_services(request).store.pool)
    linked = await store.person_by_account(issuer, subject)
    name = provider_name(request)
    if flow.get("link"):
        if linked is not None and linked.id != flow["link"]:
            raise SignInError(f"this {name} account is already linked to another handle",
                              409)
        await store.link_account(flow["link"], issuer, subject)
        return _done(request, "/gallery?linked=1")
    if linked is not None:
        secret = new_secret()
        await store.add_secret(linked.id, hash_secret(secret))
        response = _done(request, "/gallery?signed_in=1")
        set_identity_cookie(request, response, secret)
        return response
    # An account with no handle yet: the next claim (POST /api/identity) links it.
    token = secrets.token_urlsafe(32)
    await _services(request).arq.set(_key(request, "pending", token),
                                     json.dumps({"issuer": issuer, "subject": subject}),
                                     ex=FLOW_SECONDS)
    response = _done(request, "/gallery?claim=1")
    response.set_cookie(PENDING_COOKIE, token, max_age=FLOW_SECONDS, path="/api/identity",
                        secure=_secure(request), httponly=True, samesite="lax")
    return response


def _done(request: Request, to: str) -> Response:
    response = RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(STATE_COOKIE, path="/api/auth/oidc")
    return response


async def take_pending(request: Request) -> tuple[str, str] | None:
    """The provider account waiting for this browser's claim (issuer, subject), taken out
    of Redis so it links once; None when there is none."""
    token = request.cookies.get(PENDING_COOKIE)
    if not token or len(token) > MAX_PARAM:
        return None
    raw = await _services(request).arq.getdel(_key(request, "pending", token))
    if raw is None:
        return None
    data = json.loads(raw)
    return str(data["issuer"]), str(data["subject"])


async def link_pending(request: Request, response: Response, person_id: str,
                       pending: tuple[str, str] | None) -> None:
    """After a claim: link the waiting account to the new person, drop the cookie."""
    if pending is None:
        return
    await SignInStore(_services(request).store.pool).link_account(person_id, *pending)
    response.delete_cookie(PENDING_COOKIE, path="/api/identity")
