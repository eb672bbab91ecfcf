"""Kernel contract, part 2: addresses and routes.

Most tests work on `eth0`, the container end of a veth pair whose host end stays
down: `eth0` is up without carrier, so no IPv6 link-local address or fe80::/64
route appears and the route sets are exact.
"""

from __future__ import annotations

import pytest

from ecs_bridge.domain.errors import AddressExists, KernelError, LinkNotFound, RouteExists
from ecs_bridge.domain.ports import SCOPE_LINK, SCOPE_UNIVERSE, KernelAddress, KernelRoute
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork
from tests.kernel_contract import KernelEnv, addr, iface, net, routes_of

__all__ = ["TestAddresses", "TestPrefixRoutes", "TestRoutes"]

V4, V6 = iface("169.254.172.5/22"), iface("2001:db8:172::5/64")
GW4, GW6 = addr("169.254.172.1"), addr("2001:db8:172::1")
CREDS4, CREDS6 = net("169.254.170.2/32"), net("2001:db8:170::2/128")
PREFIX4, PREFIX6 = (V4.network, None), (V6.network, None)


def _wire(env: KernelEnv, host_name: str = "veth0", ctr_name: str = "eth0") -> None:
    """A veth pair whose container end is up (without carrier: the host end is down)."""
    env.host.add_veth(host_name, peer_name=ctr_name, peer_ns=env.container, mtu=1500)
    env.container.set_link(ctr_name, up=True)


def _addressed(env: KernelEnv) -> None:
    _wire(env)
    env.container.add_address("eth0", V4)
    env.container.add_address("eth0", V6, nodad=True)


