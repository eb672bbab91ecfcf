"""Properties of config parsing, checked with hypothesis: whatever JSON arrives, the
parsers answer with a value or a CniError (never another exception), and their
decisions match the rules they implement for every value, not only the listed ones."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ecs_bridge.cli import cni
from ecs_bridge.domain import gc, resultcodec
from ecs_bridge.domain.cnienv import parse_env
from ecs_bridge.domain.errors import INVALID_CONFIG, CniError
from ecs_bridge.domain.ipamconf import MAX_PREFIX, parse_ipam_config
from ecs_bridge.domain.netconf import parse_bridge_config
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS

FAST = settings(max_examples=200, deadline=None)

KEYS = ["bridge", "mtu", "ipam", "type", "id", "name", "cniVersion", "ipv4-subnet",
        "ipv4-address", "ipv4-gateway", "ipv4-routes", "ipv6-subnet", "ipv6-address",
        "ipv6-gateway", "ipv6-routes", "dst", "gw", "ips", "ip4", "ip6", "address", "gateway",
        "interfaces", "interface", "routes", "dns", "nameservers", "containerID", "ifname",
        "cni.dev/valid-attachments"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=20) | st.sampled_from(["169.254.172.0/22", "2001:db8::/64",
                                                     "169.254.172.1", "ecs-ipam", "0.4.0"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=6), max_leaves=20)
"""Any JSON value, biased toward the keys and values the parsers look at."""
OBJECTS = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8)


def refused_or_parsed(parse: Any, *args: Any, **kwargs: Any) -> None:
    """Call `parse`: any exception but a CniError with a message fails the test."""
    try:
        parse(*args, **kwargs)
    except CniError as exc:
        error = exc
    else:
        return
    assert error.msg


@FAST
@given(config=OBJECTS, ipam=OBJECTS, command=st.sampled_from(["ADD", "DEL", "CHECK", "GC"]))
def test_any_json_gets_a_config_or_a_cni_error_from_every_parser(
    config: dict[str, Any], ipam: dict[str, Any], command: str,
) -> None:
    for raw in (config, {**config, "ipam": ipam}):
        refused_or_parsed(parse_bridge_config, raw, command=command)
        refused_or_parsed(parse_ipam_config, raw, command=command)
        refused_or_parsed(gc.valid_attachments, raw)
    for version in SUPPORTED_VERSIONS:
        refused_or_parsed(resultcodec.decode, config, version)
        refused_or_parsed(resultcodec.decode, {**config, "cniVersion": version}, "0.3.0")


@FAST
@given(value=JSON)
def test_any_json_on_stdin_is_a_config_or_refused_with_code_6(value: Any) -> None:
    data = json.dumps(value).encode()
    if isinstance(value, dict):
        assert json.dumps(cni._decode_config(data)) == data.decode()  # (NaN != NaN)
    else:
        with pytest.raises(CniError) as err:
            cni._decode_config(data)
        assert err.value.code == 6


@FAST
@given(environ=st.dictionaries(
    st.sampled_from(["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH",
                     "CNI_ARGS"]), st.text(max_size=30)))
def test_any_environment_is_parsed_or_refused_with_a_cni_error(
    environ: dict[str, str],
) -> None:
    refused_or_parsed(parse_env, environ, required=("CNI_CONTAINERID", "CNI_IFNAME"))


def _bridge_name_ok(name: str) -> bool:
    return (0 < len(name.encode()) <= 15 and name not in (".", "..")
            and not any(c in "/:\0" or c.isspace() for c in name))


@FAST
@given(name=st.text(max_size=20))
def test_a_bridge_name_is_accepted_exactly_when_the_kernel_could_take_it(name: str) -> None:
    raw = {"bridge": name, "ipam": {"type": "ecs-ipam"}}
    if _bridge_name_ok(name):
        assert parse_bridge_config(raw, command="ADD").bridge == name
    else:
        with pytest.raises(CniError) as err:
            parse_bridge_config(raw, command="ADD")
        assert err.value.code == INVALID_CONFIG
        assert repr(name) in err.value.msg


@FAST
@given(mtu=st.integers(min_value=-(2**70), max_value=2**70))
def test_mtu_is_accepted_exactly_from_68_to_65535_with_0_meaning_1500(mtu: int) -> None:
    raw = {"bridge": "br0", "mtu": mtu, "ipam": {"type": "ecs-ipam"}}
    if mtu == 0 or 68 <= mtu <= 65535:
        assert parse_bridge_config(raw, command="ADD").mtu == (mtu or 1500)
    else:
        with pytest.raises(CniError) as err:
            parse_bridge_config(raw, command="ADD")
        assert (err.value.code, f"mtu {mtu} " in err.value.msg) == (INVALID_CONFIG, True)


@st.composite
def subnets(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if draw(st.booleans()):
        return ipaddress.ip_network((draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 32))),
                                    strict=False)
    return ipaddress.ip_network((draw(st.integers(0, 2**128 - 1)), draw(st.integers(0, 128))),
                                strict=False)


def _ipam(subnet: Any, **keys: str) -> dict[str, Any]:
    family = f"ipv{subnet.version}"
    return {"ipam": {"type": "ecs-ipam", f"{family}-subnet": subnet.with_prefixlen,
                     **{f"{family}-{k}": v for k, v in keys.items()}}}


@FAST
@given(subnet=subnets())
def test_a_subnet_is_a_pool_exactly_when_it_leaves_a_gateway_and_one_address(
    subnet: Any,
) -> None:
    if subnet.prefixlen <= MAX_PREFIX[subnet.version]:
        (family,) = parse_ipam_config(_ipam(subnet), command="ADD").families
        assert family.subnet == subnet
        assert family.gateway == subnet.network_address + 1  # the default gateway
        assert int(family.first) < int(family.last)  # room for the gateway and one more
        assert family.last < subnet.broadcast_address or subnet.version == 6
    else:
        with pytest.raises(CniError) as err:
            parse_ipam_config(_ipam(subnet), command="ADD")
        assert err.value.code == INVALID_CONFIG
        assert f"{subnet.with_prefixlen!r} is too small" in err.value.msg


@FAST
@given(subnet=subnets(), offset=st.integers(min_value=-(2**16), max_value=2**16),
       as_gateway=st.booleans())
def test_an_address_or_gateway_is_accepted_exactly_when_it_is_a_host_of_the_subnet(
    subnet: Any, offset: int, as_gateway: bool,
) -> None:
    assume(subnet.prefixlen <= MAX_PREFIX[subnet.version])
    value = int(subnet.network_address) + offset
    assume(0 <= value < 2 ** (32 if subnet.version == 4 else 128))
    address = ipaddress.ip_address(value) if subnet.version == 6 else ipaddress.IPv4Address(value)
    host = (address in subnet and address != subnet.network_address
            and not (subnet.version == 4 and address == subnet.broadcast_address))
    if as_gateway:
        raw = _ipam(subnet, gateway=str(address))
    else:
        raw = _ipam(subnet, address=f"{address}/{subnet.prefixlen}")
        host = host and address != subnet.network_address + 1  # the default gateway
    if host:
        (family,) = parse_ipam_config(raw, command="ADD").families
        assert (family.gateway if as_gateway else family.address) == address
    else:
        with pytest.raises(CniError) as err:
            parse_ipam_config(raw, command="ADD")
        assert err.value.code == INVALID_CONFIG
        assert str(address) in err.value.msg
