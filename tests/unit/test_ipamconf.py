"""Parsing the `ipam` object: what is accepted, and a corpus of what is refused."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from ecs_bridge.domain.errors import INVALID_CONFIG, CniError
from ecs_bridge.domain.ipamconf import parse_ipam_config
from ecs_bridge.domain.types import Route

AGENT_IPAM = {"id": "0a:1b:2c:3d:4e:5f", "ipv4-routes": [{"dst": "169.254.170.2/32"}],
              "ipv4-subnet": "169.254.172.0/22", "type": "ecs-ipam"}


def parse(ipam: Any, command: str = "ADD") -> Any:
    return parse_ipam_config({"cniVersion": "0.3.0", "name": "n", "ipam": ipam}, command=command)


def test_the_ecs_agent_config_parses_with_the_default_gateway() -> None:
    config = parse(AGENT_IPAM)
    assert config.type == "ecs-ipam"
    assert config.id == "0a:1b:2c:3d:4e:5f"
    (v4,) = config.families
    assert v4.subnet == ipaddress.ip_network("169.254.172.0/22")
    assert v4.gateway == ipaddress.ip_address("169.254.172.1")
    assert v4.address is None
    assert config.routes == (Route(ipaddress.ip_network("169.254.170.2/32")),)


def test_host_range_skips_network_and_ipv4_broadcast_but_not_the_last_ipv6_address() -> None:
    config = parse({"type": "ecs-ipam", "ipv4-subnet": "10.0.0.0/29",
                    "ipv6-subnet": "fd00::/126"})
    v4, v6 = config.families
    assert (str(v4.first), str(v4.last)) == ("10.0.0.1", "10.0.0.6")
    assert (str(v6.first), str(v6.last)) == ("fd00::1", "fd00::3")


def test_dual_stack_lists_ipv4_first_and_routes_ipv4_then_ipv6() -> None:
    config = parse({"type": "ecs-ipam", "ipv6-subnet": "fd00:ec2::172:0/112",
                    "ipv6-routes": [{"dst": "fd00:ec2::254/128"}],
                    "ipv4-subnet": "169.254.172.0/22",
                    "ipv4-routes": [{"dst": "169.254.170.2/32", "gw": "169.254.172.1"}]})
    assert [f.version for f in config.families] == [4, 6]
    assert [r.dst.version for r in config.routes] == [4, 6]
    assert str(config.routes[0].gw) == "169.254.172.1"
    assert str(config.families[1].gateway) == "fd00:ec2::172:1"


def test_exact_address_and_gateway_are_read() -> None:
    config = parse({"type": "ecs-ipam", "ipv4-subnet": "10.0.0.0/24",
                    "ipv4-gateway": "10.0.0.254", "ipv4-address": "10.0.0.7/24"})
    (v4,) = config.families
    assert (str(v4.gateway), str(v4.address)) == ("10.0.0.254", "10.0.0.7")
    assert str(v4.interface(v4.address)) == "10.0.0.7/24"


def test_unknown_keys_are_ignored_and_an_empty_id_means_no_id() -> None:
    config = parse({**AGENT_IPAM, "id": "", "dataDir": "/x", "whatever": [1]})
    assert config.id == ""


@pytest.mark.parametrize("command", ["DEL"])
@pytest.mark.parametrize("ipam", [None, {}])
def test_del_accepts_a_missing_or_empty_ipam(ipam: Any, command: str) -> None:
    raw = {"cniVersion": "0.3.0", "name": "n"} if ipam is None else {"ipam": ipam}
    config = parse_ipam_config(raw, command=command)
    assert (config.type, config.id, config.families) == ("", "", ())


def test_del_accepts_an_ipam_without_subnets() -> None:
    assert parse({"type": "ecs-ipam", "id": "t"}, "DEL").families == ()


BAD: list[tuple[str, Any, str]] = [
    # (what, ipam object, text the message must contain)
    ("ipam not an object", "ecs-ipam", "ecs-ipam"),
    ("ipam empty on ADD", {}, '"ipam"'),
    ("type missing", {"ipv4-subnet": "10.0.0.0/24"}, "ipam.type"),
    ("type empty", {"type": "", "ipv4-subnet": "10.0.0.0/24"}, "ipam.type ''"),
    ("type not a string", {"type": 7, "ipv4-subnet": "10.0.0.0/24"}, "number 7"),
    ("no subnet", {"type": "ecs-ipam", "id": "x"}, "ipam.ipv4-subnet or ipam.ipv6-subnet"),
    ("subnet /31", {"type": "t", "ipv4-subnet": "169.254.0.0/31"}, "'169.254.0.0/31'"),
    ("subnet /32", {"type": "t", "ipv4-subnet": "169.254.0.1/32"}, "'169.254.0.1/32'"),
    ("subnet /127", {"type": "t", "ipv6-subnet": "fd00::/127"}, "'fd00::/127'"),
    ("subnet host bits", {"type": "t", "ipv4-subnet": "10.0.0.1/24"}, "'10.0.0.1/24'"),
    ("subnet garbage", {"type": "t", "ipv4-subnet": "ten/8"}, "'ten/8'"),
    ("subnet not a string", {"type": "t", "ipv4-subnet": 10}, "number 10"),
    ("v6 in v4 subnet", {"type": "t", "ipv4-subnet": "fd00::/64"}, "'fd00::/64' is an IPv6"),
    ("v4 in v6 subnet", {"type": "t", "ipv6-subnet": "10.0.0.0/8"}, "'10.0.0.0/8' is an IPv4"),
    ("gateway outside", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-gateway": "10.0.1.1"}, "'10.0.1.1' is not in"),
    ("gateway network", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-gateway": "10.0.0.0"}, "'10.0.0.0' is the network address"),
    ("gateway broadcast", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                           "ipv4-gateway": "10.0.0.255"}, "'10.0.0.255' is the broadcast"),
    ("v6 gateway network", {"type": "t", "ipv6-subnet": "fd00::/64",
                            "ipv6-gateway": "fd00::"}, "'fd00::' is the network address"),
    ("v6 gateway in v4 field", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                                "ipv4-gateway": "fd00::1"}, "'fd00::1' is an IPv6"),
    ("gateway garbage", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-gateway": "gw"}, "'gw' is not an IP address"),
    ("address outside", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-address": "10.0.9.9/24"}, "'10.0.9.9/24' is not in"),
    ("address network", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-address": "10.0.0.0/24"}, "'10.0.0.0/24' is the network"),
    ("address broadcast", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                           "ipv4-address": "10.0.0.255/24"}, "'10.0.0.255/24' is the broadcast"),
    ("address gateway", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                         "ipv4-address": "10.0.0.1/24"}, "'10.0.0.1/24' is the gateway"),
    ("address not CIDR", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                          "ipv4-address": "10.0.0.9"}, "'10.0.0.9' is not in CIDR"),
    ("v6 address network", {"type": "t", "ipv6-subnet": "fd00::/64",
                            "ipv6-address": "fd00::/64"}, "'fd00::/64' is the network"),
    ("v4 address in v6 field", {"type": "t", "ipv6-subnet": "fd00::/64",
                                "ipv6-address": "10.0.0.2/24"}, "'10.0.0.2/24' is an IPv4"),
    ("address without subnet", {"type": "t", "ipv6-subnet": "fd00::/64",
                                "ipv4-address": "10.0.0.2/24"}, "ipam.ipv4-address is set"),
    ("routes not a list", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                           "ipv4-routes": {"dst": "0.0.0.0/0"}}, "ipam.ipv4-routes must be"),
    ("route not an object", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                             "ipv4-routes": ["0.0.0.0/0"]}, "'0.0.0.0/0'"),
    ("route without dst", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                           "ipv4-routes": [{"gw": "10.0.0.1"}]}, "{'gw': '10.0.0.1'}"),
    ("route dst garbage", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                           "ipv4-routes": [{"dst": "nowhere"}]}, "'nowhere'"),
    ("v6 route in v4 list", {"type": "t", "ipv4-subnet": "10.0.0.0/24",
                             "ipv4-routes": [{"dst": "::/0"}]}, "'::/0' is an IPv6"),
    ("route gw of other family", {"type": "t", "ipv6-subnet": "fd00::/64",
                                  "ipv6-routes": [{"dst": "::/0", "gw": "10.0.0.1"}]},
     "'10.0.0.1' is an IPv4"),
    ("id not a string", {"type": "t", "ipv4-subnet": "10.0.0.0/24", "id": 42}, "number 42"),
]


@pytest.mark.parametrize(("ipam", "needle"), [(b[1], b[2]) for b in BAD],
                         ids=[b[0] for b in BAD])
def test_a_bad_ipam_config_is_error_7_quoting_the_bad_value(ipam: Any, needle: str) -> None:
    with pytest.raises(CniError) as caught:
        parse(ipam)
    assert caught.value.code == INVALID_CONFIG
    assert needle in str(caught.value)


def test_a_bad_value_is_refused_on_del_too() -> None:
    with pytest.raises(CniError, match=re.escape("'10.0.0.1/24' has host bits set")):
        parse({"type": "t", "ipv4-subnet": "10.0.0.1/24", "id": "x"}, "DEL")
