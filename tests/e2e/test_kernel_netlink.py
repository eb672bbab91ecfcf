"""The kernel contract held by the netlink adapter, as root, in throwaway namespaces.

Both namespaces of `kernel_env` come from `make_netns` and are opened with
`kernel.open(path)`: the machine's own namespace is never touched. `ip -j -n NAME`
is the independent observer. Beyond the contract: the process never stays in
another namespace, `host()` inside a namespace, agreement with `ip -j` on whole
listings, and the measured cost of a handle and of an ADD-like call sequence.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ecs_bridge.adapters.netlink import NetlinkKernel
from ecs_bridge.domain.errors import NamespaceNotFound
from ecs_bridge.domain.ports import Namespace
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork
from tests.e2e.conftest import Netns
from tests.kernel_contract import KernelEnv, eventually, iface, net, routes_of
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

ADDRESS_FLAGS = ("tentative", "nodad", "dadfailed", "deprecated")
SCOPES = {"global": 0, "link": 253, "host": 254}


class IpObserver:
    """`ip -j -n NAME ...`: the kernel as iproute2 sees it, independent of pyroute2."""

    def __init__(self, namespaces: list[Netns]) -> None:
        self.by_path = {ns.path: ns for ns in namespaces}

    def link_names(self, ns: Namespace) -> set[str]:
        return {link["ifname"] for link in self.by_path[ns.path].ip_json("link", "show")}

    def link_facts(self, ns: Namespace, name: str) -> dict[str, Any]:
        (link,) = self.by_path[ns.path].ip_json("-d", "link", "show", "dev", name)
        return {"kind": link.get("linkinfo", {}).get("info_kind", ""), "mtu": link["mtu"],
                "mac": link["address"], "up": "UP" in link["flags"],
                "master": link.get("master"), "alias": link.get("ifalias", "")}

    def address_flags(self, ns: Namespace, link: str, address: IPInterface) -> set[str] | None:
        for info in self._addresses(ns, link):
            if ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}") == address:
                return {flag for flag in ADDRESS_FLAGS if info.get(flag)}
        return None

    def routes(self, ns: Namespace, link: str) -> set[tuple[IPNetwork, IPAddress | None]]:
        found: set[tuple[IPNetwork, IPAddress | None]] = set()
        for family, default in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            show = self.by_path[ns.path].ip_json(family, "route", "show", "table", "main",
                                                 "dev", link)
            for route in show:
                if route.get("type", "unicast") != "unicast":
                    continue
                dst = default if route["dst"] == "default" else route["dst"]
                gw = route.get("gateway")
                found.add((net(dst), ipaddress.ip_address(gw) if gw else None))
        return found

    def remove_namespace(self, ns: Namespace) -> None:
        subprocess.run(["ip", "netns", "del", self.by_path[ns.path].name], check=True)

    def _addresses(self, ns: Namespace, link: str) -> list[dict[str, Any]]:
        (shown,) = self.by_path[ns.path].ip_json("addr", "show", "dev", link)
        return list(shown["addr_info"])


@pytest.fixture
def kernel_env(make_netns: Callable[[str], Netns]) -> Iterator[KernelEnv]:
    host_ns, container_ns = make_netns("khost"), make_netns("kctr")
    with NetlinkKernel() as kernel:
        yield KernelEnv(kernel, kernel.open(host_ns.path), kernel.open(container_ns.path),
                        IpObserver([host_ns, container_ns]),
                        f"/run/netns/ecsbt-missing-{os.getpid()}")


def _own_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def _add_like(host: Namespace, container: Namespace) -> None:
    """What an ADD asks of the kernel, roughly in its order."""
    host.find_link("ecs-br0")
    host.add_bridge("ecs-br0", mtu=1500, mac="0a:58:a9:fe:ac:01")
    host.set_link("ecs-br0", up=True)
    host.add_veth("veth0", peer_name="eth0", peer_ns=container, mtu=1500)
    host.set_link("veth0", master="ecs-br0", up=True)
    container.set_link("eth0", up=True, mac="0a:58:a9:fe:ac:05")
    container.add_address("eth0", iface("169.254.172.5/22"))
    container.add_route("eth0", net("169.254.170.2/32"), gw=ipaddress.ip_address("169.254.172.1"))
    for route in container.list_routes("eth0"):
        if route.gw is None:
            container.delete_route("eth0", route.dst)
    host.list_addresses("ecs-br0")
    host.add_address("ecs-br0", iface("169.254.172.1/22"))
    host.find_link("veth0")


class TestTheProcessStaysHome:
    def test_opening_using_and_closing_handles_leaves_the_thread_in_its_namespace(
        self, host_ns: Netns, container_ns: Netns
    ) -> None:
        before = _own_netns()
        with NetlinkKernel() as kernel:
            host, container = kernel.open(host_ns.path), kernel.open(container_ns.path)
            assert _own_netns() == before
            _add_like(host, container)
            assert _own_netns() == before
        assert _own_netns() == before

    @pytest.mark.parametrize("path", ["/etc/hostname", "/proc/self/ns/uts",
                                      "/run/netns/ecsbt-never-made"])
    def test_a_failed_open_leaves_the_thread_in_its_namespace(self, path: str) -> None:
        before = _own_netns()
        with pytest.raises(NamespaceNotFound):
            NetlinkKernel().open(path)
        assert _own_netns() == before

    def test_what_was_made_through_a_handle_is_in_that_namespace_only(
        self, host_ns: Netns, container_ns: Netns
    ) -> None:
        with NetlinkKernel() as kernel:
            _add_like(kernel.open(host_ns.path), kernel.open(container_ns.path))
        assert {"ecs-br0", "veth0"} <= {link["ifname"] for link in host_ns.ip_json("link")}
        assert {link["ifname"] for link in container_ns.ip_json("link")} == {"lo", "eth0"}


class TestHostNamespace:
    def test_host_is_the_namespace_the_process_runs_in(
        self, host_ns: Netns, container_ns: Netns
    ) -> None:
        script = textwrap.dedent(f"""
            from ecs_bridge.adapters.netlink import NetlinkKernel
            with NetlinkKernel() as kernel:
                host = kernel.host()
                assert host.path == ""
                host.add_veth("veth9", peer_name="eth9", mtu=1400,
                              peer_ns=kernel.open({container_ns.path!r}))
                print(sorted(link.name for link in host.list_links()))
        """)
        run = subprocess.run(["ip", "netns", "exec", host_ns.name, sys.executable, "-c", script],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "['lo', 'veth9']"
        assert [link["mtu"] for link in container_ns.ip_json("link", "show", "eth9")] == [1400]


class TestAgreementWithIproute2:
    def test_list_links_agrees_with_ip_link(self, kernel_env: KernelEnv) -> None:
        _add_like(kernel_env.host, kernel_env.container)
        observer = kernel_env.observer
        assert isinstance(observer, IpObserver)
        for ns in (kernel_env.host, kernel_env.container):
            shown = observer.by_path[ns.path].ip_json("-d", "link", "show")
            by_index = {link.index: link for link in ns.list_links()}
            assert set(by_index) == {link["ifindex"] for link in shown}
            for link in shown:
                ours = by_index[link["ifindex"]]
                assert (ours.name, ours.mtu, ours.mac) == (
                    link["ifname"], link["mtu"], link["address"])
                assert observer.link_facts(ns, ours.name)["kind"] == ours.kind

    def test_list_addresses_agrees_with_ip_addr_once_link_local_addresses_came(
        self, kernel_env: KernelEnv
    ) -> None:
        _add_like(kernel_env.host, kernel_env.container)
        kernel_env.container.add_address("eth0", iface("2001:db8:172::5/64"), nodad=True)
        observer = kernel_env.observer
        assert isinstance(observer, IpObserver)
        assert eventually(lambda: any(a.address.ip.is_link_local for a in
                                      kernel_env.container.list_addresses("eth0")))
        shown = {(ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}"), SCOPES[a["scope"]])
                 for a in observer._addresses(kernel_env.container, "eth0")}
        ours = {(a.address, a.scope) for a in kernel_env.container.list_addresses("eth0")}
        assert ours == shown

    def test_list_routes_agrees_with_ip_route_with_link_local_routes(
        self, kernel_env: KernelEnv
    ) -> None:
        kernel_env.host.add_veth("veth0", peer_name="eth0", peer_ns=kernel_env.container,
                                 mtu=1500)
        kernel_env.host.set_link("veth0", up=True)
        kernel_env.container.set_link("eth0", up=True)
        kernel_env.container.add_address("eth0", iface("169.254.172.5/22"))
        kernel_env.container.add_address("eth0", iface("2001:db8:172::5/64"), nodad=True)
        kernel_env.container.add_route("eth0", net("::/0"), gw=ipaddress.ip_address("fe80::1"))
        assert eventually(lambda: (net("fe80::/64"), None) in routes_of(kernel_env.container,
                                                                         "eth0"))
        assert routes_of(kernel_env.container, "eth0") == kernel_env.observer.routes(
            kernel_env.container, "eth0")


def test_the_cost_of_a_handle_and_of_an_add_like_sequence_is_measured(
    make_netns: Callable[[str], Netns], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reported, not asserted: what the hot path pays per namespace and per ADD."""
    host_ns, container_ns = make_netns("chost"), make_netns("cctr")
    rounds = 200
    with NetlinkKernel() as kernel:
        kernel.open(host_ns.path).close()  # pyroute2 imported, caches warm
        start = time.perf_counter()
        for _ in range(rounds):
            kernel.open(container_ns.path).close()
        per_open = (time.perf_counter() - start) / rounds
        host, container = kernel.open(host_ns.path), kernel.open(container_ns.path)
        start = time.perf_counter()
        _add_like(host, container)
        sequence = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[kernel cost] open+close a namespace handle: {per_open * 1e3:.3f} ms; "
              f"ADD-like sequence (about 15 calls): {sequence * 1e3:.2f} ms")
