"""One error type carrying a CNI error code, and the kernel's answers as subclasses.

Only the entry points turn a `CniError` into the CNI error object and an exit
status; everything below them raises.
"""

from __future__ import annotations

__all__ = [
    "ADDRESS_CONFLICT",
    "ALLOCATION_MISSING",
    "BRIDGE_CONFLICT",
    "CHECK_FAILED",
    "DECODE_FAILURE",
    "INCOMPATIBLE_VERSION",
    "INTERNAL",
    "INVALID_CONFIG",
    "INVALID_ENV",
    "IO_FAILURE",
    "IPAM_FAILURE",
    "KERNEL_FAILURE",
    "LIMITED_CONNECTIVITY",
    "NOT_AVAILABLE",
    "NO_ADDRESS",
    "TRY_AGAIN",
    "UNKNOWN_CONTAINER",
    "UNSUPPORTED_FIELD",
    "AddressExists",
    "CniError",
    "KernelError",
    "LinkExists",
    "LinkNotFound",
    "NamespaceNotFound",
    "RouteExists",
]

# Codes reserved by the CNI specification.
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN = 11
NOT_AVAILABLE = 50
LIMITED_CONNECTIVITY = 51

# Codes of this project (the specification leaves 100 and up to plugins).
KERNEL_FAILURE = 100
"""A netlink request failed for a reason the plugin cannot repair."""
IPAM_FAILURE = 101
"""The delegated IPAM plugin could not be run or returned something unusable."""
NO_ADDRESS = 102
"""The address pool has no free address left."""
ADDRESS_CONFLICT = 103
"""The address asked for is held by someone else, or the owner holds another."""
BRIDGE_CONFLICT = 104
"""The bridge name is taken by a non-bridge, or the bridge has another address."""
ALLOCATION_MISSING = 105
"""CHECK: the owner holds no address (or not the configured one) in a configured subnet."""
CHECK_FAILED = 106
"""CHECK: an interface, address or route that ADD made is missing or changed."""
INTERNAL = 999
"""A bug: an exception that is not a `CniError` reached the entry point."""


class CniError(Exception):
    """A failure the plugin reports to the runtime as a CNI error object."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def __str__(self) -> str:
        return f"{self.msg}: {self.details}" if self.details else self.msg

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.msg!r}, {self.details!r})"


class KernelError(CniError):
    """A kernel request failed; the message names the operation and the object."""

    def __init__(self, msg: str, details: str = "") -> None:
        super().__init__(KERNEL_FAILURE, msg, details)


class NamespaceNotFound(KernelError):
    """The network namespace path does not exist or is not a network namespace."""

    def __init__(self, path: str, details: str = "") -> None:
        super().__init__(f"network namespace {path!r} not found", details)
        self.code = UNKNOWN_CONTAINER
        self.path = path


class LinkNotFound(KernelError):
    """No interface of that name exists in the namespace (ENODEV)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"link {name!r} not found")
        self.name = name


class LinkExists(KernelError):
    """An interface of that name already exists in the namespace (EEXIST)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"link {name!r} already exists")
        self.name = name


class AddressExists(KernelError):
    """The address is already on the interface (EEXIST)."""

    def __init__(self, link: str, address: str) -> None:
        super().__init__(f"address {address} already exists on {link!r}")


class RouteExists(KernelError):
    """A route to that destination already exists (EEXIST)."""

    def __init__(self, link: str, dst: str) -> None:
        super().__init__(f"route to {dst} already exists on {link!r}")
