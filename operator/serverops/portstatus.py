"""The status of the ports users make themselves: a MAC address, and DOWN until bound.

Ports the operator creates, and ports bound to a server, get their status from the
server's side (:mod:`serverops.ports`); this module leaves them alone, so each port's
status has one writer at a time.
"""

from typing import Any

import kopf

from serverops import conditions, constants, kubeapi, macs
from serverops.runtime import Runtime


async def reconcile(*, body: kopf.Body, runtime: Runtime, logger: kopf.Logger) -> None:
    """Assign the port a unique MAC address and mark it DOWN, or ERROR on a taken address."""
    if body.metadata.labels.get(constants.LABEL_ORIGIN) == constants.ORIGIN_CREATED:
        return
    status: dict[str, Any] = dict(body.status)
    if status.get("server"):
        return

    name = f"{body.metadata.namespace}/{body.metadata.name}"
    network = str(body.spec.get("network", ""))
    # The address asked for wins over the one assigned before, as the port is unbound.
    requested = body.spec.get("macAddress")
    mac = macs.normalize(requested) if requested else status.get("macAddress", "")
    if not mac:
        mac = macs.generate(
            in_use=lambda mac: bool(runtime.network.mac_in_use(network=network, mac=mac))
        )
    holder = runtime.network.mac_in_use(
        network=network, mac=mac, by_other_than=str(body.metadata.uid)
    )

    invalid = macs.problem_with(mac)
    message = ""
    if invalid:
        message = f"MAC address {mac} cannot be used: {invalid}; set another spec.macAddress."
    elif holder:
        message = (
            f"MAC address {mac} is already used by port {holder} on network {network}; "
            f"set another spec.macAddress or remove it to get one assigned."
        )
    wanted = _wanted_status(body=body, mac=mac, problem=message)
    if all(status.get(key) == value for key, value in wanted.items()):
        return

    # The test keeps this write from overwriting a binding that a server made meanwhile.
    new_status = {key: value for key, value in status.items() if key != "macAddress"}
    new_status.update(wanted)
    operations: kubeapi.JSONPatch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": body.metadata.get("resourceVersion"),
        },
        {"op": "add", "path": "/status", "value": new_status},
    ]
    try:
        await runtime.ports.patch(
            namespace=str(body.metadata.namespace),
            name=str(body.metadata.name),
            patch=operations,
            status=True,
        )
    except (kubeapi.Invalid, kubeapi.Conflict):
        raise kopf.TemporaryError(
            f"Port {name} changed while its status was written; retrying.",
            delay=runtime.config.retry_delay,
        ) from None

    if message:
        kopf.warn(body, reason=constants.REASON_MAC_IN_USE, message=message)
        logger.warning(f"Port {name} is in ERROR: {message}")
    else:
        logger.info(f"Port {name} is DOWN with MAC address {mac}.")


def _wanted_status(*, body: kopf.Body, mac: str, problem: str) -> dict[str, Any]:
    """Return the status fields of an unbound port: DOWN with its MAC, or ERROR."""
    listed = list(body.status.get("conditions", []))
    generation = body.metadata.get("generation")
    if problem:
        return {
            "status": constants.PORT_ERROR,
            "conditions": conditions.with_condition(
                listed,
                kind=constants.CONDITION_READY,
                status=False,
                reason=constants.REASON_MAC_IN_USE,
                message=problem,
                generation=generation,
            ),
        }
    return {
        "status": constants.PORT_DOWN,
        "macAddress": mac,
        "conditions": conditions.with_condition(
            listed,
            kind=constants.CONDITION_READY,
            status=True,
            reason=constants.REASON_UNBOUND,
            message="Not bound to any server; free to attach.",
            generation=generation,
        ),
    }
