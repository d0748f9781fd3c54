"""A room opened on one replica is found from another (issue 39): with Ray, rooms live on the cluster's named actor
(serving/shares.cluster_board, "room-board"), so two servers' training processes -- two replicas behind nginx, each
with its own TrainingClient pointed at the cluster -- read and change the same rooms. The lightest cluster that shows it:
one head node with one CPU (deploy/ray_nodes.py), two clients (two drivers)."""

import os

import pytest

from cvae_core.serving import TrainingClient
from cvae_core.serving.pipe import raise_refusal
from cvae_core.serving.rooms import PIXELS
from deploy.ray_nodes import RayNode

pytestmark = pytest.mark.slow
STARTS_CLUSTER = True  # a Ray cluster of its own: tests/conftest.py runs one such module at a time


@pytest.fixture(scope="module")
def replicas():
    head = RayNode.head(cpus=1)
    before = {key: os.environ.get(key) for key in head.env}
    os.environ.update(head.env)  # the training processes (drivers) inherit the cluster's token
    made = []
    try:
        made.append(TrainingClient(ray_address=head.address))
        made.append(TrainingClient(ray_address=head.address))
        yield made
    finally:
        for client in made:
            client.close()
        for key, value in before.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        head.stop()


def test_a_room_opened_on_one_replica_is_found_joined_and_drawn_for_from_another(replicas):
    first, second = replicas
    opened = raise_refusal(first.room("open", "presenter", True))
    # A phone that reached the second replica finds the room by its typed code, then joins by the link's token.
    assert second.room("find", opened["code"].lower(), "198.51.100.7") == {"token": opened["token"]}
    phone = second.room("join", opened["token"], None)
    assert phone["phones"] == 1 and second.room("public", opened["token"])["phones"] == 1
    # Its drawing waits for the presenter's review on the first replica, never in the projector's view.
    ink = bytes([0] * 300 + [255] * 184 + [0] * 300)
    assert len(ink) == PIXELS and "ask" in second.room("draw", opened["token"], phone["phone"], ink)
    view = first.room("view", opened["id"], opened["key"])
    assert view["phones"] == 1 and view["pending"] == 1 and view["recent"] == []
    [(drawing_id, from_phone, _label, pixels)] = first.room("pending", opened["id"], opened["key"])
    assert from_phone == phone["phone"] and pixels == ink
    # The presenter's key is the first replica's session's: the second holds only the phone's token, which opens nothing
    # of the presenter's.
    assert second.room("view", opened["id"], opened["token"]) is None
    first.room("review", opened["id"], opened["key"], drawing_id, True)
    assert second.room("phone", opened["token"], phone["phone"])["sent"] == 1
    # Closed on the first replica, the room is gone on the second.
    first.room("close", opened["id"], opened["key"])
    assert second.room("public", opened["token"]) is None and second.room("join", opened["token"], None) is None
