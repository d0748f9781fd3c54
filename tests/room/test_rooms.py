"""Rooms (issue 39): every bound refused with a sentence before anything is made, a phone without the link reaches
nothing, pending drawings reach nothing a phone or the projector reads, rooms see nothing of each other, a locked
setting cannot be changed by a phone. The board's clock is injected: no wall clock in these tests."""

import pytest

from cvae_core.serving import rooms
from cvae_core.serving.rooms import RoomBoard


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


def refused(answer) -> str:
    """The refusal's sentence (and that it is one)."""
    assert isinstance(answer, dict) and set(answer) == {"error", "template", "fields"}, answer
    assert answer["error"].endswith((".", "!")) and len(answer["error"].split()) >= 4, answer
    return answer["error"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def board(clock):
    return RoomBoard(clock=clock)


def opened(board):
    room = board.open("host-browser", True)
    assert "error" not in room
    return room


INK = bytes([255] * rooms.PIXELS)


def test_a_room_has_an_unguessable_link_a_typeable_code_and_a_presenter_key(board):
    room = opened(board)
    assert len(room["token"]) >= 16 and room["token"] != room["key"]  # 12 random bytes, URL-safe
    assert len(room["code"]) == rooms.CODE_LENGTH and set(room["code"]) <= set(rooms.CODE_ALPHABET)
    assert len(rooms.CODE_ALPHABET) ** rooms.CODE_LENGTH == 2**30
    assert not {"I", "L", "O", "U"} & set(rooms.CODE_ALPHABET)
    typed = room["code"].lower().replace("0", "o").replace("1", "l")
    assert board.find(f" {typed[:3]}-{typed[3:]} ", "10.0.0.1") == {"token": room["token"]}


def test_only_a_host_opens_rooms_and_at_most_max_rooms_are_open(board):
    assert "host" in refused(board.open("visitor", False))
    made = [opened(board) for _ in range(rooms.MAX_ROOMS)]
    assert str(rooms.MAX_ROOMS) in refused(board.open("host-browser", True))
    assert len(board._rooms) == rooms.MAX_ROOMS  # checked before the room was made
    board.close(made[0]["id"], made[0]["key"])
    opened(board)


def test_a_room_ends_after_four_hours_or_when_its_presenter_closes_it(board, clock):
    room = opened(board)
    phone = board.join(room["token"])["phone"]
    clock.tick(rooms.ROOM_SECONDS - 1)
    assert board.public(room["token"]) is not None
    clock.tick(1)
    assert board.public(room["token"]) is None and board.phone(room["token"], phone) is None
    assert board.view(room["id"], room["key"]) is None and "error" in board.find(room["code"], "a")
    assert not board._rooms and not board._by_token and not board._by_code  # nothing of it is kept
    other = opened(board)
    board.close(other["id"], "not-its-key")
    assert board.public(other["token"]) is not None  # only its presenter's key closes it
    board.close(other["id"], other["key"])
    assert board.public(other["token"]) is None


def test_a_phone_without_the_link_reaches_nothing(board):
    room = opened(board)
    phone = board.join(room["token"])["phone"]
    for wrong in ("", room["token"] + "x", room["token"][:-1], room["code"], room["key"], room["id"], None, 7):
        assert board.join(wrong) is None and board.public(wrong) is None
        assert board.phone(wrong, phone) is None and board.draw(wrong, phone, INK) is None and board.may_draw(wrong, phone) is None
    assert board.phone(room["token"], "made-up-phone") is None and board.draw(room["token"], "made-up-phone", INK) is None
    # the presenter's calls need the room's key, which no phone holds: the token does not open them
    for key in (room["token"], room["code"], "", None):
        assert board.view(room["id"], key) is None and board.pending(room["id"], key) is None
        assert board.accepted(room["id"], key) is None and board.settings(room["id"], key, {"locked": False}) is None


def test_phones_are_bounded_per_room_before_one_is_made(board):
    room = opened(board)
    for _ in range(rooms.MAX_PHONES):
        assert "phone" in board.join(room["token"])
    assert str(rooms.MAX_PHONES) in refused(board.join(room["token"]))
    assert len(board._rooms[room["id"]].phones) == rooms.MAX_PHONES
    assert board.view(room["id"], room["key"])["phones"] == rooms.MAX_PHONES  # the projector's count
    again = next(iter(board._rooms[room["id"]].phones))
    assert board.join(room["token"], again)["phone"] == again  # a phone that comes back is not a new one


def test_code_look_ups_are_rate_limited_per_address_and_per_room(board, clock):
    room = opened(board)
    for _ in range(rooms.MAX_FINDS_PER_ADDRESS):
        board.find("ZZZZZZ", "guesser")
    assert "minute" in refused(board.find(room["code"], "guesser"))  # even the right code, once the address is spent
    assert board.find(room["code"], "someone-else") == {"token": room["token"]}
    clock.tick(rooms.WINDOW_SECONDS)
    assert board.find(room["code"], "guesser") == {"token": room["token"]}
    for i in range(rooms.MAX_FINDS_PER_ROOM - 1):  # the window holds the guesser's find alone now
        assert "token" in board.find(room["code"], f"phone-{i}")
    assert "QR" in refused(board.find(room["code"], "yet-another"))
    assert "code" in refused(board.find("ZZZZZZ", "yet-another"))  # a wrong code: a sentence, and no room
    for i in range(rooms.MAX_ADDRESSES + 5):  # addresses remembered are bounded too
        board.find("ZZZZZZ", f"a{i}")
    assert len(board._finds) <= rooms.MAX_ADDRESSES


def test_drawings_are_bounded_per_phone_per_room_and_in_time(board, clock, monkeypatch):
    room = opened(board)
    phone = board.join(room["token"])["phone"]
    assert "ask" in board.draw(room["token"], phone, INK)
    assert "seconds" in refused(board.draw(room["token"], phone, INK))  # one every 2 s
    clock.tick(rooms.DRAWING_SECONDS)
    assert "28" in refused(board.draw(room["token"], phone, b"\x00" * 10))
    for _ in range(rooms.MAX_DRAWINGS_PER_PHONE - 1):
        assert "ask" in board.draw(room["token"], phone, INK)
        clock.tick(rooms.DRAWING_SECONDS)
    assert str(rooms.MAX_DRAWINGS_PER_PHONE) in refused(board.may_draw(room["token"], phone))
    assert str(rooms.MAX_DRAWINGS_PER_PHONE) in refused(board.draw(room["token"], phone, INK))
    monkeypatch.setattr(rooms, "MAX_DRAWINGS", rooms.MAX_DRAWINGS_PER_PHONE + 1)
    other = board.join(room["token"])["phone"]
    assert "ask" in board.draw(room["token"], other, INK)
    clock.tick(rooms.DRAWING_SECONDS)
    assert "room" in refused(board.draw(room["token"], other, INK))
    assert len(board._rooms[room["id"]].drawings) == rooms.MAX_DRAWINGS


def test_the_rotation_balances_the_classes(board, clock):
    room = opened(board)
    phones = [board.join(room["token"]) for _ in range(20)]
    assert sorted(p["ask"] for p in phones) == sorted(list(range(10)) * 2)
    for _ in range(3):
        for p in phones:
            board.draw(room["token"], p["phone"], INK)
        clock.tick(rooms.DRAWING_SECONDS)
    labels = [d.label for d in board._rooms[room["id"]].drawings.values()]
    assert max(labels.count(c) for c in range(10)) - min(labels.count(c) for c in range(10)) <= 1


def test_a_pending_drawing_is_shown_to_no_one_but_the_presenters_review(board, clock):
    room = opened(board)
    token, key = room["token"], room["key"]
    phone = board.join(token)["phone"]
    secret = bytes(range(256)) * 3 + bytes(16)
    board.draw(token, phone, secret)
    for answer in (board.public(token), board.phone(token, phone), board.join(token), board.view(room["id"], key)):
        assert secret not in repr(answer).encode() and repr(secret)[2:40] not in repr(answer)
    assert board.view(room["id"], key)["pending"] == 1 and board.view(room["id"], key)["recent"] == []
    assert board.accepted(room["id"], key)["pixels"] == b""  # not trained on, not downloaded
    [(drawing_id, who, label, pixels)] = board.pending(room["id"], key)
    assert who == phone and pixels == secret
    board.review(room["id"], key, drawing_id, accept=True)
    assert board.accepted(room["id"], key)["pixels"] == secret and board.view(room["id"], key)["recent"] == [(label, secret)]
    assert board.pending(room["id"], key) == []
    board.review(room["id"], key, drawing_id, accept=False)  # removed, even once accepted
    assert board.accepted(room["id"], key)["pixels"] == b""


def test_accept_as_they_come_is_off_by_default_and_a_blocked_phone_is_gone(board, clock):
    room = opened(board)
    token, key = room["token"], room["key"]
    assert board.view(room["id"], key)["auto_accept"] is False
    rude, kind = board.join(token)["phone"], board.join(token)["phone"]
    board.draw(token, rude, INK)
    board.draw(token, kind, bytes(rooms.PIXELS))
    board.block(room["id"], key, rude)
    assert "stopped" in refused(board.draw(token, rude, INK))
    assert [p[1] for p in board.pending(room["id"], key)] == [kind]
    board.settings(room["id"], key, {"auto_accept": True})
    assert board.accepted(room["id"], key)["labels"] and board.pending(room["id"], key) == []
    clock.tick(rooms.DRAWING_SECONDS)
    board.draw(token, kind, INK)
    assert len(board.accepted(room["id"], key)["labels"]) == 2
    board.settings(room["id"], key, {"collecting": False})
    clock.tick(rooms.DRAWING_SECONDS)
    assert "collecting" in refused(board.draw(token, kind, INK))


def test_two_rooms_see_nothing_of_each_other(board):
    one, two = opened(board), opened(board)
    phone = board.join(one["token"])["phone"]
    board.draw(one["token"], phone, INK)
    assert board.phone(two["token"], phone) is None and board.draw(two["token"], phone, INK) is None
    assert board.view(two["id"], two["key"])["phones"] == 0 and board.view(two["id"], two["key"])["pending"] == 0
    assert board.pending(two["id"], two["key"]) == [] and board.accepted(two["id"], two["key"])["pixels"] == b""
    assert board.view(one["id"], two["key"]) is None and board.pending(one["id"], two["key"]) is None  # another's key
    [(drawing_id, *_rest)] = board.pending(one["id"], one["key"])
    board.review(two["id"], two["key"], drawing_id, accept=True)  # a drawing id of the other room names nothing here
    assert board.accepted(one["id"], one["key"])["pixels"] == b""
    board.block(two["id"], two["key"], phone)
    assert "ask" in board.phone(one["token"], phone)


def test_a_locked_room_refuses_a_phones_choice_and_phones_have_no_setting_to_change(board):
    room = opened(board)
    joined = board.join(room["token"])
    assert board.view(room["id"], room["key"])["locked"] is True  # locked by default: the server deals the classes
    other = (joined["ask"] + 1) % 10
    assert "locked" in refused(board.choose(room["token"], joined["phone"], other))
    assert board.phone(room["token"], joined["phone"])["ask"] == joined["ask"]
    board.settings(room["id"], room["key"], {"locked": False})
    assert board.choose(room["token"], joined["phone"], other)["ask"] == other
    assert "class" in refused(board.choose(room["token"], joined["phone"], 99))
    # the settings are the presenter's alone: a phone's calls take no settings, and the token opens no presenter call
    assert board.settings(room["id"], room["token"], {"locked": True, "auto_accept": True}) is None
    assert board.view(room["id"], room["key"])["auto_accept"] is False


def test_the_host_lets_the_pipe_call_only_the_boards_public_methods():
    from cvae_core.serving.host import TrainingHost

    assert "_end" not in RoomBoard.PUBLIC and "_mine" not in RoomBoard.PUBLIC
    assert all(callable(getattr(RoomBoard, name)) for name in RoomBoard.PUBLIC)
    host = TrainingHost.__new__(TrainingHost)  # without a service: only the room call is exercised
    host._rooms_call = lambda method, *args: getattr(RoomBoard(), method)(*args)
    assert host.room("_end", None) is None and host.room("__init__") is None
    assert "token" in host.room("open", "owner", True)


def test_a_sweep_is_bounded_and_deals_each_phone_a_value(board):
    room = opened(board)
    runs = [f"shared-run-{i:04d}" for i in range(rooms.MAX_SWEEP_RUNS + 1)]
    assert str(rooms.MAX_SWEEP_RUNS) in refused(board.sweep(room["id"], room["key"], "beta", [1.0] * 17, runs))
    assert "β" in refused(board.sweep(room["id"], room["key"], "latent_dim", [2, 4], runs[:2]))  # a name it does not vary
    assert "whole numbers from 2 to 64" in refused(board.sweep(room["id"], room["key"], "latent", [2, 4.5], runs[:2]))
    assert "from 10 to 4500" in refused(board.sweep(room["id"], room["key"], "labels", [5], runs[:1]))
    assert rooms.check_sweep("labels", [100.0, 600]) == [100, 600] and rooms.check_sweep("latent", [2]) == [2]
    assert "between" in refused(board.sweep(room["id"], room["key"], "beta", [float("nan")], runs[:1]))
    with pytest.raises(rooms.RoomError):  # what the presenter's page checks before it starts any run
        rooms.check_sweep("beta", list(range(rooms.MAX_SWEEP_RUNS + 1)))
    phones = [board.join(room["token"])["phone"] for _ in range(5)]
    assert board.sweep(room["id"], room["key"], "beta", [0.5, 1.0, 4.0], runs[:3]) == {}
    dealt = [board.phone(room["token"], p)["mine"] for p in phones]
    assert [d["value"] for d in dealt] == [0.5, 1.0, 4.0, 0.5, 1.0] and dealt[2]["run"] == runs[2]
    assert [d["index"] for d in dealt] == [0, 1, 2, 0, 1]  # where its run is on the phones' sweep plot
    assert board.sweep_of(room["token"])["runs"] == runs[:3] and board.sweep_of(room["key"]) is None
    assert board.public(room["token"])["sweep"] == {"setting": "beta", "values": [0.5, 1.0, 4.0]}
    assert board.sweep(room["id"], room["token"], "beta", [8.0], runs[:1]) is None  # a phone's token changes nothing
    assert board.sweep(room["id"], room["key"], None) == {} and board.phone(room["token"], phones[0])["mine"] is None


def test_a_room_draws_the_classes_its_host_names_and_refuses_what_is_not_a_name_before_it_is_made(board):
    letters = board.open("host-browser", True, list(rooms.LETTERS))
    assert "error" not in letters
    phones = [board.join(letters["token"])["phone"] for _ in range(30)]
    asked = [board.phone(letters["token"], p)["class"] for p in phones]
    assert set(asked) == set(rooms.LETTERS) and board.phone(letters["token"], phones[0])["classes"] == rooms.LETTERS  # balanced
    for bad, phrase in (
        (["cat"], "2 to 26 classes"),
        ([f"c{i}" for i in range(27)], "2 to 26 classes"),
        (["cat", 7], "2 to 26 classes"),
        (["cat", ""], "printable characters"),
        (["cat", "x" * 25], "printable characters"),
        (["cat", "d\x00g"], "printable characters"),
        (["cat", " cat "], "a name of its own"),
        ("cat,dog", "2 to 26 classes"),
    ):
        assert phrase in refused(board.open("host-browser", True, bad)), bad
    assert len(board._rooms) == 1  # no refused room was made
    assert board.open("host-browser", True)["code"]  # the digits by default
