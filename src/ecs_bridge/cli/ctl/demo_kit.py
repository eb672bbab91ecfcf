"""What the demo needs around the plugins: throwaway namespaces that always go away,
signals that unwind instead of killing, the kernel read back, a real UDP datagram."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from ecs_bridge.domain.ports import SCOPE_UNIVERSE, Kernel, Namespace
from ecs_bridge.domain.types import IPAddress

__all__ = ["Namespaces", "interrupts_unwind", "links_table_rows", "routes_table_rows",
           "udp_probe"]

_UNWIND = (signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interrupts_unwind() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so `finally` runs."""
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in _UNWIND}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Namespaces:
    """Named namespaces (`ip netns add`) with unique names, all deleted on exit, whatever
    happened; signals are ignored while deleting so a second Ctrl-C cannot stop it."""

    def __init__(self, prefix: str = "ecsdemo") -> None:
        self.prefix = f"{prefix}-{os.getpid()}-{secrets.token_hex(2)}"
        self.names: list[str] = []

    def add(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        self.names.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True,
                       capture_output=True)
        return name

    def remove_all(self) -> list[str]:
        """Delete every namespace made; the names of those still present after."""
        quiet = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, *_UNWIND)}
        try:
            for name in reversed(self.names):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
            present = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                     text=True).stdout
            return [n for n in self.names if n in present.split()]
        finally:
            for sig, handler in quiet.items():
                signal.signal(sig, handler)

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc: object) -> None:
        left = self.remove_all()
        if left:
            sys.stderr.write(f"could not remove namespaces {left}: ip netns del them\n")


def links_table_rows(kernel: Kernel, where: dict[str, str]) -> list[list[object]]:
    """One row per interface (but `lo`) of each namespace: `where` maps a label to a
    namespace path."""
    rows: list[list[object]] = []
    for label, path in where.items():
        ns = kernel.open(path)
        try:
            rows += _rows_of(ns, label)
        finally:
            ns.close()
    return rows


def routes_table_rows(kernel: Kernel, label: str, path: str) -> list[list[object]]:
    """The routes of every interface (but `lo`) of one namespace, IPv6 link-local left out."""
    ns = kernel.open(path)
    try:
        return [[label, link.name, r.dst, r.gw] for link in ns.list_links() if link.name != "lo"
                for r in ns.list_routes(link.name)
                if not (r.dst.version == 6 and r.dst.is_link_local)]
    finally:
        ns.close()


def _rows_of(ns: Namespace, label: str) -> list[list[object]]:
    links = [link for link in ns.list_links() if link.name != "lo"]
    names = {link.index: link.name for link in links}
    rows: list[list[object]] = []
    for link in links:
        addresses = [a.address.with_prefixlen for a in ns.list_addresses(link.name)
                     if a.scope == SCOPE_UNIVERSE]
        on = names.get(link.master, "") if link.master else ""
        rows.append([label, link.name, link.kind, "up" if link.up else "down", link.mtu,
                     link.mac, ", ".join(addresses), on, link.alias])
    return rows


_RECEIVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.settimeout(10)
    print("ready", flush=True)
    data, peer = s.recvfrom(200)
    s.sendto(b"hello back from the host", peer)
    print(f"{data.decode()!r} from {peer[0]} port {peer[1]}", flush=True)
""")
_SENDER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.settimeout(0.2)
    for _ in range(50):
        s.sendto(b"hello from the container", (sys.argv[1], int(sys.argv[2])))
        try:
            print(repr(s.recvfrom(200)[0].decode()), flush=True)
            break
        except TimeoutError:
            pass
""")


def udp_probe(host: str, container: str, address: IPAddress, port: int) -> tuple[str, str]:
    """A UDP datagram from namespace `container` to `address`:`port`, where a socket bound
    in namespace `host` waits and answers: what each side received (`` for nothing)."""
    def inside(ns: str, script: str) -> list[str]:
        return ["ip", "netns", "exec", ns, sys.executable, "-I", "-c", script, str(address),
                str(port)]

    with subprocess.Popen(inside(host, _RECEIVER), stdout=subprocess.PIPE, text=True) as recv:
        try:
            if recv.stdout is None or recv.stdout.readline().strip() != "ready":
                return "", ""
            sent = subprocess.run(inside(container, _SENDER), capture_output=True, text=True,
                                  timeout=30)
            out, _ = recv.communicate(timeout=15)
            return out.strip(), sent.stdout.strip()
        finally:
            recv.kill()
