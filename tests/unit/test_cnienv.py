"""The CNI environment: required variables, names, CNI_PATH and CNI_ARGS."""

from __future__ import annotations

import pytest

from ecs_bridge.domain.cnienv import CniEnv, parse_cni_args, parse_env
from ecs_bridge.domain.errors import INVALID_ENV, UNKNOWN_CONTAINER, CniError

FULL = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "abc123",
    "CNI_NETNS": "/run/netns/x",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
    "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web",
}
ALL = ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")


def test_a_full_environment_is_read_whole() -> None:
    assert parse_env(FULL, required=ALL) == CniEnv(
        command="ADD", container_id="abc123", netns="/run/netns/x", ifname="eth0",
        path=("/opt/cni/bin", "/usr/lib/cni"),
        args=(("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")),
    )


def test_missing_required_variables_are_all_named() -> None:
    with pytest.raises(CniError) as err:
        parse_env({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "a"}, required=ALL)
    assert err.value.code == INVALID_ENV
    assert err.value.msg == "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"


def test_a_missing_container_id_alone_is_code_3() -> None:
    env = {**FULL, "CNI_CONTAINERID": ""}
    with pytest.raises(CniError) as err:
        parse_env(env, required=ALL)
    assert err.value.code == UNKNOWN_CONTAINER


def test_the_ecs_agents_ipam_del_environment_is_accepted() -> None:
    env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "", "CNI_NETNS": "/host/proc//ns/net",
           "CNI_IFNAME": "ecs-eth0", "CNI_PATH": "/amazon-ecs-cni-plugins"}
    assert parse_env(env).container_id == ""


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CNI_COMMAND": "FOO"}, "unknown CNI_COMMAND: FOO"),
        ({"CNI_CONTAINERID": "-bad"}, "'-bad'"),
        ({"CNI_CONTAINERID": "a b"}, "'a b'"),
        ({"CNI_IFNAME": "a-very-long-ifname"}, "'a-very-long-ifname' is longer than 15"),
        ({"CNI_IFNAME": "eth/0"}, "'eth/0'"),
        ({"CNI_IFNAME": ".."}, "'..'"),
        ({"CNI_IFNAME": "eth 0"}, "'eth 0'"),
        ({"CNI_IFNAME": "eth\x000"}, "'eth\\x000'"),
        ({"CNI_NETNS": "run/netns/x"}, "'run/netns/x'"),
        ({"CNI_PATH": "bin:/usr/lib/cni"}, "'bin'"),
        ({"CNI_ARGS": "FOO"}, "'FOO'"),
        ({"CNI_ARGS": "A=1=2"}, "'A=1=2'"),
        ({"CNI_ARGS": "=1"}, "'=1'"),
    ],
)
def test_bad_variables_are_code_4_and_name_the_value(change: dict[str, str], named: str) -> None:
    with pytest.raises(CniError) as err:
        parse_env({**FULL, **change}, required=ALL)
    assert err.value.code == INVALID_ENV
    assert named in str(err.value)


def test_empty_cni_args_and_trailing_separators_are_fine() -> None:
    assert parse_cni_args("") == ()
    assert parse_cni_args("A=1;;B=;") == (("A", "1"), ("B", ""))
