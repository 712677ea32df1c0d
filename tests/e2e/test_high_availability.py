"""High availability: two replicas, one Lease, the leader killed in the middle of a deletion.

Both replicas run ``serverops run --leader-election-lease``; only the one that holds the
Lease handles objects and reports ready. The test holds one of the leader's writes at a
barrier, SIGKILLs the leader there, and checks that the standby takes the Lease and
finishes the deletion, with nothing freed twice.
"""

from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

from serverops.apiserver import ThreadedAPIServer
from tests.e2e.harness import Kubectl, OperatorProcess, wait_for
from tests.e2e.objects import Objects, assert_freed, make_web, ports_by_origin

LEASE = "serverops-leader"
ELECTION = (f"--leader-election-lease={LEASE}", "--leader-election-duration=2")


@pytest.fixture
def objects(api: Any, namespace: str) -> Objects:
    return Objects(api=api, namespace=namespace)


def lease_holder(kubeconfig: Any) -> tuple[str, int]:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        lease = kubernetes.client.CoordinationV1Api(client).read_namespaced_lease(LEASE, "default")
    finally:
        client.close()
    return str(lease.spec.holder_identity), int(lease.spec.lease_transitions or 0)


def test_standby_takes_over_a_deletion(
    operator_factory: Callable[..., OperatorProcess],
    apiserver: ThreadedAPIServer,
    kubeconfig: Any,
    kubectl: Kubectl,
    objects: Objects,
    namespace: str,
) -> None:
    replicas = [operator_factory(*ELECTION) for _ in range(2)]
    for index, replica in enumerate(replicas):
        replica.identity = f"replica-{index}"
        replica.start(wait_ready=False)
    leader = wait_for(
        lambda: next((replica for replica in replicas if replica.is_ready()), None),
        message="a leader",
    )
    standby = next(replica for replica in replicas if replica is not leader)
    assert not standby.is_ready()
    holder, transitions = lease_holder(kubeconfig)
    assert holder == leader.identity

    server = make_web(objects)
    created, _ = ports_by_origin(server)
    barrier = apiserver.add_fault(
        action="hold",
        verb="delete",
        resource="ports",
        namespace=namespace,
        name=created[1]["name"],
    )
    kubectl.run("delete", "server", "web-1", "-n", namespace, "--wait=false")
    apiserver.wait_held(barrier)
    leader.kill()
    apiserver.drop(barrier)
    apiserver.remove_fault(barrier)

    wait_for(standby.is_ready, timeout=15, message="the standby to lead")
    objects.wait_gone("servers", "web-1")
    assert_freed(objects, server)
    for port in created:
        deleted = apiserver.stats.count(
            verb="delete", resource="ports", namespace=namespace, name=port["name"], code=200
        )
        assert deleted <= 1, f"port {port['name']} was deleted {deleted} times"
    holder, later = lease_holder(kubeconfig)
    assert holder == standby.identity
    assert later == transitions + 1
