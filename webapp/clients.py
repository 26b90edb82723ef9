"""Who is asking: the client's address and browser as this request reports them.

Shared by every blueprint that records an address (audit entries, sign-ins, sessions) and by the rate
limiter, so that all of them see the same visitor (behind TRUSTED_PROXIES, the address ProxyFix reports).
"""
from __future__ import annotations

import ipaddress

from flask import request


def client_ip() -> str | None:
    """The visitor's address, as recorded in audit entries and sign-in history."""
    return request.remote_addr


def user_agent() -> str:
    """The browser's own description, cut to what the sign-in records keep."""
    return request.headers.get("User-Agent", "")[:300]


def client_key() -> str:
    """Who a rate limit counts: the visitor's address (as ProxyFix reports it behind TRUSTED_PROXIES), or for
    IPv6 its /64, since one host or home network usually holds a whole /64 and could otherwise take a fresh
    address for every guess."""
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
