"""Kernel contract, part 1: namespaces, links, bridges and veth pairs."""

from __future__ import annotations

from functools import partial

import pytest

from ecs_bridge.domain.errors import (
    UNKNOWN_CONTAINER,
    KernelError,
    LinkExists,
    LinkNotFound,
    NamespaceNotFound,
)
from ecs_bridge.domain.ports import SCOPE_LINK, Namespace
from tests.kernel_contract import KernelEnv, eventually, link_of

__all__ = ["TestBridgesAndMasters", "TestLinks", "TestNamespaces", "TestVethPairs"]

MAC = "0a:58:a9:fe:ac:01"


def _veth(env: KernelEnv, host_name: str = "veth0", peer: str = "eth0", mtu: int = 1500) -> None:
    env.host.add_veth(host_name, peer_name=peer, peer_ns=env.container, mtu=mtu)


class TestNamespaces:
    def test_opening_a_missing_path_raises_namespace_not_found_with_code_3(
        self, kernel_env: KernelEnv
    ) -> None:
        with pytest.raises(NamespaceNotFound) as raised:
            kernel_env.kernel.open(kernel_env.missing_path)
        assert raised.value.code == UNKNOWN_CONTAINER == 3
        assert raised.value.path == kernel_env.missing_path

    def test_opening_a_file_that_is_not_a_network_namespace_raises_namespace_not_found(
        self, kernel_env: KernelEnv
    ) -> None:
        with pytest.raises(NamespaceNotFound) as raised:
            kernel_env.kernel.open("/etc/hostname")
        assert raised.value.code == 3

    def test_a_handle_tells_the_path_it_was_opened_with(self, kernel_env: KernelEnv) -> None:
        again = kernel_env.kernel.open(kernel_env.container.path)
        try:
            assert again.path == kernel_env.container.path != kernel_env.host.path
        finally:
            again.close()

    def test_two_handles_on_one_namespace_see_the_same_links(self, kernel_env: KernelEnv) -> None:
        again = kernel_env.kernel.open(kernel_env.host.path)
        try:
            again.add_bridge("br-seen", mtu=1500, mac=MAC)
            assert kernel_env.host.find_link("br-seen") == again.find_link("br-seen")
        finally:
            again.close()

    def test_a_closed_handle_refuses_calls_and_closing_it_again_is_harmless(
        self, kernel_env: KernelEnv
    ) -> None:
        handle = kernel_env.kernel.open(kernel_env.container.path)
        handle.close()
        handle.close()
        with pytest.raises(KernelError):
            handle.list_links()
        assert kernel_env.container.find_link("lo") is not None

    def test_a_deleted_namespace_can_no_longer_be_opened(self, kernel_env: KernelEnv) -> None:
        path = kernel_env.container.path
        kernel_env.container.close()
        kernel_env.observer.remove_namespace(kernel_env.container)
        with pytest.raises(NamespaceNotFound):
            kernel_env.kernel.open(path)

    def test_deleting_a_namespace_takes_the_veth_peers_of_its_links_with_it(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env)
        kernel_env.container.close()
        kernel_env.observer.remove_namespace(kernel_env.container)
        assert eventually(lambda: kernel_env.host.find_link("veth0") is None)

    def test_an_open_handle_keeps_a_deleted_namespace_and_its_links_alive(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env)
        kernel_env.observer.remove_namespace(kernel_env.container)
        assert kernel_env.container.find_link("eth0") is not None
        assert kernel_env.host.find_link("veth0") is not None
        kernel_env.container.close()
        assert eventually(lambda: kernel_env.host.find_link("veth0") is None)


