"""HTTP connections that reach public addresses only, for a canvas's own base URL.

A room's OpenAI-compatible ``base_url`` is checked when it is set (``sync.keys``), but a
name can be pointed at another address later (DNS rebinding), and a public endpoint can
redirect. So the worker resolves the name itself at every new connection, refuses when any
address it gets is inside the server's network, and connects to an address it checked:
there is no second lookup for the name to change in between. TLS still verifies the
certificate for the name. Proxies from the environment are not used for these connections
(through a proxy, the address reached could not be checked).

    InternalAddressError (httpcore2.ConnectError)   the name points inside the network
    public_only_client()                            an ``httpx2.AsyncClient`` doing this
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore2
import httpx2

from sync.addresses import is_internal, why_internal

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The SDK's own defaults for its client (openai._constants).
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


class InternalAddressError(httpcore2.ConnectError):
    def __init__(self, host: str, address: str, why: str = "") -> None:
        self.host = host
        self.address = address
        self.why = why
        said = f", {why}" if why else ""
        super().__init__(f"{host} resolves to {address}{said}, an address inside the "
                         "server's network; this canvas's base URL must be a public endpoint")


class PublicOnlyBackend(httpcore2.AsyncNetworkBackend):
    """Resolves each host, refuses internal addresses, connects to the checked ones."""

    def __init__(self, refuse: Callable[[Address], bool] = is_internal) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self._refuse = refuse

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if self._refuse(ip):
                raise InternalAddressError(host, address, why_internal(ip) or "")
        return addresses

    # The signatures are httpcore's network backend interface (hence the timeout arguments).
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolve(host, port), timeout)
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"{host} does not resolve: {exc}") from exc
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host} took too long") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore2.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("a canvas's base URL cannot be a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, refuse: Callable[[Address], bool] = is_internal) -> None:
        super().__init__(trust_env=False, limits=_LIMITS)
        # httpx2 takes no network backend, so its pool (which has opened nothing yet) is
        # replaced by one that connects through the check. The tests in
        # tests/integration/test_public_only.py fail if this stops taking effect.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=PublicOnlyBackend(refuse))


def public_only_client(timeout: float, refuse: Callable[[Address], bool] = is_internal
                       ) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=PublicOnlyTransport(refuse), timeout=timeout,
                              follow_redirects=True, trust_env=False)


def internal_address(exc: BaseException) -> InternalAddressError | None:
    """The refusal behind an SDK or transport error, if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InternalAddressError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
