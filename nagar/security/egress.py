"""Where the server may send requests of its own (webhooks, NGSI-LD notifications): a guard against
server-side request forgery.

A city admin can make Nagar POST to a URL of their choice. Without a guard that URL could name the
server's own loopback, the cloud provider's metadata service (169.254.169.254) or a host on the private
network behind the server, and the delivery status would leak what answers there. So a destination is
refused unless every address its host resolves to is a public unicast address: not loopback, private
(RFC 1918, RFC 4193 unique-local), link-local (RFC 3927 / RFC 4291), carrier-grade NAT (RFC 6598),
multicast, reserved, unspecified or an IPv4-mapped form of those (Python's :mod:`ipaddress`
classification, whose tables follow the IANA special-purpose address registries).

Checked twice: when the URL is registered (a literal address or a name that resolves to a refused
address is a 422), and again before each delivery (a name may be re-pointed after registration).
``Settings.egress_allow_private`` (``NAGAR_EGRESS_ALLOW_PRIVATE=true``) lifts the rule for deployments
whose receivers live on the private network, and for tests with a local receiver.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from nagar.core.errors import InvalidInput


class RefusedDestination(InvalidInput):
    """The URL's host is, or resolves to, an address Nagar does not send to."""


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr, why in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                      ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                      ("is_reserved", "reserved"), ("is_private", "private")):
        if getattr(ip, attr):
            return why
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.IPv4Network("100.64.0.0/10"):
        return "shared (carrier-grade NAT)"
    if not ip.is_global:
        return "not globally routable"
    return None


def check_destination(url: str, *, allow_private: bool = False, resolve: bool = True,
                      field: str = "url") -> None:
    """Refuse ``url`` (:class:`RefusedDestination`, a 422 naming ``field``) unless it is http(s) with a
    host whose every address is public. ``resolve=False`` checks only a literal address or ``localhost``
    (no DNS), for validating input offline; ``allow_private`` accepts any address."""
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed lazily: an out-of-range or non-numeric port raises here
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket, a port of 99999
        raise RefusedDestination(f"{url!r} is not a valid URL: {exc}", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination(f"{url!r} is not an http(s) URL with a host", field=field)
    if allow_private:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise RefusedDestination(f"{host} is this machine (loopback); Nagar sends only to public addresses "
                                 "(set NAGAR_EGRESS_ALLOW_PRIVATE=true to allow private receivers)", field=field)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80),
                                       proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise RefusedDestination(f"host {host!r} does not resolve: {exc}", field=field) from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in addresses:
        why = _refused(ip)
        if why:
            raise RefusedDestination(
                f"{host} is a {why} address ({ip}); Nagar sends only to public addresses "
                "(set NAGAR_EGRESS_ALLOW_PRIVATE=true to allow private receivers)", field=field)
