"""The operator interface that the chart and the Kustomize base rely on.

Every SERVEROPS_* variable they set must be read by an option of `serverops run`. The
uninstall hook needs `serverops check-uninstall`. The values schema must accept exactly
the reclaim intervals that the operator accepts.

Some of these options are still being added to the operator. Until one is there, its
case skips and names the missing variable or command.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click
import pytest

from serverops import cli, intervals
from tests.packaging.conftest import CHART, find

# Every SERVEROPS_* variable that any render of the chart sets. The Kustomize base sets
# the same ones (test_base_deployment_matches_chart).
DEPLOYMENT_VARIABLES = [
    "SERVEROPS_ADMIN_GROUPS",
    "SERVEROPS_APPROVAL_KEY_FILE",
    "SERVEROPS_LEADER_ELECTION_LEASE",
    "SERVEROPS_LEADER_ELECTION_NAMESPACE",
    "SERVEROPS_LIVENESS",
    "SERVEROPS_LOG_FORMAT",
    "SERVEROPS_METRICS_PORT",
    "SERVEROPS_RECLAIM_INTERVAL",
    "SERVEROPS_STANDALONE",
    "SERVEROPS_WEBHOOK_ADDRESS",
    "SERVEROPS_WEBHOOK_CERT_FILE",
    "SERVEROPS_WEBHOOK_KEY_FILE",
    "SERVEROPS_WEBHOOK_PORT",
]


def run_variables() -> set[str]:
    variables: set[str] = set()
    for param in cli.run.params:
        envvar = param.envvar
        if isinstance(envvar, str):
            variables.add(envvar)
        elif envvar:
            variables.update(envvar)
    return variables


def test_variable_list_is_complete(rendered: dict[str, list[dict[str, Any]]]) -> None:
    names: set[str] = set()
    for objects in rendered.values():
        pod = find(objects, "Deployment")["spec"]["template"]["spec"]
        names.update(var["name"] for var in pod["containers"][0]["env"])
    assert sorted(name for name in names if name.startswith("SERVEROPS_")) == (DEPLOYMENT_VARIABLES)


@pytest.mark.parametrize("variable", DEPLOYMENT_VARIABLES)
def test_run_reads_variable(variable: str) -> None:
    if variable not in run_variables():
        pytest.skip(f"serverops run has no option that reads {variable} yet")


def test_check_uninstall_command_exists() -> None:
    if "check-uninstall" not in cli.main.commands:
        pytest.skip("serverops has no check-uninstall command yet")
    command = cli.main.commands["check-uninstall"]
    assert isinstance(command, click.Command)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "3600",
        "90s",
        "15m",
        "1h30m",
        "2d",
        "1d2h3m4s",
        "",
        "1h 30m",
        "30m1h",
        "one hour",
        "-1",
        "1.5h",
        "1w",
    ],
)
def test_schema_interval_matches_operator(text: str) -> None:
    """The chart's values.schema.json accepts a reclaim interval if and only if the
    operator does."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    field = schema["properties"]["operator"]["properties"]["reclaimInterval"]
    accepted_by_schema = len(text) >= field["minLength"] and bool(re.search(field["pattern"], text))
    try:
        intervals.parse(text, source="the test")
        accepted_by_operator = True
    except intervals.InvalidInterval:
        accepted_by_operator = False
    assert accepted_by_schema == accepted_by_operator
