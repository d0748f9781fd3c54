"""The host's room: phones join by a link, a QR code or a short code, draw the digits asked of them, and the room trains
a CVAE on the drawings the presenter accepts. The projector's view never shows a pending drawing; the review does."""

import streamlit as st

import ui
from cvae_core.errors import CVAEError
from ui import host, room, sharing
from ui.i18n import _, error_text

ui.setup_page(
    _("Your room"),
    _(
        "Phones join your room with its link, its QR code or its short code, without an account or an app. Each phone is "
        "asked for one digit at a time, in turns that keep the ten digits balanced, and draws it on a small canvas. "
        "Drawings wait for you: accept or remove each one in the review, then train a model on the room's handwriting."
    ),
)
if not host.is_host():
    st.info(_("Only the host opens a room: enter the host key in the sidebar (For the host)."))
    st.stop()

if ui.state.room() is not None and room.view() is None:
    st.info(_("Your room has ended (after four hours, or closed)."))
if ui.state.room() is None:
    kinds = {"digits": _("the ten digits"), "letters": _("letters A to Z")}
    if ui.state.own_data() is not None:
        kinds["own"] = _("the classes of your data set ({name})").format(name=ui.state.own_data()[1])
    what = st.radio(
        _("What the room draws"), list(kinds), format_func=kinds.get, key="room_classes", horizontal=True,
        help=_("Digits can be trained with the offline digits beside the room's (readable sooner); letters and your own "
               "classes are trained on the room's drawings alone."),
    )  # fmt: skip
    if st.button(_("Open a room"), icon=":material/groups:", key="room_open", type="primary"):
        try:
            room.open_room(room.room_classes(what or "digits"))
            st.rerun()
        except CVAEError as e:
            st.error(error_text(e))
    st.stop()

held = ui.state.room()
link = room.phone_link(held["token"])
choice = st.segmented_control(
    _("View"), ["projector", "review"], default="projector", key=ui.state.ROOM_VIEW, required=True,
    format_func=lambda v: _("For the projector") if v == "projector" else _("Review (not for the projector)"),
)  # fmt: skip


@st.fragment(run_every=2.0)
def sweep_now() -> None:
    """Every sweep run's trail in the plane of rate against distortion, and the table beside it."""
    points = room.sweep_points()
    if not points:
        return
    plot_column, table_column = st.columns([2, 1])
    plot_column.plotly_chart(room.sweep_figure(points), key="room_sweep_plot")
    table_column.dataframe(room.sweep_table(points), hide_index=True)


join = _("**Join on a phone:** scan the code, or open `/room` and type **{code}**").format(code=held["code"])
# While the room sweeps, the projector's first screen is the sweep's plot (the phones have joined; the code stays in a line)
sweep_first = choice != "review" and bool(room.sweep_points())
if sweep_first:  # no QR code on this screen: the line says only what it shows
    st.markdown(_("**Join on a phone:** open `/room` and type **{code}**").format(code=held["code"]))
    sweep_now()
elif choice == "review":  # the presenter's own screen: the drawings waiting come first, the code stays in one line
    st.markdown(join)
else:  # the QR code beside the short code, large enough to be typed from the back of the room
    qr_column, join_column = st.columns([1, 2], vertical_alignment="center")
    qr_column.image(sharing.qr_png(link), width=360 if ui.presenter() else 240, caption=_("The room's link as a QR code"),
                    alt=_("A QR code of the room's link."))  # fmt: skip
    with join_column:
        st.markdown(join)
        st.html(room.code_html(held["code"], large=ui.presenter()))
        st.code(link, language=None)


@st.fragment(run_every=2.0)
def room_now() -> None:
    """What the room holds now: phones, drawings, and (review only) the pending drawings."""
    now = room.view()
    if now is None:
        st.info(_("Your room has ended (after four hours, or closed)."))
        return
    phones_metric, accepted_metric, pending_metric = st.columns(3)
    phones_metric.metric(_("Phones joined"), now["phones"])
    accepted_metric.metric(_("Drawings accepted"), sum(now["accepted"]))
    pending_metric.metric(_("Waiting for review"), now["pending"])
    if now["recent"]:
        st.caption(_("The room's handwriting, newest first (accepted drawings only)."))
        shown = room.recent_shown(now, ui.presenter())
        labels = ", ".join(str(now["classes"][label]) for label, _pixels in shown)
        ui.show_digits(
            room.recent_digits({"recent": shown}), ncol=10, scale=2,
            alt=_("The room's newest accepted drawings, newest first, labelled {labels}.").format(labels=labels),
        )  # fmt: skip
    if choice != "review":
        return
    waiting = room.pending()
    if not waiting:
        st.caption(_("No drawing waits for review."))
        return
    if st.button(_("Accept all shown"), key="room_accept_all"):
        for drawing_id, *_rest in waiting:
            room.review(drawing_id, accept=True)
        st.rerun(scope="fragment")
    for row in range(0, len(waiting), 6):
        for column, (drawing_id, phone, label, pixels) in zip(st.columns(6), waiting[row : row + 6], strict=False):
            column.image(
                room.thumbnail(pixels), caption=now["classes"][label], width=84,
                alt=_("A phone's drawing waiting for review, labelled {label}.").format(label=now["classes"][label]),
            )  # fmt: skip
            accept, remove, block = column.columns(3)
            if accept.button("✓", key=f"room_accept_{drawing_id}", help=_("Accept")):
                room.review(drawing_id, accept=True)
                st.rerun(scope="fragment")
            if remove.button("✗", key=f"room_remove_{drawing_id}", help=_("Remove")):
                room.review(drawing_id, accept=False)
                st.rerun(scope="fragment")
            if block.button("⊘", key=f"room_block_{drawing_id}", help=_("Block this phone: its drawings go, and it sends no more")):
                room.block(phone)
                st.rerun(scope="fragment")


