"""Typed reads from decoded JSON, each failing with a CNI error that quotes the value.

`where` names the place in the config (for example `ipam.ipv4-subnet`) so the
operator can find the bad value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ecs_bridge.domain.errors import INVALID_CONFIG, CniError
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = [
    "invalid",
    "opt_int",
    "opt_list",
    "opt_object",
    "opt_str",
    "parse_address",
    "parse_interface",
    "parse_network",
    "require_object",
]


def invalid(msg: str, details: str = "") -> CniError:
    """An invalid-network-config error (code 7)."""
    return CniError(INVALID_CONFIG, msg, details)


def _kind(value: object) -> str:
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _wrong_type(where: str, expected: str, value: object) -> CniError:
    return invalid(f"{where} must be {expected}, got {_kind(value)} {_shorten(value)}")


def _shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _wrong_type(where, "an object", value)
    return value


def opt_object(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = raw.get(key)
    return None if value is None else require_object(value, where)


def opt_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type(where, "a string", value)
    return value


def opt_int(raw: Mapping[str, Any], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    # JSON has one number type: accept 1500.0, refuse 1500.5 and booleans.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(where, "an integer", value)
    return value


def opt_list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(where, "an array", value)
    return value


def _require_text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(where, "a string", value)
    return value


def parse_address(value: object, where: str, *, version: int | None = None) -> IPAddress:
    """A bare IP address (`169.254.172.1`), of the given family if one is named."""
    text = _require_text(value, where)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise invalid(f"{where} {text!r} is not an IP address") from None
    _check_family(address.version, version, where, text)
    return address


def parse_interface(value: object, where: str, *, version: int | None = None) -> IPInterface:
    """An address with its prefix length (`169.254.172.2/22`)."""
    text = _require_text(value, where)
    if "/" not in text:
        raise invalid(f"{where} {text!r} is not in CIDR notation (address/prefix)")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise invalid(f"{where} {text!r} is not a valid CIDR address") from None
    _check_family(iface.version, version, where, text)
    return iface


def parse_network(value: object, where: str, *, version: int | None = None) -> IPNetwork:
    """A network. Host bits set is an error: `10.0.0.1/24` is not a subnet.

    A bare address (no `/`) is accepted as a host route (/32 or /128), as route
    destinations in CNI results are sometimes written.
    """
    text = _require_text(value, where)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise invalid(f"{where} {text!r} has host bits set") from None
        raise invalid(f"{where} {text!r} is not a valid CIDR network") from None
    _check_family(network.version, version, where, text)
    return network


def _check_family(found: int, wanted: int | None, where: str, text: str) -> None:
    if wanted is not None and found != wanted:
        raise invalid(f"{where} {text!r} is an IPv{found} value where IPv{wanted} is expected")
