"""Rooms: a presenter's room that phones join, to draw the digits a CVAE learns live (issue 39).

A room lives where shared runs live (shares.py): on a board in the training process on one server, or in the cluster's
named actor with Ray, so that a phone reaching any replica finds it. Only a host opens one (ui/host.py's key). A room
has three secrets:
- `token`, ROOM_TOKEN_BYTES random bytes: the phones' link (it cannot be guessed);
- `code`, CODE_LENGTH characters of Crockford's base 32 (30 bits): what a phone types; since it can be guessed, its
  look-ups are rate-limited per address and per room;
- `key`, the presenter's: every presenter call names the room by id and key, which no phone route ever receives.

Every bound is checked before what it bounds is made or read, and each refusal is a sentence (pipe.refusal). A room
ends after ROOM_SECONDS or when its presenter closes it, and nothing of it is kept. Drawings are PENDING until the
presenter accepts them (or the room accepts as they come, off by default); nothing a phone or the projector reads
holds a pending drawing. The board's clock is injected (tests), its default time.monotonic in the board's process.
"""

import hmac
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from ..errors import CVAEError
from ..text import N_
from .pipe import refusal

ROOM_TOKEN_BYTES = 12  # 96 random bits: a room's link cannot be guessed
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O or U (read as 1, 1, 0 and V)
CODE_LENGTH = 6  # 30 bits: typed on a phone, so its look-ups are rate-limited
ROOM_SECONDS = 4 * 3600.0  # a room ends this long after it opened
MAX_ROOMS = 8  # open rooms on a board (a server, or a cluster)
MAX_PHONES = 500  # phones in a room
MAX_DRAWINGS_PER_PHONE = 30
MAX_DRAWINGS = 3000  # a room's, pending and accepted
DRAWING_SECONDS = 2.0  # a phone sends at most one drawing this often
WINDOW_SECONDS = 60.0  # the window of the code look-up limits
MAX_FINDS_PER_ADDRESS = 20  # code look-ups a minute from one address (a venue shares one: most phones scan the QR code)
MAX_FINDS_PER_ROOM = 120  # look-ups a minute that find one room
MAX_ADDRESSES = 10_000  # addresses whose look-ups are remembered
MAX_PENDING_SHOWN = 60  # pending drawings the presenter's review reads at once
MAX_RECENT = 40  # accepted drawings the projector shows, newest first
MAX_SWEEP_RUNS = 16  # runs of a room's sweep (phones share them: each is dealt one)
# What a room's sweep varies: (lowest, highest, whole numbers only, the sentence that refuses a value out of range).
# The latent size's range is the models' own (cvae_core.models.base.LATENT_RANGE); labelled digits from ten (one a
# class) to all 4,500 training digits.
SWEEPS = {
    "beta": (0.0, 64.0, False, N_("A sweep's β values lie between {low:g} and {high:g}.")),
    "latent": (2, 64, True, N_("A sweep's latent sizes are whole numbers from {low} to {high}.")),
    "labels": (10, 4500, True, N_("A sweep's numbers of labelled digits are whole numbers from {low} to {high}.")),
}
DIGITS = tuple(str(d) for d in range(10))
LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_CLASSES = 26  # what a room may draw: the ten digits, the letters, or the classes of the host's own data set
CLASS_NAME_LENGTH = 24
PIXELS = 28 * 28


class RoomError(CVAEError):
    """A room refuses a request; the sentence says why."""


@dataclass
class Phone:
    id: str
    asked: int  # the class it is asked to draw now
    sent: int = 0
    last: float = float("-inf")  # when its last drawing came
    blocked: bool = False


@dataclass
class Drawing:
    id: int
    phone: str
    label: int
    pixels: bytes  # 28 x 28 uint8, ink = 255
    accepted: bool = False


@dataclass
class Room:
    id: str
    token: str
    code: str
    key: str
    owner: str
    made: float
    classes: tuple[str, ...] = DIGITS
    phones: dict[str, Phone] = field(default_factory=dict)
    drawings: dict[int, Drawing] = field(default_factory=dict)
    next_drawing: int = 0
    auto_accept: bool = False  # "accept as they come"
    collecting: bool = True  # phones may send drawings
    locked: bool = True  # the server deals each phone its class; unlocked, a phone may choose one
    run: str | None = None  # the share token of the run the room follows
    sweep: dict | None = None  # {"setting", "values", "runs": a share token per value}: each phone is dealt one value
    version: int = 0  # what phones and the projector read changed
    finds: deque = field(default_factory=deque)  # when its code was found, the last WINDOW_SECONDS