room_now()

now = room.view() or {}
st.subheader(_("Settings"))
left, middle, right = st.columns(3)
auto = left.toggle(_("Accept drawings as they come"), value=bool(now.get("auto_accept")), key="room_auto",
                   help=_("Off: every drawing waits for your review before anyone sees it."))  # fmt: skip
collecting = middle.toggle(_("Collect drawings"), value=bool(now.get("collecting", True)), key="room_collecting")
locked = right.toggle(_("Lock the room"), value=bool(now.get("locked", True)), key="room_locked",
                      help=_("Locked: each phone draws the digit it is dealt; the server refuses any other."))  # fmt: skip
if (auto, collecting, locked) != (now.get("auto_accept"), now.get("collecting"), now.get("locked")):
    room.settings(auto_accept=auto, collecting=collecting, locked=locked)
    st.rerun()

run = ui.training.current_run()
if run is not None and st.button(_("Show my current run to the room"), icon=":material/cast:", key="room_show_run"):
    try:
        room.show_run(run)
    except sharing.TooManyShares:
        st.error(_("This server shares as many runs as it can; try again later."))

st.subheader(_("The room's sweep"))
setting = st.segmented_control(
    _("What the runs differ in"), list(room.SWEEP_NAMES), format_func=lambda s: _(room.SWEEP_NAMES[s]), default="beta",
    key="room_sweep_setting", help=_("β weighs the KL term; the latent size is z's dimensions; m2 learns from this many labelled digits."),
) or "beta"  # fmt: skip
values = st.multiselect(
    _("{setting} of each run (at most 16; each phone that takes part is dealt one)").format(setting=_(room.SWEEP_NAMES[setting])),
    room.SWEEP_CHOICES[setting], default=list(room.SWEEP_FIRST[setting]), key=f"room_sweep_values_{setting}",
)  # fmt: skip
if st.button(_("Start the sweep"), icon=":material/scatter_plot:", key="room_sweep_start"):
    try:
        room.start_sweep(setting, sorted(values))
        st.rerun()
    except CVAEError as e:
        st.error(error_text(e))


if not sweep_first:  # else drawn at the top
    sweep_now()

train_column, download_column, close_column = st.columns(3)


@st.fragment(run_every=2.0)
def train_now() -> None:
    """The Train press, greyed out with the reason beside it until the accepted drawings make a data set: the reason is
    read again every 2 s, as the review accepts drawings, not after a press at the foot of the page."""
    not_yet = room.train_blocker(room.view())
    offline = st.checkbox(
        _("With the offline digits"), value=room.ROOM_OFFLINE, key="room_train_offline",
        help=_("Train on the room's drawings and the offline digits of the same classes (450 a class): readable digits sooner, in the room's hand."),
    )  # fmt: skip
    if st.button(
        _("Train on the room's drawings"), icon=":material/model_training:", key="room_train", type="primary", disabled=not_yet is not None,
    ):  # fmt: skip
        try:
            room.train_on_room(offline=offline)
            st.switch_page(ui.page("train").file)  # the run's grid and curves, on one projector screen; the phones follow it
        except CVAEError as e:
            st.error(error_text(e))
    if not_yet is not None:
        st.caption(not_yet)


with train_column:
    train_now()
download_column.download_button(
    _("Download the accepted drawings (.zip)"), room.accepted_zip, file_name="room-drawings.zip", mime="application/zip",
    key="room_download", help=_("One folder per digit, one PNG per drawing: the layout the Train page's own data reads."),
)  # fmt: skip
if close_column.button(_("Close the room"), icon=":material/close:", key="room_close"):
    room.close_room()
    st.rerun()