class TestAddresses:
    def test_addresses_of_both_families_are_listed_with_global_scope(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        assert sorted(kernel_env.container.list_addresses("eth0"), key=str) == sorted(
            [KernelAddress(V4, SCOPE_UNIVERSE), KernelAddress(V6, SCOPE_UNIVERSE)], key=str)

    @pytest.mark.parametrize("address", [V4, V6], ids=["ipv4", "ipv6"])
    def test_adding_an_address_twice_raises_address_exists(
        self, kernel_env: KernelEnv, address: IPInterface
    ) -> None:
        _addressed(kernel_env)
        with pytest.raises(AddressExists):
            kernel_env.container.add_address("eth0", address, nodad=True)

    def test_the_same_ipv4_address_with_another_prefix_is_another_address(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_address("eth0", iface("169.254.172.5/24"))
        listed = {a.address for a in kernel_env.container.list_addresses("eth0")}
        assert {V4, iface("169.254.172.5/24")} <= listed

    def test_the_same_ipv6_address_with_another_prefix_raises_address_exists(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        with pytest.raises(AddressExists):
            kernel_env.container.add_address("eth0", iface("2001:db8:172::5/80"), nodad=True)

    def test_deleting_an_address_removes_it(self, kernel_env: KernelEnv) -> None:
        _addressed(kernel_env)
        kernel_env.container.delete_address("eth0", V6)
        assert kernel_env.container.list_addresses("eth0") == [
            KernelAddress(V4, SCOPE_UNIVERSE)]
        assert kernel_env.observer.address_flags(kernel_env.container, "eth0", V6) is None

    @pytest.mark.parametrize("absent", ["169.254.9.9/24", "169.254.172.5/24",
                                        "2001:db8:172::5/80"])
    def test_deleting_an_absent_address_or_another_prefix_is_refused(
        self, kernel_env: KernelEnv, absent: str
    ) -> None:
        _addressed(kernel_env)
        with pytest.raises(KernelError) as raised:
            kernel_env.container.delete_address("eth0", iface(absent))
        assert str(raised.value) == (f"cannot delete address {absent} from 'eth0': "
                                     "Cannot assign requested address (errno 99)")

    def test_an_ipv6_address_added_with_nodad_is_never_tentative(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        flags = kernel_env.observer.address_flags(kernel_env.container, "eth0", V6)
        assert flags is not None
        assert "tentative" not in flags

    def test_an_ipv6_address_without_nodad_stays_tentative_while_the_link_has_no_carrier(
        self, kernel_env: KernelEnv
    ) -> None:
        _wire(kernel_env)
        kernel_env.container.add_address("eth0", V6)
        flags = kernel_env.observer.address_flags(kernel_env.container, "eth0", V6)
        assert flags is not None
        assert "tentative" in flags

    def test_addresses_of_an_absent_link_raise_link_not_found(
        self, kernel_env: KernelEnv
    ) -> None:
        with pytest.raises(LinkNotFound):
            kernel_env.container.list_addresses("gone0")
        with pytest.raises(LinkNotFound):
            kernel_env.container.add_address("gone0", V4)
        with pytest.raises(LinkNotFound):
            kernel_env.container.delete_address("gone0", V4)


class TestPrefixRoutes:
    @pytest.mark.parametrize(("address", "route"), [
        ("169.254.172.5/22", KernelRoute(net("169.254.172.0/22"), None, SCOPE_LINK)),
        ("2001:db8:172::5/64", KernelRoute(net("2001:db8:172::/64"), None, SCOPE_UNIVERSE)),
        ("169.254.172.5/32", None),
        ("2001:db8:172::5/128", KernelRoute(net("2001:db8:172::5/128"), None, SCOPE_UNIVERSE)),
    ])
    def test_an_address_on_an_up_link_adds_its_prefix_route(
        self, kernel_env: KernelEnv, address: str, route: KernelRoute | None
    ) -> None:
        _wire(kernel_env)
        kernel_env.container.add_address("eth0", iface(address), nodad=True)
        assert kernel_env.container.list_routes("eth0") == ([route] if route else [])
        assert kernel_env.observer.routes(kernel_env.container, "eth0") == routes_of(
            kernel_env.container, "eth0")

    def test_deleting_an_address_removes_its_prefix_route_once_no_other_shares_it(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_address("eth0", iface("2001:db8:172::6/64"), nodad=True)
        kernel_env.container.delete_address("eth0", V6)
        assert PREFIX6 in routes_of(kernel_env.container, "eth0")
        kernel_env.container.delete_address("eth0", iface("2001:db8:172::6/64"))
        kernel_env.container.delete_address("eth0", V4)
        assert routes_of(kernel_env.container, "eth0") == set()

    def test_an_address_on_a_down_link_gets_its_prefix_route_when_the_link_comes_up(
        self, kernel_env: KernelEnv
    ) -> None:
        _wire(kernel_env)
        kernel_env.container.set_link("eth0", up=False)  # no carrier: no link-local route
        kernel_env.host.add_address("veth0", V4)
        kernel_env.host.add_address("veth0", V6, nodad=True)
        assert routes_of(kernel_env.host, "veth0") == set()
        kernel_env.host.set_link("veth0", up=True)
        assert routes_of(kernel_env.host, "veth0") == {PREFIX4, PREFIX6}

    def test_a_link_going_down_loses_its_routes_and_ipv6_addresses_but_keeps_ipv4_ones(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.set_link("eth0", up=False)
        assert routes_of(kernel_env.container, "eth0") == set()
        assert kernel_env.container.list_addresses("eth0") == [KernelAddress(V4, SCOPE_UNIVERSE)]
        kernel_env.container.set_link("eth0", up=True)
        assert routes_of(kernel_env.container, "eth0") == {PREFIX4}


class TestRoutes:
    def test_an_on_link_route_is_listed_without_gateway(self, kernel_env: KernelEnv) -> None:
        _wire(kernel_env)
        kernel_env.container.add_route("eth0", net("169.254.170.0/24"))
        kernel_env.container.add_route("eth0", net("2001:db8:170::/64"))
        assert sorted(kernel_env.container.list_routes("eth0"), key=str) == sorted([
            KernelRoute(net("169.254.170.0/24"), None, SCOPE_LINK),
            KernelRoute(net("2001:db8:170::/64"), None, SCOPE_UNIVERSE)], key=str)

    def test_routes_via_a_gateway_on_an_address_prefix_are_listed_with_it(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        via = {(CREDS4, GW4), (net("0.0.0.0/0"), GW4), (CREDS6, GW6), (net("::/0"), GW6)}
        for dst, gw in via:
            kernel_env.container.add_route("eth0", dst, gw=gw)
        assert routes_of(kernel_env.container, "eth0") == via | {PREFIX4, PREFIX6}
        assert kernel_env.observer.routes(kernel_env.container, "eth0") == routes_of(
            kernel_env.container, "eth0")
        assert all(r.scope == SCOPE_UNIVERSE
                   for r in kernel_env.container.list_routes("eth0") if r.gw)

    def test_a_gateway_made_reachable_by_an_on_link_host_route_is_accepted(
        self, kernel_env: KernelEnv
    ) -> None:
        _wire(kernel_env)
        for gw, dst in ((GW4, CREDS4), (GW6, CREDS6)):
            kernel_env.container.add_route("eth0", net(f"{gw}/{gw.max_prefixlen}"))
            kernel_env.container.add_route("eth0", dst, gw=gw)
        assert {(CREDS4, GW4), (CREDS6, GW6)} <= routes_of(kernel_env.container, "eth0")

    @pytest.mark.parametrize(("dst", "gw", "reason"), [
        (CREDS4, GW4, "Network is unreachable (errno 101)"),
        (CREDS6, GW6, "No route to host (errno 113)"),
    ])
    def test_a_gateway_no_on_link_route_of_the_link_covers_is_refused(
        self, kernel_env: KernelEnv, dst: IPNetwork, gw: IPAddress, reason: str
    ) -> None:
        _wire(kernel_env)
        with pytest.raises(KernelError) as raised:
            kernel_env.container.add_route("eth0", dst, gw=gw)
        assert str(raised.value) == f"cannot add route to {dst} via {gw} on 'eth0': {reason}"

    def test_an_ipv6_link_local_gateway_needs_no_on_link_route(
        self, kernel_env: KernelEnv
    ) -> None:
        _wire(kernel_env)
        kernel_env.container.add_route("eth0", net("::/0"), gw=addr("fe80::1"))
        assert routes_of(kernel_env.container, "eth0") == {(net("::/0"), addr("fe80::1"))}

    def test_a_gateway_reachable_only_through_another_link_is_refused(
        self, kernel_env: KernelEnv
    ) -> None:
        _wire(kernel_env)
        _wire(kernel_env, "veth1", "eth1")
        kernel_env.container.add_address("eth1", V4)
        kernel_env.container.add_address("eth1", V6, nodad=True)
        for dst, gw in ((CREDS4, GW4), (CREDS6, GW6)):
            with pytest.raises(KernelError, match=r"unreachable|No route to host"):
                kernel_env.container.add_route("eth0", dst, gw=gw)

    @pytest.mark.parametrize("dst", ["169.254.170.0/24", "2001:db8:170::/64"])
    def test_a_route_out_of_a_down_link_is_refused(self, kernel_env: KernelEnv, dst: str) -> None:
        _wire(kernel_env)
        with pytest.raises(KernelError, match=r"Network is down \(errno 100\)"):
            kernel_env.host.add_route("veth0", net(dst))

    @pytest.mark.parametrize("dst", ["169.254.170.0/24", "2001:db8:170::/64"])
    def test_adding_a_route_twice_raises_route_exists(
        self, kernel_env: KernelEnv, dst: str
    ) -> None:
        _wire(kernel_env)
        kernel_env.container.add_route("eth0", net(dst))
        with pytest.raises(RouteExists):
            kernel_env.container.add_route("eth0", net(dst))

    @pytest.mark.parametrize("dst", ["169.254.170.0/24", "2001:db8:170::/64"])
    def test_a_destination_routed_out_of_another_link_raises_route_exists(
        self, kernel_env: KernelEnv, dst: str
    ) -> None:
        _wire(kernel_env)
        _wire(kernel_env, "veth1", "eth1")
        kernel_env.container.add_route("eth0", net(dst))
        with pytest.raises(RouteExists):
            kernel_env.container.add_route("eth1", net(dst))

    def test_a_destination_routed_via_another_gateway_raises_route_exists(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        for dst, gw, other in ((CREDS4, GW4, "169.254.172.9"), (CREDS6, GW6, "2001:db8:172::9")):
            kernel_env.container.add_route("eth0", dst, gw=gw)
            with pytest.raises(RouteExists):
                kernel_env.container.add_route("eth0", dst, gw=addr(other))

    def test_an_ipv6_static_route_may_duplicate_a_prefix_route_but_not_an_ipv4_one(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", V6.network)
        assert [r.dst for r in kernel_env.container.list_routes("eth0")].count(V6.network) == 2
        with pytest.raises(RouteExists):
            kernel_env.container.add_route("eth0", V4.network)

    def test_deleting_a_route_removes_it_with_or_without_naming_the_gateway(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.add_route("eth0", CREDS6, gw=GW6)
        kernel_env.container.delete_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.delete_route("eth0", CREDS6)
        assert routes_of(kernel_env.container, "eth0") == {PREFIX4, PREFIX6}

    @pytest.mark.parametrize(("dst", "gw"), [
        (CREDS4, addr("169.254.172.9")), (CREDS6, addr("2001:db8:172::9")),
        (net("169.254.99.0/24"), None), (net("2001:db8:99::/64"), None),
    ])
    def test_deleting_an_absent_route_or_one_via_another_gateway_is_refused(
        self, kernel_env: KernelEnv, dst: IPNetwork, gw: IPAddress | None
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.add_route("eth0", CREDS6, gw=GW6)
        with pytest.raises(KernelError, match=r"No such process \(errno 3\)") as raised:
            kernel_env.container.delete_route("eth0", dst, gw=gw)
        assert type(raised.value) is KernelError

    def test_deleting_the_prefix_routes_keeps_the_routes_via_gateways(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.add_route("eth0", CREDS6, gw=GW6)
        for route in kernel_env.container.list_routes("eth0"):
            if route.gw is None:
                kernel_env.container.delete_route("eth0", route.dst)
        assert routes_of(kernel_env.container, "eth0") == {(CREDS4, GW4), (CREDS6, GW6)}

    def test_deleting_the_last_ipv4_address_flushes_the_links_ipv4_routes(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        kernel_env.container.add_route("eth0", net("169.254.170.0/24"))
        kernel_env.container.add_route("eth0", CREDS4, gw=GW4)
        kernel_env.container.add_route("eth0", CREDS6, gw=GW6)
        kernel_env.container.delete_address("eth0", V4)
        assert routes_of(kernel_env.container, "eth0") == {PREFIX6, (CREDS6, GW6)}

    def test_list_routes_shows_only_main_table_routes_out_of_that_link(
        self, kernel_env: KernelEnv
    ) -> None:
        _addressed(kernel_env)
        _wire(kernel_env, "veth1", "eth1")
        kernel_env.container.add_route("eth1", net("169.254.99.0/24"))
        assert routes_of(kernel_env.container, "eth0") == {PREFIX4, PREFIX6}
        assert routes_of(kernel_env.container, "lo") == set()

    def test_routes_of_an_absent_link_raise_link_not_found(self, kernel_env: KernelEnv) -> None:
        with pytest.raises(LinkNotFound):
            kernel_env.container.list_routes("gone0")
        with pytest.raises(LinkNotFound):
            kernel_env.container.add_route("gone0", CREDS4)
        with pytest.raises(LinkNotFound):
            kernel_env.container.delete_route("gone0", CREDS4)
