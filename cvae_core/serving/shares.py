"""Shared runs: a register that lets anyone with a run's link follow it, read only, from any replica.

The owner's training process publishes each new version of a shared run to a board (`ShareBoard`): its own on one server,
the cluster's named actor with Ray (`cluster_board`), so that a link works whichever replica opens it. A link is a token
of SHARE_TOKEN_BYTES random bytes (it cannot be guessed); the board's bounds are checked before a share is made.
"""

import time

SHARE_TOKEN_BYTES = 12  # 96 random bits: a shared run's link cannot be guessed


MAX_SHARES = 64  # visitors' shared runs the cluster keeps at once (each holds its latest weights): a bound strangers cannot pass
MAX_SHARES_PER_OWNER = 2  # one browser cannot fill the board and keep the presenter from sharing
MAX_HOST_SHARES = 24  # the host's, beyond MAX_SHARES: never refused (their oldest ends beyond this); a room's sweep shares 16
IDLE_SHARE_SECONDS = 600.0  # a full board ends the share nobody has followed for longest, if none for this long


class ShareBoard:
    """The register of shared runs (the training process's own on one server, one named actor on a cluster): the owner's
    training process publishes each new version of a shared run here, and any replica's followers read it. It holds the
    latest snapshot (without weights), the history and the weights as checkpoint bytes, and when a follower was last seen.

    Bounds, checked before a share is made: MAX_SHARES_PER_OWNER per owner (a browser's key), MAX_SHARES in all for
    visitors, when full the one followed least recently goes if it has been idle IDLE_SHARE_SECONDS; the host's shares
    (a session that entered the host's key) sit beside these, at most MAX_HOST_SHARES, and are never refused."""

    def __init__(self):
        self._runs: dict[str, dict] = {}

    def share(self, token: str, info: dict, owner: str = "", host: bool = False) -> str | None:
        """Make the share; None when made, else why not: "owner" (this owner shares as many runs as one may) or "full"."""
        now = time.time()
        mine = [t for t, entry in self._runs.items() if entry["host"] == host and (host or entry["owner"] == owner)]
        if host:
            for t in sorted(mine, key=lambda t: self._runs[t]["made"])[: max(0, len(mine) - MAX_HOST_SHARES + 1)]:
                self._runs.pop(t)  # the host's oldest share makes room for their newest
        else:
            if len(mine) >= MAX_SHARES_PER_OWNER:
                return "owner"
            visitors = [t for t, entry in self._runs.items() if not entry["host"]]
            if len(visitors) >= MAX_SHARES:
                idle = min(visitors, key=lambda t: max(self._runs[t]["seen"], self._runs[t]["made"]))
                if now - max(self._runs[idle]["seen"], self._runs[idle]["made"]) < IDLE_SHARE_SECONDS:
                    return "full"
                self._runs.pop(idle)
        self._runs[token] = {"info": info, "snapshot": None, "history": [], "weights": None, "seen": 0.0, "made": now,
                             "owner": owner, "host": host}  # fmt: skip
        return None

    def unshare(self, token: str) -> None:
        self._runs.pop(token, None)

    def publish(self, token: str, snapshot, history_from: int, rows: list, weights: bytes | None) -> float | None:
        """A new snapshot of a shared run; returns when a follower was last seen (None: the share has ended)."""
        entry = self._runs.get(token)
        if entry is None:
            return None
        entry["snapshot"], entry["history"] = snapshot, entry["history"][:history_from] + rows
        if weights is not None:
            entry["weights"] = weights
        return entry["seen"]

    def seen(self, token: str) -> float | None:
        """When a follower last read the shared run (None: the share has ended)."""
        entry = self._runs.get(token)
        return None if entry is None else entry["seen"]

    def read(self, token: str, have_history: int, weights: bool = False) -> dict | None:
        """What a follower's server does not hold yet: the snapshot, the history rows after its first have_history, and
        (weights=True) the weights. None for a token the board does not know."""
        entry = self._runs.get(token)
        if entry is None or entry["snapshot"] is None:
            return None
        entry["seen"] = time.time()  # followers count as presence: their reads keep the run training
        out = {"info": entry["info"], "snapshot": entry["snapshot"], "new_history": entry["history"][have_history:]}
        return {**out, "weights": entry["weights"]} if weights else out


def cluster_board(pool, board=ShareBoard, name: str = "share-board"):
    """The cluster's ShareBoard (or another board: rooms.RoomBoard), a named actor (created by the first training process
    that asks), and how to call it."""
    actor = pool.named_actor(board, name)
    return actor, lambda method, *args: pool.call(actor, method, *args)
