"""ecs-bridge and ecs-ipam: Amazon ECS's bridge CNI plugins, in Python."""

__all__ = ["__version__"]

__version__ = "0.1.0"