def normalise_code(code: str) -> str:
    """A typed code as the board keeps it: upper case, without spaces or dashes, O read as 0 and I, L as 1."""
    text = "".join(str(code).split()).replace("-", "").upper()[: CODE_LENGTH * 2]
    return text.translate(str.maketrans("OIL", "011"))


def _refused(message: str, **fields) -> dict:
    return refusal(RoomError(message, **fields))


def check_sweep(setting: str, values) -> list[float]:
    """A sweep's values, checked before any run is made (floats for β, whole numbers for the others): raises RoomError
    with the sentence."""
    if setting not in SWEEPS:
        raise RoomError(
            N_("A room's sweep varies β, the latent size or M2's labelled digits; {setting} is not one of them."),
            setting=str(setting)[:32],
        )
    if not isinstance(values, list | tuple) or not 1 <= len(values) <= MAX_SWEEP_RUNS:
        raise RoomError(N_("A sweep has 1 to {limit} runs."), limit=MAX_SWEEP_RUNS)
    lo, hi, whole, out_of_range = SWEEPS[setting]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise RoomError(N_("A sweep's values are numbers.")) from None
    if not all(lo <= v <= hi and (not whole or v == int(v)) for v in out):  # also refuses NaN
        raise RoomError(out_of_range, low=lo, high=hi)
    return [int(v) for v in out] if whole else out


def check_classes(classes) -> tuple[str, ...]:
    """The names of what a room's phones draw, checked before the room is made: raises RoomError with the sentence."""
    if not isinstance(classes, list | tuple) or not 2 <= len(classes) <= MAX_CLASSES or not all(isinstance(c, str) for c in classes):
        raise RoomError(N_("A room draws 2 to {limit} classes, each named."), limit=MAX_CLASSES)
    names = tuple(c.strip() for c in classes)
    if not all(0 < len(n) <= CLASS_NAME_LENGTH and n.isprintable() for n in names):
        raise RoomError(N_("A class's name is 1 to {limit} printable characters."), limit=CLASS_NAME_LENGTH)
    if len(set(names)) != len(names):
        raise RoomError(N_("Each class of a room needs a name of its own."))
    return names


