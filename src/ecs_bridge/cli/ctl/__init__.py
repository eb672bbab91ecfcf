"""`ecs-bridge-ctl`: the operator's CLI (typer). Never imported by the CNI executables."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    from ecs_bridge.cli.ctl.app import main as run  # noqa: PLC0415 - `import ctl` stays cheap

    run()
