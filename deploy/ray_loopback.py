"""`ray start` for a node of a cluster kept on this machine's loopback: python -m deploy.ray_loopback start ARGS...

Ray 2.60 replaces a node address of 127.0.0.1 by the machine's network address (and its servers then listen on every
interface), except on a single-node cluster. This runs Ray's own `ray start` with that one replacement switched off, so
every node of a cluster on one machine keeps --node-ip-address=127.0.0.1 and its GCS, raylet and workers listen on
loopback only. tests/safety/test_deploy.py checks the result from /proc/net/tcp, so a Ray release that changes this is caught.
Drivers (the replicas' training processes) connect with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which keeps their
127.0.0.1 as given (deploy/ray_nodes.locked)."""

import sys

import ray._private.services as services
from ray.scripts.scripts import main


def _kept(host: str) -> str:
    return host


if __name__ == "__main__":
    services.resolve_ip_for_localhost = _kept
    sys.exit(main())
