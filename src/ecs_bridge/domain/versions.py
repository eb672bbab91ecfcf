"""The CNI specification versions both plugins speak."""

from __future__ import annotations

from ecs_bridge.domain.errors import INCOMPATIBLE_VERSION, CniError

__all__ = ["LATEST", "SUPPORTED_VERSIONS", "at_least", "require_supported"]

SUPPORTED_VERSIONS: tuple[str, ...] = (
    "0.1.0",
    "0.2.0",
    "0.3.0",
    "0.3.1",
    "0.4.0",
    "1.0.0",
    "1.1.0",
)
LATEST = SUPPORTED_VERSIONS[-1]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def at_least(version: str, minimum: str) -> bool:
    """Whether a supported `version` is `minimum` or newer."""
    return _key(version) >= _key(minimum)


def require_supported(version: str) -> str:
    """The version itself ("" meaning 0.1.0, as libcni reads it), or error code 1."""
    if version == "":
        return SUPPORTED_VERSIONS[0]
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f'config is "{version}", plugin supports {list(SUPPORTED_VERSIONS)}',
        )
    return version
