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
    alias: str = ""
    """The interface alias (IFLA_IFALIAS); ecs-bridge marks host veths with it."""


@frozen
class KernelAddress:
    address: IPInterface
    scope: int
    """SCOPE_UNIVERSE (global), SCOPE_LINK or SCOPE_HOST. IPv6 scope follows the address
    (fe80::/10 is SCOPE_LINK); IPv4 addresses added through this port are SCOPE_UNIVERSE,
    169.254/16 included."""


@frozen
class KernelRoute:
    """A route of the main table whose output interface is the link it was listed for."""

    dst: IPNetwork
    gw: IPAddress | None
    scope: int
    """IPv4 routes without a gateway (prefix routes, on-link routes) are SCOPE_LINK, IPv4
    routes via a gateway SCOPE_UNIVERSE; IPv6 routes are always SCOPE_UNIVERSE."""


class Namespace(Protocol):
    """One network namespace. Every call acts in this namespace only.

    Errors: `LinkNotFound` for a missing interface, `LinkExists`, `AddressExists`
    and `RouteExists` for EEXIST, `KernelError` for anything else, always naming
    the operation and the object (`cannot <op> <object>: <strerror> (errno N)`).
    The kernel contract tests (tests/kernel_contract*.py) pin down every rule below
    for both the netlink adapter and the fake kernel.
    """

    @property
    def path(self) -> str:
        """The namespace's path (`/run/netns/x`), or `` for the process's own."""
        ...

    def find_link(self, name: str) -> Link | None:
        """The interface named `name`, or None when there is none (or the name is
        longer than 15 bytes)."""
        ...

    def list_links(self) -> list[Link]: ...

    def add_bridge(self, name: str, *, mtu: int, mac: str) -> None:
        """Create a bridge, down. `LinkExists` if the name is taken; `KernelError` for
        a name over 15 bytes or with `/`, `:` or blanks, an MTU outside 68-65535, a
        multicast, all-zero or malformed MAC.

        Its MTU follows its smallest port (1500 with none) until set by `set_link`;
        its MAC, given here, no longer follows its ports.
        """
        ...

    def add_veth(self, name: str, *, peer_name: str, peer_ns: Namespace, mtu: int) -> None:
        """Create a veth pair, both ends down, both with `mtu`: `name` here,
        `peer_name` in `peer_ns` (a handle of the same kernel adapter).

        `LinkExists` naming whichever name is taken in its namespace; then nothing
        is created.
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
        alias: str | None = None,
    ) -> None:
        """Change what is given; `master` names a bridge in this namespace.

        `LinkNotFound` for `name`, or for `master` when that is missing; `KernelError`
        when `master` is not a bridge (or is the link itself), for an MTU outside
        68-65535, a multicast, all-zero or malformed MAC. Taking a link down drops all
        its routes and its IPv6 addresses (IPv4 addresses stay); bringing it up again
        restores only the prefix routes of its addresses. Once up with carrier (a
        veth whose peer is up), a link gets its IPv6 link-local address and
        fe80::/64, asynchronously on Linux.
        """
        ...

    def list_addresses(self, name: str) -> list[KernelAddress]:
        """Both families, link-local ones included."""
        ...

    def add_address(self, name: str, address: IPInterface, *, nodad: bool = False) -> None:
        """Add an address; like the kernel, this also adds its prefix route.

        The prefix route is added only while the link is up (else when it comes up):
        IPv4 none for a /32, IPv6 one even for a /128. `AddressExists` for the same
        IPv4 address and prefix, or the same IPv6 address with any prefix.
        `nodad` skips IPv6 duplicate address detection (the address is usable at once);
        without it the address is tentative until DAD completes, which needs carrier
        (about a second after it on Linux).
        """
        ...

    def delete_address(self, name: str, address: IPInterface) -> None:
        """Delete exactly this address and prefix (`KernelError` if absent), with its
        prefix route unless another address shares it. Deleting a link's last IPv4
        address also deletes all its IPv4 routes."""
        ...

    def list_routes(self, name: str) -> list[KernelRoute]:
        """Main-table unicast routes of both families whose output interface is `name`;
        an IPv6 static route duplicating a prefix route is listed twice."""
        ...

    def add_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        """Add a main-table route out of `name`, via `gw` if given, else on-link.

        `RouteExists` if the destination is already routed (out of any link, via any
        gateway; an IPv6 prefix route does not count). `KernelError` when the link is
        down, or when no on-link route of this link covers `gw` (an IPv6 link-local
        `gw` needs none): "Network is unreachable" (IPv4), "No route to host" (IPv6).
        """
        ...

    def delete_route(self, name: str, dst: IPNetwork, *, gw: IPAddress | None = None) -> None:
        """Delete the route to `dst` out of `name` (via `gw` if given, else whatever its
        gateway; the prefix route first). `KernelError` if there is none."""
        ...

    def close(self) -> None:
        """Release the handle; later calls raise `KernelError`; closing twice is fine."""
        ...


class Kernel(Protocol):
    def host(self) -> Namespace:
        """The namespace the plugin process runs in."""
        ...

    def open(self, path: str) -> Namespace:
        """The namespace at `path`; `NamespaceNotFound` if it is missing or not a netns.

        An open handle keeps its namespace alive: after `ip netns del`, its links (and
        so the host ends of their veth pairs) go only once the handle is closed.
        """
        ...


class IpamDelegate(Protocol):
    """The IPAM plugin of the config, already told the config and the environment."""

    def add(self) -> Result: ...

    def delete(self) -> None: ...

    def check(self) -> None: ...

    def status(self) -> None: ...

    def gc(self) -> None: ...


class Logger(Protocol):
    """Where use cases say what they did. Never raises: logging must not fail an operation."""

    def debug(self, msg: str, **context: object) -> None: ...

    def info(self, msg: str, **context: object) -> None: ...

    def warning(self, msg: str, **context: object) -> None: ...

    def error(self, msg: str, **context: object) -> None: ...