class RoomBoard:
    """The register of rooms (the training process's own on one server, one named actor on a cluster).

    Presenter's calls name a room by id and its key; phones' calls by its token (an unknown token: None, nothing else);
    each answer is plain data (a dict, bytes), or a refusal {"error", "template", "fields"}."""

    PUBLIC = (
        "open", "close", "settings", "view", "pending", "review", "block", "accepted", "sweep",  # the presenter's
        "find", "join", "phone", "may_draw", "draw", "choose", "public", "sweep_of",  # a phone's (sweep_of: its server's)
    )  # fmt: skip

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._rooms: dict[str, Room] = {}  # id -> room
        self._by_token: dict[str, str] = {}
        self._by_code: dict[str, str] = {}
        self._finds: dict[str, deque] = {}  # address -> when it looked a code up, the last WINDOW_SECONDS

    # ---- the board's upkeep -----------------------------------------------------------------------
    def _expire(self) -> float:
        now = self._clock()
        for room in [r for r in self._rooms.values() if now - r.made >= ROOM_SECONDS]:
            self._end(room)
        return now

    def _end(self, room: Room) -> None:
        self._rooms.pop(room.id, None)
        self._by_token.pop(room.token, None)
        self._by_code.pop(room.code, None)

    def _mine(self, room_id: str, key: str) -> Room | None:
        """The room, if `key` is its presenter's."""
        self._expire()
        room = self._rooms.get(room_id)
        if room is None or not isinstance(key, str) or not hmac.compare_digest(room.key.encode(), key.encode()):
            return None
        return room

    def _room(self, token: str) -> Room | None:
        self._expire()
        room_id = self._by_token.get(token) if isinstance(token, str) else None
        return None if room_id is None else self._rooms.get(room_id)

    def _phone(self, token: str, phone_id: str) -> tuple[Room | None, Phone | None]:
        """The room a token names and its phone of that id (None for either unknown)."""
        room = self._room(token)
        return room, room.phones.get(phone_id) if room is not None and isinstance(phone_id, str) else None

    def _next_class(self, room: Room, asking: Phone | None = None) -> int:
        """The class the room has fewest of (drawings sent, and other phones asked for it now): the rotation that
        balances the classes."""
        counts = [0] * len(room.classes)
        for drawing in room.drawings.values():
            counts[drawing.label] += 1
        for phone in room.phones.values():
            if phone is not asking:
                counts[phone.asked] += 1
        return min(range(len(counts)), key=lambda label: (counts[label], (label - room.next_drawing) % len(counts)))

    # ---- the presenter's ----------------------------------------------------------------------------
    def open(self, owner: str, host: bool, classes=DIGITS) -> dict:
        """A new room whose phones draw `classes` (check_classes): {"id", "token", "code", "key", "expires_in"}, or a
        refusal (not the host, MAX_ROOMS open, classes that are not names)."""
        now = self._expire()
        if not host:
            return _refused(N_("Only the host opens rooms: enter the host key in the sidebar first."))
        if len(self._rooms) >= MAX_ROOMS:
            return _refused(N_("This server has {limit} rooms open, as many as it holds; close one first."), limit=MAX_ROOMS)
        try:
            classes = check_classes(classes)
        except RoomError as e:
            return refusal(e)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        while code in self._by_code:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        room = Room(uuid.uuid4().hex, secrets.token_urlsafe(ROOM_TOKEN_BYTES), code, secrets.token_urlsafe(16), owner, now, classes)
        self._rooms[room.id], self._by_token[room.token], self._by_code[room.code] = room, room.id, room.id
        return {"id": room.id, "token": room.token, "code": room.code, "key": room.key, "expires_in": ROOM_SECONDS}

    def close(self, room_id: str, key: str) -> None:
        room = self._mine(room_id, key)
        if room is not None:
            self._end(room)

    def settings(self, room_id: str, key: str, changes: dict) -> dict | None:
        """Change the room's settings (auto_accept, collecting, locked: booleans; run: a share token or None). The room's
        settings as they are now, or None for a room that is not (or no longer) this key's."""
        room = self._mine(room_id, key)
        if room is None:
            return None
        for name in ("auto_accept", "collecting", "locked"):
            if name in changes:
                setattr(room, name, bool(changes[name]))
        if "run" in changes:
            run = changes["run"]
            room.run = run if isinstance(run, str) and 8 <= len(run) <= 64 else None
        if room.auto_accept:  # accepting as they come accepts what waits too (a blocked phone's drawings are gone)
            for drawing in room.drawings.values():
                drawing.accepted = True
        room.version += 1
        return self._settings(room)

    @staticmethod
    def _settings(room: Room) -> dict:
        return {"auto_accept": room.auto_accept, "collecting": room.collecting, "locked": room.locked, "run": room.run}

    def view(self, room_id: str, key: str) -> dict | None:
        """What the projector shows: the room's link and code, how many phones joined, the accepted drawings per class
        and the newest MAX_RECENT of them (never a pending one), pending and blocked counts, its settings."""
        room = self._mine(room_id, key)
        if room is None:
            return None
        accepted = [d for d in room.drawings.values() if d.accepted]
        per_class = [0] * len(room.classes)
        for drawing in accepted:
            per_class[drawing.label] += 1
        recent = sorted(accepted, key=lambda d: -d.id)[:MAX_RECENT]
        return {
            "token": room.token, "code": room.code, "classes": room.classes, "phones": len(room.phones),
            "blocked": sum(p.blocked for p in room.phones.values()), "pending": len(room.drawings) - len(accepted),
            "accepted": per_class, "recent": [(d.label, d.pixels) for d in recent], "version": room.version, "sweep": room.sweep,
            "expires_in": max(0.0, ROOM_SECONDS - (self._clock() - room.made)), **self._settings(room),
        }  # fmt: skip

    def pending(self, room_id: str, key: str) -> list | None:
        """The presenter's review: the oldest MAX_PENDING_SHOWN pending drawings, each (id, phone, label, pixels)."""
        room = self._mine(room_id, key)
        if room is None:
            return None
        waiting = [d for d in room.drawings.values() if not d.accepted]
        return [(d.id, d.phone, d.label, d.pixels) for d in waiting[:MAX_PENDING_SHOWN]]

    def review(self, room_id: str, key: str, drawing_id: int, accept: bool) -> None:
        """Accept a drawing, or remove it (accepted or not)."""
        room = self._mine(room_id, key)
        drawing = room.drawings.get(drawing_id) if room is not None else None
        if drawing is None:
            return
        if accept:
            drawing.accepted = True
        else:
            room.drawings.pop(drawing_id)
        room.version += 1

    def block(self, room_id: str, key: str, phone_id: str) -> None:
        """Block a phone: its drawings go (pending or accepted) and it sends no more."""
        room = self._mine(room_id, key)
        phone = room.phones.get(phone_id) if room is not None else None
        if phone is None:
            return
        phone.blocked = True
        for drawing_id in [i for i, d in room.drawings.items() if d.phone == phone_id]:
            room.drawings.pop(drawing_id)
        room.version += 1

    def accepted(self, room_id: str, key: str) -> dict | None:
        """The accepted drawings, for training and the download: {"classes", "labels": [...], "pixels": bytes (N x 784)}."""
        room = self._mine(room_id, key)
        if room is None:
            return None
        chosen = [d for d in room.drawings.values() if d.accepted]
        return {"classes": room.classes, "labels": [d.label for d in chosen], "pixels": b"".join(d.pixels for d in chosen)}

    def sweep(self, room_id: str, key: str, setting: str | None, values=(), runs=()) -> dict | None:
        """Deal each phone a value of the room's sweep (setting None: the sweep ends): {} when set, a refusal (see
        check_sweep; a run's share token per value), or None for a room that is not this key's."""
        room = self._mine(room_id, key)
        if room is None:
            return None
        if setting is None:
            room.sweep = None
        else:
            try:
                checked = check_sweep(setting, values)
            except RoomError as e:
                return refusal(e)
            if len(runs) != len(checked) or not all(isinstance(r, str) and 8 <= len(r) <= 64 for r in runs):
                return _refused(N_("A sweep names one shared run per value."))
            room.sweep = {"setting": setting, "values": checked, "runs": list(runs)}
        room.version += 1
        return {}

    # ---- a phone's ----------------------------------------------------------------------------------
    def find(self, code: str, address: str) -> dict:
        """The token of the room a typed code names: {"token"}, or a refusal. Rate-limited: MAX_FINDS_PER_ADDRESS a minute
        from one address, MAX_FINDS_PER_ROOM a minute that find one room, checked before the code is looked up."""
        now = self._expire()
        address = str(address)[:64]
        tries = self._finds.get(address)
        if tries is None:
            if len(self._finds) >= MAX_ADDRESSES:  # forget the addresses that tried nothing lately, else the oldest
                for quiet in [a for a, t in self._finds.items() if not t or now - t[-1] >= WINDOW_SECONDS]:
                    self._finds.pop(quiet)
                while len(self._finds) >= MAX_ADDRESSES:
                    self._finds.pop(next(iter(self._finds)))
            tries = self._finds[address] = deque()
        while tries and now - tries[0] >= WINDOW_SECONDS:
            tries.popleft()
        if len(tries) >= MAX_FINDS_PER_ADDRESS:
            return _refused(
                N_("Too many codes were tried from your network this minute; wait a minute, or scan the room's QR code."),
            )
        tries.append(now)
        room_id = self._by_code.get(normalise_code(code))
        room = self._rooms.get(room_id) if room_id is not None else None
        if room is None:
            return _refused(N_("No open room has this code; check it on the projector."))
        while room.finds and now - room.finds[0] >= WINDOW_SECONDS:
            room.finds.popleft()
        if len(room.finds) >= MAX_FINDS_PER_ROOM:
            return _refused(N_("This room's code was typed too often this minute; scan its QR code, or try again in a minute."))
        room.finds.append(now)
        return {"token": room.token}

    def join(self, token: str, phone_id: str | None = None) -> dict | None:
        """A phone joins (or comes back with the id it was given): its state (see phone), a refusal when the room is
        full (MAX_PHONES, checked before a phone is made), or None for a token that names no open room."""
        room = self._room(token)
        if room is None:
            return None
        if isinstance(phone_id, str) and phone_id in room.phones:
            return self._phone_state(room, room.phones[phone_id])
        if len(room.phones) >= MAX_PHONES:
            return _refused(N_("This room is full: {limit} phones have joined it."), limit=MAX_PHONES)
        phone = Phone(secrets.token_urlsafe(9), asked=self._next_class(room))
        room.phones[phone.id] = phone
        room.version += 1
        return self._phone_state(room, phone)

    def _phone_state(self, room: Room, phone: Phone) -> dict:
        return {
            "phone": phone.id, "ask": phone.asked, "class": room.classes[phone.asked], "classes": room.classes,
            "sent": phone.sent, "left": max(0, MAX_DRAWINGS_PER_PHONE - phone.sent), "blocked": phone.blocked,
            **self._public(room), "mine": self._dealt(room, phone),
        }  # fmt: skip

    @staticmethod
    def _dealt(room: Room, phone: Phone) -> dict | None:
        """The sweep's value this phone is dealt (phones in the order they joined, round the values) and its run."""
        if room.sweep is None:
            return None
        i = list(room.phones).index(phone.id) % len(room.sweep["values"])
        return {"setting": room.sweep["setting"], "value": room.sweep["values"][i], "run": room.sweep["runs"][i], "index": i}

    @staticmethod
    def _public(room: Room) -> dict:
        """What every phone of a room may read: nothing of any phone's drawings."""
        sweep = None if room.sweep is None else {"setting": room.sweep["setting"], "values": room.sweep["values"]}
        return {"phones": len(room.phones), "collecting": room.collecting, "locked": room.locked, "run": room.run,
                "sweep": sweep, "classes": room.classes, "version": room.version}  # fmt: skip

    def public(self, token: str) -> dict | None:
        """What every phone of the room reads (its count, whether it collects, the run it follows), or None."""
        room = self._room(token)
        return None if room is None else self._public(room)

    def sweep_of(self, token: str) -> dict | None:
        """The room's sweep with each value's run token, for the phones' server to plot every run (phones.PhoneDesk.sweep:
        a phone is sent the points, not the other runs' tokens); None without a room or a sweep."""
        room = self._room(token)
        if room is None or room.sweep is None:
            return None
        return {"setting": room.sweep["setting"], "values": list(room.sweep["values"]), "runs": list(room.sweep["runs"])}

    def phone(self, token: str, phone_id: str) -> dict | None:
        """A phone's state: its id, the class it is asked for, its drawings sent and left, and the room's public state;
        None for an unknown token or phone."""
        room, phone = self._phone(token, phone_id)
        return None if phone is None else self._phone_state(room, phone)

    def may_draw(self, token: str, phone_id: str) -> dict | None:
        """{} when the phone may send a drawing now (checked before the server reads or decodes it), a refusal, or None
        for an unknown token or phone."""
        room, phone = self._phone(token, phone_id)
        if phone is None:
            return None
        if phone.blocked:
            return _refused(N_("The presenter has stopped taking drawings from this phone."))
        if not room.collecting:
            return _refused(N_("The room is not collecting drawings now."))
        if self._clock() - phone.last < DRAWING_SECONDS:
            return _refused(N_("One drawing every {seconds:g} seconds, please; send it again in a moment."), seconds=DRAWING_SECONDS)
        if phone.sent >= MAX_DRAWINGS_PER_PHONE:
            return _refused(N_("This phone has sent {limit} drawings, as many as one may. Thank you!"), limit=MAX_DRAWINGS_PER_PHONE)
        if len(room.drawings) >= MAX_DRAWINGS:
            return _refused(N_("The room has {limit} drawings, as many as it takes."), limit=MAX_DRAWINGS)
        return {}

    def draw(self, token: str, phone_id: str, pixels: bytes) -> dict | None:
        """A phone's drawing (28 x 28 uint8 bytes, ink = 255) of the class it was asked for: pending, unless the room
        accepts as they come. The phone's next state (asked for the next class), a refusal, or None (unknown)."""
        allowed = self.may_draw(token, phone_id)
        if allowed:  # a refusal, or None
            return allowed
        if allowed is None:
            return None
        if not isinstance(pixels, bytes) or len(pixels) != PIXELS:
            return _refused(N_("A drawing is 28 × 28 pixels."))
        room = self._room(token)
        phone = room.phones[phone_id]
        room.drawings[room.next_drawing] = Drawing(room.next_drawing, phone.id, phone.asked, pixels, accepted=room.auto_accept)
        room.next_drawing += 1
        phone.sent, phone.last = phone.sent + 1, self._clock()
        phone.asked = self._next_class(room, asking=phone)
        room.version += 1
        return self._phone_state(room, phone)

    def choose(self, token: str, phone_id: str, label: int) -> dict | None:
        """A phone asks to draw a class of its choosing: refused while the room is locked (the server deals the classes);
        the phone's state, or None (unknown)."""
        room, phone = self._phone(token, phone_id)
        if phone is None:
            return None
        if room.locked:
            return _refused(N_("The presenter has locked this room: draw the class you are asked for."))
        if not isinstance(label, int) or not 0 <= label < len(room.classes):
            return _refused(N_("There is no class {label} in this room."), label=str(label)[:8])
        phone.asked = label
        return self._phone_state(room, phone)
