"""The result on the wire: every version's shape, and decode(encode(r)) == r."""

from __future__ import annotations

import ipaddress

import pytest

from ecs_bridge.domain import resultcodec
from ecs_bridge.domain.errors import DECODE_FAILURE, INCOMPATIBLE_VERSION, CniError
from ecs_bridge.domain.types import DNS, Interface, IPConfig, Result, Route
from ecs_bridge.domain.versions import SUPPORTED_VERSIONS

ip = ipaddress.ip_interface
addr = ipaddress.ip_address
net = ipaddress.ip_network

DUAL = Result(
    interfaces=(
        Interface("ecs-br0", "02:00:00:00:00:01"),
        Interface("veth01020304", "aa:bb:cc:dd:ee:ff"),
        Interface("eth0", "0a:58:a9:fe:ac:02", sandbox="/run/netns/c"),
    ),
    ips=(
        IPConfig(ip("169.254.172.2/22"), addr("169.254.172.1"), interface=2),
        IPConfig(ip("2001:db8::2/64"), addr("2001:db8::1"), interface=2),
    ),
    routes=(
        Route(net("169.254.170.2/32"), addr("169.254.172.1")),
        Route(net("::/0")),
    ),
    dns=DNS(nameservers=("169.254.169.253",)),
)


def test_current_versions_print_interfaces_ips_routes_and_dns() -> None:
    out = resultcodec.encode(DUAL, "0.3.1")
    assert out["cniVersion"] == "0.3.1"
    assert out["interfaces"][2] == {"name": "eth0", "mac": "0a:58:a9:fe:ac:02",
                                    "sandbox": "/run/netns/c"}
    assert out["ips"][0] == {"version": "4", "address": "169.254.172.2/22",
                             "gateway": "169.254.172.1", "interface": 2}
    assert out["routes"] == [{"dst": "169.254.170.2/32", "gw": "169.254.172.1"},
                             {"dst": "::/0"}]
    assert out["dns"] == {"nameservers": ["169.254.169.253"]}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_version_one_and_later_drop_the_ip_version_field(version: str) -> None:
    out = resultcodec.encode(DUAL, version)
    assert all("version" not in entry for entry in out["ips"])
    assert out["ips"][1]["address"] == "2001:db8::2/64"


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_legacy_versions_print_ip4_and_ip6_with_their_own_routes(version: str) -> None:
    out = resultcodec.encode(DUAL, version)
    assert set(out) == {"cniVersion", "ip4", "ip6", "dns"}
    assert out["ip4"] == {"ip": "169.254.172.2/22", "gateway": "169.254.172.1",
                          "routes": [{"dst": "169.254.170.2/32", "gw": "169.254.172.1"}]}
    assert out["ip6"] == {"ip": "2001:db8::2/64", "gateway": "2001:db8::1",
                          "routes": [{"dst": "::/0"}]}


def test_legacy_versions_cannot_print_a_result_without_addresses() -> None:
    with pytest.raises(CniError) as err:
        resultcodec.encode(Result(), "0.2.0")
    assert err.value.code == INCOMPATIBLE_VERSION


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_decode_reads_back_what_encode_printed(version: str) -> None:
    decoded = resultcodec.decode(resultcodec.encode(DUAL, version), version)
    assert [i.address for i in decoded.ips] == [i.address for i in DUAL.ips]
    assert [i.gateway for i in decoded.ips] == [i.gateway for i in DUAL.ips]
    assert set(decoded.routes) == set(DUAL.routes)
    assert decoded.dns == DUAL.dns
    if version >= "0.3.0":
        assert decoded == DUAL


def test_decode_uses_the_config_version_when_the_result_names_none() -> None:
    raw = {"ip4": {"ip": "169.254.172.9/22", "gateway": "169.254.172.1"}}
    assert resultcodec.decode(raw, "0.2.0").ips[0].address == ip("169.254.172.9/22")


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"cniVersion": "1.0.0", "ips": [{"address": "169.254.172.300/22"}]}, "169.254.172.300"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "169.254.172.3"}]}, "169.254.172.3"),
        ({"cniVersion": "1.0.0", "ips": "nope"}, "ips"),
        ({"cniVersion": "1.0.0", "routes": [{"dst": "10.0.0.1/8"}]}, "10.0.0.1/8"),
        ({"cniVersion": "1.0.0", "ips": [{"address": "2001:db8::2/64",
                                          "gateway": "169.254.0.1"}]}, "169.254.0.1"),
    ],
)
def test_decode_refuses_malformed_results_naming_the_bad_value(raw: object, named: str) -> None:
    with pytest.raises(CniError) as err:
        resultcodec.decode(raw, "1.0.0")
    assert err.value.code == DECODE_FAILURE
    assert named in str(err.value)


def test_decode_refuses_an_unknown_result_version() -> None:
    with pytest.raises(CniError) as err:
        resultcodec.decode({"cniVersion": "9.9.9"}, "1.0.0")
    assert err.value.code == INCOMPATIBLE_VERSION
