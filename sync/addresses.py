"""Which IP addresses lie outside the server's own network, for URLs people choose.

A room's editor may point the room's model calls at an endpoint of their own (``sync.keys``);
the worker must not become their way into the services next to it. So an address is
refused unless it is globally reachable, and "globally reachable" is decided here rather
than by ``ipaddress.is_global`` alone: Python 3.11 counts the NAT64, 6to4, IPv4-compatible
and site-local spellings of internal addresses as global (``64:ff9b::7f00:1`` is
127.0.0.1 behind a NAT64 gateway), and misses some newer special-purpose ranges.

The rules, in order:

* IPv6 addresses that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, the
  IPv4-translated ``::ffff:0:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64
  ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) are decoded, and the IPv4
  address is checked as if it had been written itself;
* every range of the IANA special-purpose registries that is not globally reachable is
  refused by name (loopback, private, shared 100.64/10, link-local, documentation,
  benchmarking, multicast, reserved, site-local, unique local, local-use NAT64 ...);
* IPv6 outside the global unicast range ``2000::/3`` is refused, except the embedding forms
  above when what they carry is public;
* whatever ``ipaddress`` still calls not global is refused too.

``why_internal`` names the reason (for an error a person reads); ``is_internal`` is the
yes/no the worker's connection guard asks (``worker/providers/public_only.py``).
"""

from __future__ import annotations

import ipaddress
from typing import Final

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4_RANGES: Final = tuple((ipaddress.IPv4Network(net), why) for net, why in (
    ("0.0.0.0/8", "'this network' (0.0.0.0/8), not a destination"),
    ("10.0.0.0/8", "a private address (10.0.0.0/8)"),
    ("100.64.0.0/10", "shared address space (100.64.0.0/10, carrier-grade NAT)"),
    ("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
    ("169.254.0.0/16", "a link-local address (169.254.0.0/16)"),
    ("172.16.0.0/12", "a private address (172.16.0.0/12)"),
    ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
    ("192.0.2.0/24", "a documentation address (192.0.2.0/24)"),
    ("192.88.99.0/24", "the deprecated 6to4 relay anycast range (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private address (192.168.0.0/16)"),
    ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
    ("198.51.100.0/24", "a documentation address (198.51.100.0/24)"),
    ("203.0.113.0/24", "a documentation address (203.0.113.0/24)"),
    ("224.0.0.0/4", "a multicast address (224.0.0.0/4)"),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4, broadcast included)"),
))

_V6_RANGES: Final = tuple((ipaddress.IPv6Network(net), why) for net, why in (
    ("::/128", "the unspecified address (::)"),
    ("::1/128", "the loopback address (::1)"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
    ("100::/64", "a discard-only address (100::/64)"),
    ("2001::/32", "a Teredo tunnel address (2001::/32)"),
    ("2001:2::/48", "a benchmarking address (2001:2::/48)"),
    ("2001::/23", "an IETF protocol assignment (2001::/23: benchmarking, ORCHID ...)"),
    ("2001:db8::/32", "a documentation address (2001:db8::/32)"),
    ("3fff::/20", "a documentation address (3fff::/20)"),
    ("5f00::/16", "a segment-routing address (5f00::/16)"),
    ("fc00::/7", "a unique local (private) address (fc00::/7)"),
    ("fe80::/10", "a link-local address (fe80::/10)"),
    ("fec0::/10", "a site-local address (fec0::/10, deprecated)"),
    ("ff00::/8", "a multicast address (ff00::/8)"),
))

_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_TRANSLATED: Final = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SIXTOFOUR: Final = ipaddress.IPv6Network("2002::/16")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form, or None.

    Traffic to these reaches (or may reach, through a gateway or tunnel the network
    provides) the IPv4 address inside, so that is the address to judge."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped address (::ffff:0:0/96)", address.ipv4_mapped
    if address in _TRANSLATED:
        return "an IPv4-translated address (::ffff:0:0:0/96)", low32
    if address in _COMPATIBLE and int(address) > 1:
        return "an IPv4-compatible address (::/96)", low32
    if address in _NAT64:
        return "a NAT64 address (64:ff9b::/96)", low32
    if address.sixtofour is not None:
        return "a 6to4 address (2002::/16)", address.sixtofour
    if address.teredo is not None:
        return "a Teredo address (2001::/32)", address.teredo[1]
    return None


def _v4_reason(address: ipaddress.IPv4Address) -> str | None:
    for net, why in _V4_RANGES:
        if address in net:
            return why
    if not address.is_global or address.is_multicast:
        return "not a globally reachable address"
    return None


def why_internal(address: Address) -> str | None:
    """Why ``address`` is not a public destination (a phrase for an error message), or
    None when it is one."""
    if isinstance(address, ipaddress.IPv4Address):
        return _v4_reason(address)
    if address.scope_id:  # fe80::1%eth0: scoped to one of this host's links
        return "an address scoped to one of the server's own links"
    carried = embedded_ipv4(address)
    if carried is not None:
        form, inner = carried
        inner_why = _v4_reason(inner)
        if inner_why is not None:
            return f"{form} carrying {inner}, {inner_why}"
    for net, why in _V6_RANGES:
        if address in net:
            return why
    if carried is not None and address not in _SIXTOFOUR:
        return None  # mapped, translated, compatible, NAT64: the public IPv4 inside decides
    if address not in _GLOBAL_UNICAST:
        return "a reserved address (outside the global unicast range 2000::/3)"
    if not address.is_global or address.is_multicast:
        return "not a globally reachable address"
    return None


def is_internal(address: Address) -> bool:
    """True for an address inside the server's network (or no real destination at all)."""
    return why_internal(address) is not None


__all__ = ["Address", "embedded_ipv4", "is_internal", "why_internal"]
