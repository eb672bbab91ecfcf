"""A fake host for `ecs-bridge-ctl` tests: the fake kernel and an in-memory store, with
containers attached by the real bridge and IPAM use cases, and the CLI run through
typer's CliRunner with that wiring."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from attrs import define, field
from typer.testing import CliRunner, Result

from ecs_bridge.adapters.fake_kernel import FakeKernel, FakeNamespace
from ecs_bridge.adapters.fake_netns_ids import FakeNetnsIds
from ecs_bridge.adapters.filelog import NullLog
from ecs_bridge.adapters.memory_store import MemoryStore
from ecs_bridge.cli.ctl.app import app
from ecs_bridge.cli.ctl.context import CtlContext
from ecs_bridge.domain import bridge, ipam
from ecs_bridge.domain.allocation import Allocation, Attachment
from ecs_bridge.domain.ipamconf import parse_ipam_config
from ecs_bridge.domain.netconf import parse_bridge_config
from ecs_bridge.domain.types import Result as CniResult

BRIDGE = "ecs-br0"
V4 = "169.254.172.0/22"
V6 = "2001:db8:172::/64"
NOW = 1_800_000_000.0
DB = "/fake/eni-ipam.db"


class StoreIpam:
    """The IPAM delegate answering as ecs-ipam would, in process, on a MemoryStore."""

    def __init__(self, store: MemoryStore, raw: dict[str, Any], who: Attachment,
                 now: float) -> None:
        self.store, self.raw, self.who, self.now = store, raw, who, now

    def add(self) -> CniResult:
        config = parse_ipam_config({"ipam": self.raw}, command="ADD")
        return ipam.allocate(self.store, config, self.who, now=self.now, log=NullLog())

    def delete(self) -> None:
        ipam.release(self.store, parse_ipam_config({"ipam": self.raw}, command="DEL"),
                     self.who, log=NullLog())

    def check(self) -> None:
        pass

    def status(self) -> None:
        pass

    def gc(self) -> None:
        pass


@define
class FakeHost:
    kernel: FakeKernel = field(factory=FakeKernel)
    store: MemoryStore = field(factory=MemoryStore)
    now: float = NOW
    ids: FakeNetnsIds = field(init=False)
    _random: itertools.count[int] = field(factory=lambda: itertools.count(1))

    def __attrs_post_init__(self) -> None:
        self.ids = FakeNetnsIds(self.kernel)

    def random_bytes(self, n: int) -> bytes:
        return next(self._random).to_bytes(n, "big")

    def attach(self, container_id: str, *, owner: str = "", ifname: str = "eth0",
               families: Sequence[str] = ("ipv4",), at: float | None = None) -> CniResult:
        """ADD through the bridge use case into a new namespace /run/netns/<container_id>."""
        path = f"/run/netns/{container_id}"
        if path not in self.kernel.namespaces:
            self.kernel.add_namespace(path)
        raw: dict[str, Any] = {"type": "ecs-ipam", "id": owner}
        if "ipv4" in families:
            raw["ipv4-subnet"] = V4
        if "ipv6" in families:
            raw["ipv6-subnet"] = V6
        config = parse_bridge_config({"bridge": BRIDGE, "ipam": raw}, command="ADD")
        who = Attachment(owner=owner or container_id, container_id=container_id, ifname=ifname)
        return bridge.add(config, bridge.Attachment(netns=path, ifname=ifname,
                                                    container_id=container_id),
                          kernel=self.kernel, ipam=StoreIpam(self.store, raw, who,
                                                             self.now if at is None else at),
                          log=NullLog(), random_bytes=self.random_bytes)

    def hold(self, address: str, owner: str, *, container_id: str = "", ifname: str = "eth0",
             subnet: str = V4, at: float | None = None) -> None:
        """An allocation no veth serves: what a lost DEL leaves behind."""
        with self.store.transaction() as tx:
            tx.insert(Allocation(address=ipaddress.ip_address(address),
                                 subnet=ipaddress.ip_network(subnet), owner=owner,
                                 container_id=container_id or owner, ifname=ifname,
                                 since=self.now - 3600 if at is None else at))

    def held(self) -> list[tuple[str, str]]:
        """(address, owner) of every allocation, gateways included."""
        with self.store.transaction() as tx:
            return [(str(a.address), a.owner) for a in tx.every_allocation()]

    def host(self) -> FakeNamespace:
        return self.kernel.host()

    def context(self, *, scripts_dir: Path | None = None, root: bool = False) -> CtlContext:
        return CtlContext(
            make_kernel=lambda: self.kernel, open_store=lambda path: nullcontext(self.store),
            make_netns_ids=lambda: self.ids,
            other_namespaces=lambda: sorted(self.kernel.namespaces), now=lambda: self.now,
            scripts_dir=scripts_dir or Path("/nonexistent"), is_root=lambda: root,
            make_log=lambda command: NullLog())

    def ctl(self, *args: str, stdin: str | None = None, **context: Any) -> Result:
        return run_ctl(self.context(**context), *args, stdin=stdin)


def run_ctl(context: CtlContext, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), obj=context, input=stdin, catch_exceptions=False)
