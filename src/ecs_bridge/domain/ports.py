"""The ports the bridge use cases drive: the kernel and the delegated IPAM plugin.

Adapters satisfy these structurally (`adapters.netlink` and `adapters.fake_kernel`
for the kernel, `adapters.ipam_exec` for IPAM). The kernel port is low-level on
purpose: what to do when a bridge exists but is not a bridge, or which routes to
delete, is decided by the domain, where the fake kernel can test it.
"""

from __future__ import annotations

from typing import Protocol

from attrs import frozen

from ecs_bridge.domain.types import IPAddress, IPInterface, IPNetwork, Result

__all__ = [
    "SCOPE_HOST",
    "SCOPE_LINK",
    "SCOPE_UNIVERSE",
    "IpamDelegate",
    "Kernel",
    "KernelAddress",
    "KernelRoute",
    "Link",
    "Logger",
    "Namespace",
]

SCOPE_UNIVERSE = 0
SCOPE_LINK = 253
SCOPE_HOST = 254


@frozen
class Link:
    """An interface as the kernel reports it, in the namespace it was read from."""

    name: str
    index: int
    kind: str
    """`bridge`, `veth`, `dummy`, ... or `` when the kernel names no kind (`lo`)."""
    mtu: int
    mac: str
    """Lower-case, colon-separated."""
    up: bool
    """Administratively up (IFF_UP)."""
    master: int | None = None
    """Index of the bridge this link is enslaved to, in the same namespace."""
    peer_index: int | None = None
    """For a veth: the index of its peer, in the peer's namespace."""


@frozen
class KernelAddress:
    address: IPInterface
    scope: int
    """SCOPE_UNIVERSE (global), SCOPE_LINK (fe80::/10, 169.254/16 set so) or SCOPE_HOST."""


@frozen
class KernelRoute:
    """A route of the main table whose output interface is the link it was listed for."""

    dst: IPNetwork
    gw: IPAddress | None
    scope: int


class Namespace(Protocol):
    """One network namespace. Every call acts in this namespace only.

    Errors: `LinkNotFound` for a missing interface, `LinkExists`, `AddressExists`
    and `RouteExists` for EEXIST, `KernelError` for anything else, always naming
    the operation and the object.
    """

    @property
    def path(self) -> str:
        """The namespace's path (`/run/netns/x`), or `` for the process's own."""
        ...

    def find_link(self, name: str) -> Link | None:
        """The interface named `name`, or None when there is none."""
        ...

    def list_links(self) -> list[Link]: ...

    def add_bridge(self, name: str, *, mtu: int, mac: str) -> None:
        """Create a bridge, down. `LinkExists` if the name is taken."""
        ...

    def add_veth(self, name: str, *, peer_name: str, peer_ns: Namespace, mtu: int) -> None:
        """Create a veth pair, both ends down: `name` here, `peer_name` in `peer_ns`.

        `LinkExists` if either name is taken in its namespace.
        """
        ...

    def delete_link(self, name: str) -> None:
        """Delete an interface; a veth takes its peer with it. `LinkNotFound` if absent."""
        ...

    def set_link(
        self,
        name: str,
        *,
        up: bool | None = None,
        mtu: int | None = None,
        mac: str | None = None,
        master: str | None = None,
    ) -> None:
        """Change what is given; `master` names a bridge in this namespace."""
        ...

    def list_addresses(self, name: str) -> list[KernelAddress]: ...

    def add_address(self, name: str, address: IPInterface, *, nodad: bool = False) -> None:
        """Add an address; like the kernel, this also adds its prefix route.

        `nodad` skips IPv6 duplicate address detection (the address is usable at once).
        """
        ...

    def delete_address(self, name: str, address: IPInterface) -> None: ...

    def list_routes(self, name: str) -> list[KernelRoute]:
        """Main-table routes of both families whose output interface is `name`."""
        ...

    def add_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        """Add a main-table route out of `name`, via `gw` if given, else on-link."""
        ...

    def delete_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None: ...

    def close(self) -> None: ...


class Kernel(Protocol):
    def host(self) -> Namespace:
        """The namespace the plugin process runs in."""
        ...

    def open(self, path: str) -> Namespace:
        """The namespace at `path`; `NamespaceNotFound` if it is missing or not a netns."""
        ...


class IpamDelegate(Protocol):
    """The IPAM plugin of the config, already told the config and the environment."""

    def add(self) -> Result: ...

    def delete(self) -> None: ...

    def check(self) -> None: ...


class Logger(Protocol):
    """Where use cases say what they did. Never raises: logging must not fail an operation."""

    def debug(self, msg: str, **context: object) -> None: ...

    def info(self, msg: str, **context: object) -> None: ...

    def warning(self, msg: str, **context: object) -> None: ...

    def error(self, msg: str, **context: object) -> None: ...
