"""Entry points: the CNI executables and the operator CLI."""
