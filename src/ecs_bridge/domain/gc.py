"""CNI GC (1.1.0): which attachments the runtime still considers valid.

The runtime sends them as `cni.dev/valid-attachments` (the spec-v1.1.0 tag called
the key `cni.dev/attachments`; libcni sends both). Everything a plugin made for
any other attachment may be collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from typing import Any

from ecs_bridge.domain import fields, plan
from ecs_bridge.domain.errors import CniError, LinkNotFound
from ecs_bridge.domain.ports import IpamDelegate, Kernel, Link, Logger

__all__ = ["ATTACHMENT_KEYS", "collect", "stale_veths", "valid_attachments"]

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


def stale_veths(links: list[Link], bridge: str,
                valid: set[tuple[str, str]]) -> list[Link]:
    """Host veths on `bridge` that ecs-bridge marked for an attachment not in `valid`.
    A veth without our alias (made by someone else) is never stale."""
    master = next((link.index for link in links if link.name == bridge), None)
    if master is None:
        return []
    stale = []
    for link in links:
        if link.master != master or link.kind != "veth":
            continue
        attachment = plan.parse_attachment_alias(link.alias)
        if attachment is not None and attachment not in valid:
            stale.append(link)
    return stale


def collect(bridge: str, valid: set[tuple[str, str]], *, kernel: Kernel,
            ipam: IpamDelegate | None, log: Logger) -> list[str]:
    """GC: forward to IPAM, then delete stale host veths (their container ends go with
    them). Goes on after errors and raises them all at the end. Returns what it deleted."""
    errors: list[CniError] = []
    if ipam is not None:
        try:
            ipam.gc()
        except CniError as exc:
            errors.append(exc)
    deleted = []
    with closing(kernel.host()) as host:
        for link in stale_veths(host.list_links(), bridge, valid):
            try:
                host.delete_link(link.name)
                deleted.append(link.name)
                log.info(f"GC deleted host veth {link.name}", alias=link.alias)
            except LinkNotFound:
                pass
            except CniError as exc:
                errors.append(exc)
    if errors:
        raise CniError(errors[0].code, f"GC: {errors[0].msg}",
                       "; ".join(str(e) for e in errors[1:]) or errors[0].details)
    return deleted
