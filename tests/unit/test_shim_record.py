"""The shim's call record survives any environment a runtime can pass, byte for byte."""

from __future__ import annotations

from ecs_bridge.cli.shim import decode_call, encode_call


def test_a_call_record_round_trips_odd_values_and_non_utf8_bytes() -> None:
    environ = {"CNI_ARGS": "A=1;B=2=3", "EMPTY": "", "ODD": "x\udcff y", "UNICODE": "ü"}
    argv = ["/opt/cni/bin/ecs-bridge", ""]
    record = encode_call("bridge", argv, environ, "/tmp/a b", 0o22)
    assert decode_call(record) == ("bridge", argv, environ, "/tmp/a b", 0o22)


def test_an_empty_environment_and_argv_round_trip() -> None:
    assert decode_call(encode_call("ipam", [], {}, "/", 0)) == ("ipam", [], {}, "/", 0)
