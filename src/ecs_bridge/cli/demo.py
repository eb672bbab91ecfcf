"""`make demo`: an ecs-ipam ADD / DEL round trip on a throwaway database.

It execs the installed `ecs-ipam` (beside this interpreter) exactly as the ECS
agent does: the CNI variables in the environment, the network config on stdin,
then the agent's own DEL (empty container id, a namespace path that does not
exist). Nothing on the host is touched. To be replaced by `ecs-bridge-ctl demo`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

CONFIG: dict[str, Any] = {
    "cniVersion": "0.3.0", "name": "network-name", "type": "ecs-bridge", "bridge": "ecs-bridge",
    "ipam": {"type": "ecs-ipam", "id": "0a:1b:2c:3d:4e:5f", "ipv4-subnet": "169.254.172.0/22",
             "ipv4-routes": [{"dst": "169.254.170.2/32"}]},
}


def _exec(exe: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shown = " ".join(f"{k}={v!r}" for k, v in env.items() if k.startswith("CNI_"))
    print(f"\n$ {shown} {exe.name} < config.json")
    run = subprocess.run([str(exe)], input=json.dumps(CONFIG), env=env, capture_output=True,
                         text=True, timeout=60)
    print(f"exit status {run.returncode}")
    return run


def main() -> int:
    exe = Path(sys.executable).parent / "ecs-ipam"
    with tempfile.TemporaryDirectory(prefix="ecs-ipam-demo-") as tmp:
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "IPAM_DB_PATH": f"{tmp}/data/eni-ipam.db", "ECS_CNI_LOG_FILE": f"{tmp}/ipam.log"}
        print(f"database {base['IPAM_DB_PATH']}, log {base['ECS_CNI_LOG_FILE']}")
        print("config.json:\n" + json.dumps(CONFIG, indent=2))
        add = _exec(exe, {**base, "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "demo-pause-ctr",
                          "CNI_NETNS": "/host/proc/4242/ns/net", "CNI_IFNAME": "ecs-eth0",
                          "CNI_PATH": str(exe.parent)})
        print("result:\n" + (json.dumps(json.loads(add.stdout), indent=2) if add.stdout
                             else add.stderr))
        delete = _exec(exe, {**base, "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "",
                             "CNI_NETNS": "/host/proc//ns/net", "CNI_IFNAME": "ecs-eth0"})
        print("DEL: " + ("released, no output (success)" if delete.returncode == 0
                         else delete.stdout + delete.stderr))
        print("\nlog:\n" + Path(base["ECS_CNI_LOG_FILE"]).read_text(errors="replace"))
    return 0 if add.returncode == 0 and delete.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