class TestLinks:
    def test_a_fresh_namespace_holds_only_loopback_up(self, kernel_env: KernelEnv) -> None:
        (lo,) = kernel_env.container.list_links()
        assert (lo.name, lo.index, lo.kind, lo.up) == ("lo", 1, "", True)
        assert (lo.mtu, lo.mac, lo.master, lo.peer_index) == (65536, "00:00:00:00:00:00",
                                                               None, None)

    @pytest.mark.parametrize("name", ["nothing-here", "a-name-longer-than-15"])
    def test_find_link_returns_none_for_an_absent_or_impossible_name(
        self, kernel_env: KernelEnv, name: str
    ) -> None:
        assert kernel_env.host.find_link(name) is None

    def test_a_bridge_is_created_down_with_the_given_mtu_and_mac_in_lower_case(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_bridge("br0", mtu=9001, mac=MAC.upper())
        link = link_of(kernel_env.host, "br0")
        assert (link.kind, link.mtu, link.mac, link.up, link.master) == (
            "bridge", 9001, MAC, False, None)
        assert link in kernel_env.host.list_links()
        facts = kernel_env.observer.link_facts(kernel_env.host, "br0")
        assert facts == {"kind": "bridge", "mtu": 9001, "mac": MAC, "up": False, "master": None,
                         "alias": ""}

    def test_creating_a_link_under_a_taken_name_raises_link_exists(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        with pytest.raises(LinkExists) as raised:
            kernel_env.host.add_bridge("br0", mtu=1500, mac="0a:58:a9:fe:ac:02")
        assert raised.value.name == "br0"

    @pytest.mark.parametrize(("name", "reason"), [
        ("a-name-longer-than-15", "Numerical result out of range"),
        ("br/0", "Invalid argument"),
        ("br 0", "Invalid argument"),
    ])
    def test_a_name_the_kernel_cannot_hold_is_refused(
        self, kernel_env: KernelEnv, name: str, reason: str
    ) -> None:
        with pytest.raises(KernelError, match=reason) as raised:
            kernel_env.host.add_bridge(name, mtu=1500, mac=MAC)
        assert type(raised.value) is KernelError

    def test_deleting_a_link_removes_it(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        kernel_env.host.delete_link("br0")
        assert kernel_env.host.find_link("br0") is None
        assert "br0" not in kernel_env.observer.link_names(kernel_env.host)

    def test_deleting_or_changing_an_absent_link_raises_link_not_found(
        self, kernel_env: KernelEnv
    ) -> None:
        with pytest.raises(LinkNotFound) as raised:
            kernel_env.host.delete_link("gone0")
        assert raised.value.name == "gone0"
        with pytest.raises(LinkNotFound):
            kernel_env.host.set_link("gone0", up=True)

    def test_up_and_down_are_set_and_read_back(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        kernel_env.host.set_link("br0", up=True)
        assert link_of(kernel_env.host, "br0").up
        assert kernel_env.observer.link_facts(kernel_env.host, "br0")["up"] is True
        kernel_env.host.set_link("br0", up=False)
        assert not link_of(kernel_env.host, "br0").up

    @pytest.mark.parametrize("mtu", [68, 1280, 65535])
    def test_an_mtu_from_68_to_65535_is_set(self, kernel_env: KernelEnv, mtu: int) -> None:
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", mtu=mtu)
        assert link_of(kernel_env.host, "veth0").mtu == mtu

    @pytest.mark.parametrize("mtu", [0, 67, 65536])
    def test_an_mtu_outside_68_to_65535_is_refused(self, kernel_env: KernelEnv, mtu: int) -> None:
        _veth(kernel_env)
        with pytest.raises(KernelError, match="Invalid argument"):
            kernel_env.host.set_link("veth0", mtu=mtu)
        with pytest.raises(KernelError, match="Invalid argument"):
            kernel_env.host.add_bridge("br0", mtu=mtu, mac=MAC)

    def test_a_mac_is_set_and_read_back_in_lower_case(self, kernel_env: KernelEnv) -> None:
        _veth(kernel_env)
        kernel_env.container.set_link("eth0", mac="0A:58:A9:FE:AC:05")
        assert link_of(kernel_env.container, "eth0").mac == "0a:58:a9:fe:ac:05"
        assert kernel_env.observer.link_facts(kernel_env.container, "eth0")["mac"] == (
            "0a:58:a9:fe:ac:05")

    def test_an_alias_is_set_read_back_and_cleared(self, kernel_env: KernelEnv) -> None:
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", alias="cni:ctr-1/eth0")
        assert link_of(kernel_env.host, "veth0").alias == "cni:ctr-1/eth0"
        assert kernel_env.observer.link_facts(kernel_env.host, "veth0")["alias"] == (
            "cni:ctr-1/eth0")
        assert link_of(kernel_env.container, "eth0").alias == ""
        kernel_env.host.set_link("veth0", alias="")
        assert link_of(kernel_env.host, "veth0").alias == ""

    @pytest.mark.parametrize("mac", ["01:00:5e:00:00:01", "00:00:00:00:00:00"])
    def test_a_multicast_or_all_zero_mac_is_refused(self, kernel_env: KernelEnv, mac: str) -> None:
        _veth(kernel_env)
        with pytest.raises(KernelError, match="Cannot assign requested address"):
            kernel_env.container.set_link("eth0", mac=mac)

    @pytest.mark.parametrize("mac", ["zz:00:00:00:00:01", "0a:58:a9:fe:ac", ""])
    def test_a_malformed_mac_is_refused_naming_it(self, kernel_env: KernelEnv, mac: str) -> None:
        _veth(kernel_env)
        with pytest.raises(KernelError, match="invalid MAC address"):
            kernel_env.container.set_link("eth0", mac=mac)
        with pytest.raises(KernelError, match="invalid MAC address"):
            kernel_env.host.add_bridge("br0", mtu=1500, mac=mac)


class TestBridgesAndMasters:
    def test_master_attaches_a_link_to_a_bridge(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", master="br0", up=True)
        port = link_of(kernel_env.host, "veth0")
        assert port.master == link_of(kernel_env.host, "br0").index
        assert port.up
        assert kernel_env.observer.link_facts(kernel_env.host, "veth0")["master"] == "br0"

    def test_a_master_that_is_absent_raises_link_not_found_naming_it(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env)
        with pytest.raises(LinkNotFound) as raised:
            kernel_env.host.set_link("veth0", master="nobridge")
        assert raised.value.name == "nobridge"

    def test_a_master_that_is_not_a_bridge_is_refused(self, kernel_env: KernelEnv) -> None:
        _veth(kernel_env)
        _veth(kernel_env, "veth1", "eth1")
        with pytest.raises(KernelError, match="Operation not supported"):
            kernel_env.host.set_link("veth0", master="veth1")

    def test_a_bridge_cannot_be_its_own_master(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        with pytest.raises(KernelError, match="Too many levels of symbolic links"):
            kernel_env.host.set_link("br0", master="br0")

    def test_a_bridge_created_with_an_mtu_follows_its_smallest_port(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_bridge("br0", mtu=9000, mac=MAC)
        _veth(kernel_env, "veth0", "eth0", mtu=1400)
        _veth(kernel_env, "veth1", "eth1", mtu=2000)
        kernel_env.host.set_link("veth0", master="br0")
        kernel_env.host.set_link("veth1", master="br0")
        assert _mtu(kernel_env, "br0") == 1400
        kernel_env.host.delete_link("veth0")
        assert _mtu(kernel_env, "br0") == 2000
        kernel_env.host.delete_link("veth1")
        assert _mtu(kernel_env, "br0") == 1500

    def test_a_bridge_mtu_set_by_hand_no_longer_follows_its_ports(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        kernel_env.host.set_link("br0", mtu=9000)
        _veth(kernel_env, mtu=1400)
        kernel_env.host.set_link("veth0", master="br0")
        assert _mtu(kernel_env, "br0") == 9000

    def test_a_bridge_created_with_a_mac_keeps_it_as_ports_come_and_go(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac="0e:ff:ff:ff:ff:01")
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", mac="02:00:00:00:00:01")  # lower than the bridge's
        kernel_env.host.set_link("veth0", master="br0", up=True)
        assert link_of(kernel_env.host, "br0").mac == "0e:ff:ff:ff:ff:01"
        kernel_env.host.delete_link("veth0")
        assert link_of(kernel_env.host, "br0").mac == "0e:ff:ff:ff:ff:01"

    def test_deleting_a_bridge_releases_its_ports(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_bridge("br0", mtu=1500, mac=MAC)
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", master="br0")
        kernel_env.host.delete_link("br0")
        assert link_of(kernel_env.host, "veth0").master is None


class TestVethPairs:
    def test_a_pair_spans_two_namespaces_with_the_mtu_on_both_ends(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env, mtu=1400)
        host_end, ctr_end = link_of(kernel_env.host, "veth0"), link_of(kernel_env.container, "eth0")
        assert (host_end.kind, host_end.mtu, ctr_end.kind, ctr_end.mtu) == (
            "veth", 1400, "veth", 1400)
        assert kernel_env.container.find_link("veth0") is None
        assert kernel_env.host.find_link("eth0") is None
        assert kernel_env.observer.link_facts(kernel_env.container, "eth0")["mtu"] == 1400

    def test_each_end_names_the_other_by_peer_index(self, kernel_env: KernelEnv) -> None:
        _veth(kernel_env)
        host_end, ctr_end = link_of(kernel_env.host, "veth0"), link_of(kernel_env.container, "eth0")
        assert host_end.peer_index == ctr_end.index
        assert ctr_end.peer_index == host_end.index

    def test_both_ends_start_down_with_distinct_unicast_macs(self, kernel_env: KernelEnv) -> None:
        _veth(kernel_env)
        ends = [link_of(kernel_env.host, "veth0"), link_of(kernel_env.container, "eth0")]
        assert not any(end.up for end in ends)
        macs = {end.mac for end in ends}
        assert len(macs) == 2
        assert all(int(mac[:2], 16) & 1 == 0 and mac == mac.lower() for mac in macs)

    @pytest.mark.parametrize("taken", ["veth0", "eth0"])
    def test_a_taken_name_on_either_side_raises_link_exists_naming_it_and_adds_nothing(
        self, kernel_env: KernelEnv, taken: str
    ) -> None:
        ns = kernel_env.host if taken == "veth0" else kernel_env.container
        ns.add_bridge(taken, mtu=1500, mac=MAC)
        before = (kernel_env.host.list_links(), kernel_env.container.list_links())
        with pytest.raises(LinkExists) as raised:
            _veth(kernel_env)
        assert raised.value.name == taken
        assert (kernel_env.host.list_links(), kernel_env.container.list_links()) == before

    @pytest.mark.parametrize("side", ["host", "container"])
    def test_deleting_either_end_removes_both(self, kernel_env: KernelEnv, side: str) -> None:
        _veth(kernel_env)
        if side == "host":
            kernel_env.host.delete_link("veth0")
        else:
            kernel_env.container.delete_link("eth0")
        assert kernel_env.host.find_link("veth0") is None
        assert kernel_env.container.find_link("eth0") is None
        assert "eth0" not in kernel_env.observer.link_names(kernel_env.container)

    def test_a_pair_may_have_both_ends_in_one_namespace(self, kernel_env: KernelEnv) -> None:
        kernel_env.host.add_veth("veth0", peer_name="veth1", peer_ns=kernel_env.host, mtu=1500)
        one, two = link_of(kernel_env.host, "veth0"), link_of(kernel_env.host, "veth1")
        assert (one.peer_index, two.peer_index) == (two.index, one.index)

    def test_an_end_whose_peer_is_down_gets_no_link_local_address(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env)
        kernel_env.container.set_link("eth0", up=True)
        assert kernel_env.container.list_addresses("eth0") == []

    def test_both_ends_up_eventually_get_ipv6_link_local_addresses(
        self, kernel_env: KernelEnv
    ) -> None:
        _veth(kernel_env)
        kernel_env.host.set_link("veth0", up=True)
        kernel_env.container.set_link("eth0", up=True)
        assert eventually(partial(_has_link_local, kernel_env.host, "veth0"))
        assert eventually(partial(_has_link_local, kernel_env.container, "eth0"))


def _has_link_local(ns: Namespace, name: str) -> bool:
    return any(a.address.ip.is_link_local and a.scope == SCOPE_LINK
               for a in ns.list_addresses(name))


def _mtu(env: KernelEnv, name: str) -> int:
    return link_of(env.host, name).mtu
