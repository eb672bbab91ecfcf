"""The kernel contract held by the fake kernel, and what only the fake offers:
inspectable state, predictable indexes and MACs, `add_namespace` / `remove_namespace`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecs_bridge.adapters.fake_kernel import FakeKernel, FakeNamespace, counting_macs
from ecs_bridge.adapters.fake_netstate import FakeNetns, FakeRoute
from ecs_bridge.domain.errors import NamespaceNotFound
from ecs_bridge.domain.ports import Namespace
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork
from tests.kernel_contract import KernelEnv, iface, net
from tests.kernel_contract_links import (
    TestBridgesAndMasters,
    TestLinks,
    TestNamespaces,
    TestVethPairs,
)
from tests.kernel_contract_routing import TestAddresses, TestPrefixRoutes, TestRoutes

__all__ = [
    "TestAddresses",
    "TestBridgesAndMasters",
    "TestLinks",
    "TestNamespaces",
    "TestPrefixRoutes",
    "TestRoutes",
    "TestVethPairs",
]

HOST, CONTAINER = "/run/netns/fake-host", "/run/netns/fake-ctr"


class FakeObserver:
    """The fake's own state, read as the contract's observer."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel

    def link_names(self, ns: Namespace) -> set[str]:
        return set(_state(ns).links)

    def link_facts(self, ns: Namespace, name: str) -> dict[str, Any]:
        link = _state(ns).links[name]
        return {"kind": link.kind, "mtu": link.mtu, "mac": link.mac, "up": link.up,
                "master": link.master.name if link.master else None, "alias": link.alias}

    def address_flags(self, ns: Namespace, link: str, address: IPInterface) -> set[str] | None:
        for present in _state(ns).links[link].addresses:
            if present.address == address:
                return {flag for flag, on in (("tentative", present.tentative),
                                              ("nodad", present.nodad)) if on}
        return None

    def routes(self, ns: Namespace, link: str) -> set[tuple[IPNetwork, IPAddress | None]]:
        index = _state(ns).links[link].index
        return {(r.dst, r.gw) for r in _state(ns).routes if r.oif == index}

    def remove_namespace(self, ns: Namespace) -> None:
        self.kernel.remove_namespace(ns.path)


def _state(ns: Namespace) -> FakeNetns:
    assert isinstance(ns, FakeNamespace)
    return ns.state


@pytest.fixture
def kernel_env() -> Iterator[KernelEnv]:
    kernel = FakeKernel()
    kernel.add_namespace(HOST)
    kernel.add_namespace(CONTAINER)
    host, container = kernel.open(HOST), kernel.open(CONTAINER)
    yield KernelEnv(kernel, host, container, FakeObserver(kernel), "/run/netns/fake-missing")
    host.close()
    container.close()


@pytest.fixture
def kernel() -> FakeKernel:
    kernel = FakeKernel(mac_factory=counting_macs("02:00:00"))
    kernel.add_namespace(CONTAINER)
    return kernel


class TestFakeOnly:
    def test_indexes_count_up_per_namespace_and_macs_come_from_the_factory(
        self, kernel: FakeKernel
    ) -> None:
        host, ctr = kernel.host(), kernel.open(CONTAINER)
        host.add_veth("veth0", peer_name="eth0", peer_ns=ctr, mtu=1500)
        host.add_veth("veth1", peer_name="eth1", peer_ns=ctr, mtu=1500)
        assert [(link.name, link.index, link.mac) for link in host.list_links()] == [
            ("lo", 1, "00:00:00:00:00:00"), ("veth0", 2, "02:00:00:00:00:02"),
            ("veth1", 3, "02:00:00:00:00:04")]
        assert [(link.name, link.index) for link in ctr.list_links()] == [
            ("lo", 1), ("eth0", 2), ("eth1", 3)]

    def test_the_host_namespace_has_the_empty_path_and_cannot_be_opened_by_it(
        self, kernel: FakeKernel
    ) -> None:
        assert kernel.host().path == ""
        with pytest.raises(NamespaceNotFound):
            kernel.open("")

    def test_state_shows_prefix_and_static_routes_with_their_metrics(
        self, kernel: FakeKernel
    ) -> None:
        host, ctr = kernel.host(), kernel.open(CONTAINER)
        host.add_veth("veth0", peer_name="eth0", peer_ns=ctr, mtu=1500)
        ctr.set_link("eth0", up=True)
        ctr.add_address("eth0", iface("2001:db8::5/64"), nodad=True)
        ctr.add_route("eth0", net("2001:db8::/64"))
        assert kernel.namespaces[CONTAINER].routes == [
            FakeRoute(2, net("2001:db8::/64"), None, 0, 256, "kernel"),
            FakeRoute(2, net("2001:db8::/64"), None, 0, 1024, "static"),
        ]
        assert len(ctr.list_routes("eth0")) == 2  # as `ip -6 route` shows both

    def test_carrier_brings_link_local_addresses_and_routes_at_once(
        self, kernel: FakeKernel
    ) -> None:
        host, ctr = kernel.host(), kernel.open(CONTAINER)
        host.add_veth("veth0", peer_name="eth0", peer_ns=ctr, mtu=1500)
        host.set_link("veth0", up=True)
        ctr.add_address("eth0", iface("2001:db8::5/64"))
        ctr.set_link("eth0", up=True, mac="0a:58:a9:fe:ac:05")
        assert [a.address for a in ctr.list_addresses("eth0")] == [
            iface("2001:db8::5/64"), iface("fe80::858:a9ff:fefe:ac05/64")]
        assert not kernel.namespaces[CONTAINER].links["eth0"].addresses[0].tentative
        assert net("fe80::/64") in {r.dst for r in ctr.list_routes("eth0")}

    def test_a_bridge_gets_carrier_from_a_port_with_carrier(self, kernel: FakeKernel) -> None:
        host, ctr = kernel.host(), kernel.open(CONTAINER)
        host.add_bridge("br0", mtu=1500, mac="0a:00:00:00:00:01")
        host.add_veth("veth0", peer_name="eth0", peer_ns=ctr, mtu=1500)
        host.set_link("br0", up=True)
        host.set_link("veth0", master="br0", up=True)
        assert not kernel.host_ns.links["br0"].carrier()
        ctr.set_link("eth0", up=True)
        assert kernel.host_ns.links["br0"].carrier()
        assert iface("fe80::800:ff:fe00:1/64") in {a.address for a in host.list_addresses("br0")}

    def test_removing_an_unknown_namespace_is_a_key_error(self, kernel: FakeKernel) -> None:
        with pytest.raises(KeyError):
            kernel.remove_namespace("/run/netns/never")

    def test_adding_a_namespace_twice_is_refused(self, kernel: FakeKernel) -> None:
        with pytest.raises(ValueError, match="taken"):
            kernel.add_namespace(CONTAINER)

    def test_a_peer_namespace_of_another_kernel_is_refused(self, kernel: FakeKernel) -> None:
        with pytest.raises(TypeError):
            kernel.host().add_veth("veth0", peer_name="eth0", peer_ns=FakeKernel().host(),
                                   mtu=1500)
