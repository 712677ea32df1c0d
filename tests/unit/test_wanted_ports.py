"""How spec.networks resolves into created and attached ports, and their names."""

import pytest

from serverops import constants
from serverops.building import InvalidNetworkItem, wanted_ports
from serverops.compute import ServerRef
from serverops.ports import created_port_name

SERVER = ServerRef(namespace="default", name="web-1", uid="3f2a9c1b-0000-4000-8000-000000000001")


def test_created_and_attached_in_spec_order() -> None:
    networks = [{"network": "lan"}, {"port": "shared"}, {"network": "storage"}]

    wanted = wanted_ports(SERVER, networks)

    assert [item.origin for item in wanted] == [
        constants.ORIGIN_CREATED,
        constants.ORIGIN_ATTACHED,
        constants.ORIGIN_CREATED,
    ]
    assert wanted[0].name == "web-1-lan-3f2a9c1b"
    assert wanted[0].network == "lan"
    assert wanted[1].name == "shared"
    assert wanted[2].name == "web-1-storage-3f2a9c1b"


def test_same_network_twice_gets_distinct_names() -> None:
    wanted = wanted_ports(SERVER, [{"network": "lan"}, {"network": "lan"}])

    assert [item.name for item in wanted] == ["web-1-lan-3f2a9c1b", "web-1-lan-2-3f2a9c1b"]


@pytest.mark.parametrize(
    "item",
    [{"network": "lan", "port": "shared"}, {}, {"network": ""}, {"port": None}],
)
def test_item_with_both_or_neither_is_invalid(item: dict[str, str]) -> None:
    with pytest.raises(InvalidNetworkItem) as caught:
        wanted_ports(SERVER, [{"network": "lan"}, item])

    assert "spec.networks[1]" in str(caught.value)
    assert "exactly one of network" in str(caught.value)


def test_names_depend_on_server_uid() -> None:
    other = ServerRef(namespace="default", name="web-1", uid="77777777-0000-4000-8000-0000000000")

    first = created_port_name(SERVER, network="lan", occurrence=1)
    second = created_port_name(other, network="lan", occurrence=1)

    assert first != second


def test_long_server_name_is_cut_to_a_valid_length() -> None:
    server = ServerRef(namespace="default", name="a" * 250, uid=SERVER.uid)

    name = created_port_name(server, network="n" * 63, occurrence=12)

    assert len(name) <= 253
    assert name.endswith("-" + "n" * 63 + "-12-3f2a9c1b")
    assert name[0] == "a"
