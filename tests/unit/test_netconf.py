"""ecs-bridge config validation: bad values fail with code 7 and are quoted."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_bridge.domain.errors import INVALID_CONFIG, CniError
from ecs_bridge.domain.netconf import BridgeConfig, parse_bridge_config

AGENT_ADD = {
    "bridge": "ecs-bridge", "cniVersion": "0.3.0", "forceAddress": False, "hairpinMode": False,
    "ipMasq": False, "isDefaultGateway": False, "isGateway": False, "mtu": 0,
    "name": "network-name", "type": "ecs-bridge",
    "ipam": {"id": "12:34:56:78:9a:bc", "ipv4-routes": [{"dst": "169.254.170.2/32"}],
             "ipv4-subnet": "169.254.172.0/22", "type": "ecs-ipam"},
}


def test_the_ecs_agents_exact_config_is_accepted_with_mtu_zero_meaning_1500() -> None:
    assert parse_bridge_config(AGENT_ADD, command="ADD") == BridgeConfig(
        bridge="ecs-bridge", mtu=1500, ipam_type="ecs-ipam", network="network-name"
    )


def test_an_empty_ipam_on_del_means_skip_ipam() -> None:
    config = parse_bridge_config({**AGENT_ADD, "ipam": {}}, command="DEL")
    assert config.ipam_type == ""


def test_mtu_is_taken_as_given_within_range() -> None:
    assert parse_bridge_config({**AGENT_ADD, "mtu": 9001}, command="ADD").mtu == 9001


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"bridge": None}, '"bridge"'),
        ({"bridge": 7}, "7"),
        ({"bridge": "ecs-br0-with-a-long-name"}, "'ecs-br0-with-a-long-name' is longer than 15"),
        ({"bridge": "a/b"}, "'a/b'"),
        ({"bridge": "a b"}, "'a b'"),
        ({"bridge": "a:b"}, "'a:b'"),
        ({"bridge": ".."}, "'..'"),
        ({"bridge": "a\0b"}, "'a\\x00b'"),
        ({"bridge": ""}, "''"),
        ({"mtu": -1}, "mtu -1"),
        ({"mtu": 65536}, "mtu 65536"),
        ({"mtu": 67}, "mtu 67"),
        ({"mtu": "1500"}, "'1500'"),
        ({"mtu": 1500.5}, "1500.5"),
        ({"mtu": True}, "True"),
        ({"ipam": None}, "IPAM config missing"),
        ({"ipam": {}}, "has no type"),
        ({"ipam": []}, "ipam must be an object"),
        ({"ipam": {"type": 5}}, "ipam.type"),
        ({"ipam": {"type": "../ecs-ipam"}}, "'../ecs-ipam'"),
        ({"ipam": {"type": "/usr/bin/ecs-ipam"}}, "'/usr/bin/ecs-ipam'"),
    ],
)
def test_bad_values_are_config_errors_that_name_the_value(
    change: dict[str, Any], named: str
) -> None:
    raw = {k: v for k, v in {**AGENT_ADD, **change}.items() if v is not None}
    with pytest.raises(CniError) as err:
        parse_bridge_config(raw, command="ADD")
    assert err.value.code == INVALID_CONFIG
    assert named in str(err.value)
