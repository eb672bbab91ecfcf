"""What ADD configures, computed without a kernel."""

from __future__ import annotations

import ipaddress

import pytest

from ecs_bridge.domain import plan
from ecs_bridge.domain.errors import IPAM_FAILURE, CniError
from ecs_bridge.domain.ports import SCOPE_LINK, SCOPE_UNIVERSE, KernelAddress
from ecs_bridge.domain.types import IPConfig, Result, Route

ip = ipaddress.ip_interface
addr = ipaddress.ip_address
net = ipaddress.ip_network

V4 = IPConfig(ip("169.254.172.2/22"), addr("169.254.172.1"))
V6 = IPConfig(ip("2001:db8::2/64"), addr("2001:db8::1"))



def test_host_veth_names_are_veth_and_eight_hex_digits() -> None:
    assert plan.host_veth_name(lambda n: b"\xde\xad\xbe\xef"[:n]) == "vethdeadbeef"


@pytest.mark.parametrize("first", [0x00, 0x01, 0xFF, 0xFE, 0x03])
def test_bridge_mac_is_always_locally_administered_unicast(first: int) -> None:
    mac = plan.bridge_mac(lambda n: bytes([first] + [0xAB] * (n - 1)))
    octet = int(mac.split(":")[0], 16)
    assert octet & 0x02
    assert not octet & 0x01
    assert mac.endswith(":ab:ab:ab:ab:ab")


def test_container_mac_is_0a58_and_the_ipv4_bytes() -> None:
    assert plan.container_mac([V6, V4]) == "0a:58:a9:fe:ac:02"


def test_container_mac_is_left_to_the_kernel_for_ipv6_only() -> None:
    assert plan.container_mac([V6]) is None


def test_routes_without_gw_go_via_their_familys_gateway_then_gateway_host_routes() -> None:
    result = Result(ips=(V4, V6), routes=(Route(net("169.254.170.2/32")), Route(net("::/0"))))
    assert plan.container_routes(result) == [
        Route(net("169.254.170.2/32"), addr("169.254.172.1")),
        Route(net("::/0"), addr("2001:db8::1")),
        Route(net("169.254.172.1/32"), addr("169.254.172.1")),
        Route(net("2001:db8::1/128"), addr("2001:db8::1")),
    ]


def test_an_explicit_route_gateway_is_kept() -> None:
    result = Result(ips=(V4,), routes=(Route(net("169.254.170.0/24"), addr("169.254.172.9")),))
    assert plan.container_routes(result)[0].gw == addr("169.254.172.9")


def test_a_route_of_a_family_without_address_is_refused() -> None:
    with pytest.raises(CniError) as err:
        plan.container_routes(Result(ips=(V4,), routes=(Route(net("::/0")),)))
    assert err.value.code == IPAM_FAILURE
    assert "::/0" in err.value.msg


def test_a_gateway_host_route_given_by_ipam_is_not_added_twice() -> None:
    result = Result(ips=(V4,), routes=(Route(net("169.254.172.1/32")),))
    assert plan.container_routes(result) == [Route(net("169.254.172.1/32"), addr("169.254.172.1"))]


@pytest.mark.parametrize(
    ("ips", "named"),
    [
        ((), "no IP config"),
        ((IPConfig(ip("169.254.172.2/22")),), "169.254.172.2/22 without a gateway"),
        ((V4, IPConfig(ip("169.254.172.3/22"), addr("169.254.172.1"))), "2 IP configs"),
        ((V4, V6, V6), "3 IP configs"),
        ((IPConfig(ip("169.254.172.2/22"), addr("169.254.180.1")),), "169.254.180.1"),
        ((IPConfig(ip("169.254.172.2/22"), addr("169.254.172.2")),), "169.254.172.2"),
    ],
)
def test_unusable_ipam_results_are_refused(ips: tuple[IPConfig, ...], named: str) -> None:
    with pytest.raises(CniError) as err:
        plan.validate_ipam_result(Result(ips=ips), "ecs-ipam")
    assert err.value.code == IPAM_FAILURE
    assert named in err.value.msg


def test_one_or_two_ip_configs_with_gateways_are_accepted() -> None:
    plan.validate_ipam_result(Result(ips=(V4, V6)), "ecs-ipam")
    plan.validate_ipam_result(Result(ips=(V6,)), "ecs-ipam")


def test_the_bridge_carries_gateway_slash_prefix() -> None:
    assert plan.bridge_address(V4) == ip("169.254.172.1/22")
    assert plan.bridge_address(V6) == ip("2001:db8::1/64")


def test_only_another_global_address_of_the_same_family_conflicts() -> None:
    want = ip("169.254.172.1/22")
    present = [
        KernelAddress(ip("fe80::1/64"), SCOPE_LINK),
        KernelAddress(ip("2001:db8::1/64"), SCOPE_UNIVERSE),
        KernelAddress(want, SCOPE_UNIVERSE),
    ]
    assert plan.conflicting_address(want, present) is None
    other = KernelAddress(ip("169.254.100.1/24"), SCOPE_UNIVERSE)
    assert plan.conflicting_address(want, [*present, other]) == other.address
    assert plan.conflicting_address(ip("169.254.172.1/24"), present) == want


def test_a_chained_result_keeps_the_previous_plugins_and_shifts_our_indexes() -> None:
    from ecs_bridge.domain.types import DNS, Interface  # noqa: PLC0415

    prev = Result(interfaces=(Interface("tap0"),), ips=(IPConfig(ip("2001:db8::9/64"),
                                                                 interface=0),),
                  routes=(Route(net("::/0")),), dns=DNS(domain="example"))
    ours = Result(interfaces=(Interface("br"), Interface("veth1"), Interface("eth0")),
                  ips=(IPConfig(ip("169.254.172.2/22"), addr("169.254.172.1"), interface=2),),
                  routes=(Route(net("169.254.170.2/32")),))
    chained = plan.chain_result(prev, ours)
    assert [i.name for i in chained.interfaces] == ["tap0", "br", "veth1", "eth0"]
    assert [ip.interface for ip in chained.ips] == [0, 3]
    assert chained.routes == (Route(net("::/0")), Route(net("169.254.170.2/32")))
    assert chained.dns == DNS(domain="example")
    assert plan.chain_result(None, ours) is ours
