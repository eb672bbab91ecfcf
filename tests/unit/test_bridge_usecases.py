"""The bridge use cases on the fake kernel: ADD, its undo on every failure, DEL, CHECK, GC."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from ecs_bridge.adapters.fake_kernel import FakeKernel
from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.domain import bridge, check, gc
from ecs_bridge.domain.errors import CniError
from ecs_bridge.domain.netconf import BridgeConfig
from ecs_bridge.domain.types import DNS, IPConfig, Result, Route

ip = ipaddress.ip_interface
addr = ipaddress.ip_address
net = ipaddress.ip_network

CONFIG = BridgeConfig(bridge="ecs-br0", mtu=1500, ipam_type="fake-ipam", network="n")
CTR = "/run/netns/ctr"
WHERE = bridge.Attachment(netns=CTR, ifname="eth0", container_id="c1")
V4 = Result(ips=(IPConfig(ip("169.254.172.2/22"), addr("169.254.172.1")),),
            routes=(Route(net("169.254.170.2/32")),), dns=DNS(nameservers=("169.254.169.253",)))
V6 = Result(ips=(IPConfig(ip("2001:db8::2/64"), addr("2001:db8::1")),),
            routes=(Route(net("::/0")),))


class FakeIpam:
    """An IPAM delegate that hands out `result` and records what it was asked."""

    def __init__(self, result: Result = V4, *, fail_add: CniError | None = None,
                 fail_del: CniError | None = None,
                 meanwhile: Callable[[], None] | None = None) -> None:
        self.result, self.fail_add, self.fail_del = result, fail_add, fail_del
        self.meanwhile = meanwhile
        self.calls: list[str] = []

    def add(self) -> Result:
        self.calls.append("ADD")
        if self.meanwhile:
            self.meanwhile()  # what another process does while IPAM runs
        if self.fail_add:
            raise self.fail_add
        return self.result

    def delete(self) -> None:
        self.calls.append("DEL")
        if self.fail_del:
            raise self.fail_del

    def check(self) -> None:
        self.calls.append("CHECK")

    def status(self) -> None:
        self.calls.append("STATUS")

    def gc(self) -> None:
        self.calls.append("GC")


def counting_bytes() -> Callable[[int], bytes]:
    counter = itertools.count(0x10)
    return lambda n: bytes(next(counter) % 256 for _ in range(n))


@pytest.fixture
def kernel() -> FakeKernel:
    k = FakeKernel()
    k.add_namespace(CTR)
    return k


def add(kernel: FakeKernel, ipam: FakeIpam, where: bridge.Attachment = WHERE,
        config: BridgeConfig = CONFIG) -> Result:
    return bridge.add(config, where, kernel=kernel, ipam=ipam, log=NullLog(),
                      random_bytes=counting_bytes())


def state(kernel: FakeKernel) -> Any:
    """Everything both namespaces hold, to compare before and after."""
    def ns_state(ns: Any) -> Any:
        return sorted(
            (link.name, link.kind, link.up, link.mtu, link.mac,
             tuple(sorted(str(a.address) for a in link.addresses)))
            for link in ns.links.values()
        ), sorted((str(r.dst), str(r.gw), r.oif) for r in ns.routes)
    return ns_state(kernel.host_ns), ns_state(kernel.namespaces[CTR])


def test_add_builds_bridge_veth_addresses_and_routes(kernel: FakeKernel) -> None:
    result = add(kernel, FakeIpam())
    host, ctr = kernel.host(), kernel.open(CTR)
    br = host.find_link("ecs-br0")
    assert br is not None
    assert (br.kind, br.up, br.mtu) == ("bridge", True, 1500)
    assert [str(a.address) for a in host.list_addresses("ecs-br0") if a.scope == 0] == [
        "169.254.172.1/22"]
    eth0 = ctr.find_link("eth0")
    assert eth0 is not None
    assert eth0.mac == "0a:58:a9:fe:ac:02"
    host_veth = next(link for link in host.list_links() if link.index == eth0.peer_index)
    assert host_veth.master == br.index
    assert host_veth.alias == "cni:c1/eth0"
    assert {(str(r.dst), str(r.gw)) for r in ctr.list_routes("eth0")
            if r.dst.version == 4} == {("169.254.170.2/32", "169.254.172.1"),
                                       ("169.254.172.1/32", "169.254.172.1")}
    assert [i.name for i in result.interfaces] == ["ecs-br0", host_veth.name, "eth0"]
    assert result.interfaces[2].sandbox == CTR
    assert result.interfaces[0].mac == br.mac
    assert [ip.interface for ip in result.ips] == [2]
    assert result.dns.nameservers == ("169.254.169.253",)


def test_a_second_add_reuses_the_bridge_and_its_address(kernel: FakeKernel) -> None:
    add(kernel, FakeIpam())
    kernel.add_namespace("/run/netns/ctr2")
    second = Result(ips=(IPConfig(ip("169.254.172.3/22"), addr("169.254.172.1")),))
    add(kernel, FakeIpam(second), bridge.Attachment("/run/netns/ctr2", "eth0", "c2"))
    host = kernel.host()
    bridges = [link for link in host.list_links() if link.kind == "bridge"]
    assert len(bridges) == 1
    assert len([link for link in host.list_links() if link.master == bridges[0].index]) == 2


def test_ipv6_only_keeps_the_kernels_mac_and_routes_via_the_v6_gateway(
    kernel: FakeKernel,
) -> None:
    add(kernel, FakeIpam(V6))
    ctr = kernel.open(CTR)
    assert {(str(r.dst), str(r.gw)) for r in ctr.list_routes("eth0") if r.gw} == {
        ("::/0", "2001:db8::1"), ("2001:db8::1/128", "2001:db8::1")}
    assert not [r for r in ctr.list_routes("eth0") if r.dst == net("2001:db8::/64")]


FAILURES: dict[str, Callable[[FakeKernel], FakeIpam]] = {
    "ipam error": lambda k: FakeIpam(fail_add=CniError(102, "no address")),
    "no gateway": lambda k: FakeIpam(Result(ips=(IPConfig(ip("169.254.172.2/22")),))),
    "no ips": lambda k: FakeIpam(Result()),
    "route of a family without address": lambda k: FakeIpam(
        Result(ips=V4.ips, routes=(Route(net("::/0")),))),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failed_add_undoes_everything_and_releases_what_ipam_gave(
    kernel: FakeKernel, case: str
) -> None:
    before = state(kernel)
    ipam = FAILURES[case](kernel)
    with pytest.raises(CniError):
        add(kernel, ipam)
    assert state(kernel) == before
    assert ipam.calls == (["ADD"] if case == "ipam error" else ["ADD", "DEL"])


def test_a_conflicting_bridge_address_fails_before_any_port_is_attached(
    kernel: FakeKernel,
) -> None:
    host = kernel.host()
    host.add_bridge("ecs-br0", mtu=1500, mac="02:00:00:00:00:99")
    host.add_address("ecs-br0", ip("169.254.100.1/24"))
    before = state(kernel)
    ipam = FakeIpam()
    with pytest.raises(CniError) as err:
        add(kernel, ipam)
    assert err.value.code == 104
    assert "169.254.100.1/24" in err.value.msg
    assert state(kernel) == before
    assert ipam.calls == ["ADD", "DEL"]


def test_a_failure_after_another_container_attached_keeps_the_shared_bridge(
    kernel: FakeKernel,
) -> None:
    add(kernel, FakeIpam())
    kernel.add_namespace("/run/netns/ctr2")
    ctr2 = kernel.open("/run/netns/ctr2")
    ctr2.add_veth("eth0", peer_name="x", peer_ns=ctr2, mtu=1500)  # CNI_IFNAME taken
    before = state(kernel)
    with pytest.raises(CniError) as err:
        add(kernel, FakeIpam(), bridge.Attachment("/run/netns/ctr2", "eth0", "c2"))
    assert err.value.code == 4
    assert state(kernel) == before


def test_a_bridge_removed_by_a_failing_concurrent_add_is_made_again(
    kernel: FakeKernel,
) -> None:
    # The other ADD created the bridge, failed, and its undo removed the unused bridge
    # while our IPAM call ran.
    ipam = FakeIpam(meanwhile=lambda: kernel.host().delete_link("ecs-br0"))
    add(kernel, ipam)
    host = kernel.host()
    bridge_ = host.find_link("ecs-br0")
    assert bridge_ is not None
    assert bridge_.up
    assert [str(a.address) for a in host.list_addresses("ecs-br0") if a.scope == 0] == [
        "169.254.172.1/22"]
    eth0 = kernel.open(CTR).find_link("eth0")
    assert eth0 is not None
    [host_veth] = [link for link in host.list_links() if link.index == eth0.peer_index]
    assert host_veth.master == bridge_.index


def test_a_non_bridge_named_like_the_bridge_is_refused(kernel: FakeKernel) -> None:
    kernel.host().add_veth("ecs-br0", peer_name="peer", peer_ns=kernel.host(), mtu=1500)
    ipam = FakeIpam()
    with pytest.raises(CniError) as err:
        add(kernel, ipam)
    assert (err.value.code, ipam.calls) == (104, [])
    assert "not a bridge" in err.value.msg


def test_a_missing_namespace_is_code_3_and_changes_nothing(kernel: FakeKernel) -> None:
    before = state(kernel)
    with pytest.raises(CniError) as err:
        add(kernel, FakeIpam(), bridge.Attachment("/run/netns/gone", "eth0", "c1"))
    assert err.value.code == 3
    assert state(kernel) == before


def test_del_releases_and_deletes_the_pair_and_is_idempotent(kernel: FakeKernel) -> None:
    add(kernel, FakeIpam())
    ipam = FakeIpam(fail_del=CniError(5, "ipam down"))
    for _ in range(2):
        bridge.delete(CONFIG, WHERE, kernel=kernel, ipam=ipam, log=NullLog())
    assert kernel.open(CTR).find_link("eth0") is None
    assert [link.kind for link in kernel.host().list_links()] == ["", "bridge"]
    assert ipam.calls == ["DEL", "DEL"]


def test_del_after_the_namespace_is_gone_still_releases(kernel: FakeKernel) -> None:
    add(kernel, FakeIpam())
    kernel.remove_namespace(CTR)
    ipam = FakeIpam()
    bridge.delete(CONFIG, WHERE, kernel=kernel, ipam=ipam, log=NullLog())
    assert ipam.calls == ["DEL"]
    assert [link.kind for link in kernel.host().list_links()] == ["", "bridge"]


def _prev(kernel: FakeKernel) -> Result:
    return add(kernel, FakeIpam())


def test_check_passes_on_an_untouched_attachment(kernel: FakeKernel) -> None:
    prev = _prev(kernel)
    ipam = FakeIpam()
    check.check(CONFIG, WHERE, prev, kernel=kernel, ipam=ipam)
    assert ipam.calls == ["CHECK"]


def _move_host_veth(kernel: FakeKernel, prev: Result) -> None:
    kernel.host().add_bridge("other-br", mtu=1500, mac="02:00:00:00:00:42")
    kernel.host().set_link(prev.interfaces[1].name, master="other-br")


BREAKAGES: dict[str, tuple[Callable[[FakeKernel, Result], None], str]] = {
    "container address removed": (
        lambda k, r: k.open(CTR).delete_address("eth0", ip("169.254.172.2/22")),
        "lacks address 169.254.172.2/22"),
    "container route removed": (
        lambda k, r: k.open(CTR).delete_route("eth0", net("169.254.170.2/32"),
                                              gw=addr("169.254.172.1")),
        "lacks route to 169.254.170.2/32"),
    "container interface down": (lambda k, r: k.open(CTR).set_link("eth0", up=False), "down"),
    "container mac changed": (
        lambda k, r: k.open(CTR).set_link("eth0", mac="0a:58:00:00:00:01"), "has MAC"),
    "container interface deleted": (
        lambda k, r: k.open(CTR).delete_link("eth0"), "not found"),
    "host veth moved to another bridge": (_move_host_veth, "not attached"),
    "bridge address removed": (
        lambda k, r: k.host().delete_address("ecs-br0", ip("169.254.172.1/22")),
        "lacks gateway address 169.254.172.1/22"),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_check_names_what_was_broken(kernel: FakeKernel, case: str) -> None:
    prev = _prev(kernel)
    breakage, named = BREAKAGES[case]
    breakage(kernel, prev)
    with pytest.raises(CniError) as err:
        check.check(CONFIG, WHERE, prev, kernel=kernel, ipam=FakeIpam())
    assert err.value.code == 106
    assert named in f"{err.value.msg} {err.value.details}"


def test_check_without_prev_result_is_a_config_error(kernel: FakeKernel) -> None:
    with pytest.raises(CniError) as err:
        check.check(CONFIG, WHERE, None, kernel=kernel, ipam=FakeIpam())
    assert err.value.code == 7


def test_gc_deletes_only_our_veths_of_invalid_attachments(kernel: FakeKernel) -> None:
    add(kernel, FakeIpam())
    kernel.add_namespace("/run/netns/ctr2")
    add(kernel, FakeIpam(), bridge.Attachment("/run/netns/ctr2", "eth0", "c2"))
    host = kernel.host()
    host.add_veth("foreign", peer_name="foreign-peer", peer_ns=host, mtu=1500)
    host.set_link("foreign", master="ecs-br0")
    ipam = FakeIpam()
    deleted = gc.collect("ecs-br0", {("c1", "eth0")}, kernel=kernel, ipam=ipam, log=NullLog())
    assert len(deleted) == 1
    assert kernel.open(CTR).find_link("eth0") is not None
    assert kernel.open("/run/netns/ctr2").find_link("eth0") is None
    assert host.find_link("foreign") is not None
    assert ipam.calls == ["GC"]
