"""The kernel port's contract, written once and held by both kernels.

Test modules import these classes and provide a `kernel_env` fixture:
`tests/unit/test_kernel_fake.py` (the fake, unprivileged) and
`tests/e2e/test_kernel_netlink.py` (pyroute2 against two throwaway namespaces, as
root). The fake is a fair stand-in for the kernel only while all of this passes
for both. Facts the port does not show (address flags, namespace deletion) come
from the environment's `Observer`: `ip -j` for the real kernel, the fake's state
for the fake. Addresses are from 169.254.0.0/16 and 2001:db8::/32 only.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from ecs_bridge.domain.ports import Kernel, Link, Namespace
from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork

__all__ = ["KernelEnv", "Observer", "addr", "eventually", "iface", "link_of", "net", "routes_of"]


class Observer(Protocol):
    """What the port does not offer: an outside view, and `ip netns del`."""

    def link_names(self, ns: Namespace) -> set[str]: ...

    def link_facts(self, ns: Namespace, name: str) -> dict[str, Any]:
        """`kind`, `mtu`, `mac`, `up`, `master` (a name or None) and `alias` of one link."""
        ...

    def address_flags(self, ns: Namespace, link: str, address: IPInterface) -> set[str] | None:
        """`tentative`, `nodad`, ... of an address, or None when it is absent."""
        ...

    def routes(self, ns: Namespace, link: str) -> set[tuple[IPNetwork, IPAddress | None]]:
        """(dst, gw) of the unicast main-table routes out of `link`, both families."""
        ...

    def remove_namespace(self, ns: Namespace) -> None:
        """Delete the namespace's path, as `ip netns del` does."""
        ...


@frozen
class KernelEnv:
    """A kernel, two fresh namespaces opened through it (`host` plays the host,
    `container` the container; `lo` is up in both), and the observer."""

    kernel: Kernel
    host: Namespace
    container: Namespace
    observer: Observer
    missing_path: str
    """A path where no namespace is."""


def net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


def addr(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def iface(text: str) -> IPInterface:
    return ipaddress.ip_interface(text)


def link_of(ns: Namespace, name: str) -> Link:
    """The link named `name`, which the test expects to be there."""
    link = ns.find_link(name)
    assert link is not None, f"no link {name!r} in {ns.path!r}"
    return link


def routes_of(ns: Namespace, link: str) -> set[tuple[IPNetwork, IPAddress | None]]:
    """The port's routes of `link` as (dst, gw) pairs."""
    return {(route.dst, route.gw) for route in ns.list_routes(link)}


def eventually(check: Callable[[], bool], *, timeout: float = 5.0) -> bool:
    """Whether `check` becomes true within `timeout` seconds: for what Linux does
    asynchronously (carrier, link-local addresses, namespace teardown)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
