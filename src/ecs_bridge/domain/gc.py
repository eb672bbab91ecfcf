"""CNI GC (1.1.0): which attachments the runtime still considers valid.

The runtime sends them as `cni.dev/valid-attachments` (the spec-v1.1.0 tag called
the key `cni.dev/attachments`; libcni sends both). Everything a plugin made for
any other attachment may be collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecs_bridge.domain import fields

__all__ = ["ATTACHMENT_KEYS", "valid_attachments"]

ATTACHMENT_KEYS = ("cni.dev/valid-attachments", "cni.dev/attachments")


def valid_attachments(config: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(containerID, ifname) pairs of every valid attachment; code 7 when malformed."""
    pairs: set[tuple[str, str]] = set()
    for key in ATTACHMENT_KEYS:
        for i, raw in enumerate(fields.opt_list(config, key, key)):
            item = fields.require_object(raw, f"{key}[{i}]")
            container = fields.opt_str(item, "containerID", f"{key}[{i}].containerID")
            ifname = fields.opt_str(item, "ifname", f"{key}[{i}].ifname")
            if not container or not ifname:
                raise fields.invalid(f"{key}[{i}] needs containerID and ifname", repr(item))
            pairs.add((container, ifname))
    return pairs
