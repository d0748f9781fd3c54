"""A page's settings as one table: each setting is declared once, as a `Spec`, and the table gives the widgets, the
page's address (ui.links: a link sets them, the address always holds them) and the values a page opens on. The range or
the choices a widget offers are the ones a link may set: a link cannot ask for a value the widget would not show."""

from collections.abc import Callable
from dataclasses import dataclass

from . import links, state
from .i18n import _


@dataclass(frozen=True)
class Spec:
    key: str  # the widget's key: its value lives in the session under it
    link: str  # its name in the page's address
    label: str  # marked N_, translated where drawn
    help: str  # marked N_
    widget: str  # "selectbox", "select_slider", "radio", "number_input" (whole numbers) or "slider"
    options: tuple = ()  # the choices, for a selectbox, select_slider or radio
    low: float = 0  # number_input and slider: the range, and the slider's step
    high: float = 0
    step: float = 1
    show: Callable[[object], str] | None = None  # how a choice reads in the widget (translated there)
    write: Callable[[object], str] = str  # how a value reads in the address
    field: str = ""  # where the value goes in a run's Recipe: "model.<setting>" or "train.<setting>" ("": the page's own)
    follows_variant: bool = False  # takes the variant's default (its field's) whenever the variant changes

    def parse(self, text: str):
        """A value from the address's text; ValueError for one the widget would not offer."""
        if self.options:
            return links.one_of(text, self.options)
        if self.widget == "number_input":
            return links.whole(text, int(self.low), int(self.high))
        return round(round(links.number(text, self.low, self.high) / self.step) * self.step, 6)  # on the slider's steps

    def in_address(self) -> links.Setting:
        return links.widget(self.link, self.key, self.parse, self.write)

    def draw(self, where, disabled: bool = False):
        """The widget, in `where` (a column, the sidebar); its value."""
        common = {"key": self.key, "help": _(self.help), "disabled": disabled}
        label = _(self.label)
        shown = {"format_func": self.show} if self.show is not None else {}
        if self.widget == "selectbox":
            return where.selectbox(label, list(self.options), placeholder=_("Choose an option"), **shown, **common)
        if self.widget == "select_slider":
            return where.select_slider(label, list(self.options), **shown, **common)
        if self.widget == "radio":
            return where.radio(label, list(self.options), horizontal=True, **shown, **common)
        if self.widget == "number_input":
            return where.number_input(label, int(self.low), int(self.high), **common)
        return where.slider(label, float(self.low), float(self.high), step=float(self.step), **common)


def address_settings(specs: list[Spec]) -> list[links.Setting]:
    return [spec.in_address() for spec in specs]


def variant_defaults(specs: list[Spec], model: dict, train: dict) -> dict:
    """Widget key -> the variant's default, for the settings that follow the variant; model and train are the variant's
    model and training defaults (cvae_core.training.defaults), read through each setting's field."""
    sources = {"model": model, "train": train}
    out = {}
    for spec in specs:
        if spec.follows_variant:
            part, name = spec.field.split(".")
            value = sources[part][name]
            out[spec.key] = int(value) if spec.widget == "number_input" else value
    return out


def recipe_parts(specs: list[Spec], values: dict) -> tuple[dict, dict]:
    """(model settings, training settings) for Recipe.from_settings, from the values drawn (widget key -> value) of the
    settings that have a field."""
    parts: dict[str, dict] = {"model": {}, "train": {}}
    for spec in specs:
        if spec.field and spec.key in values:
            part, name = spec.field.split(".")
            parts[part][name] = values[spec.key]
    return parts["model"], parts["train"]


def open_on(specs: list[Spec], defaults: dict, from_link: set[str], reset: bool) -> None:
    """Give each setting its default (defaults: widget key -> value) unless it has a value; reset: give them again (the
    variant changed), except those a link has just set."""
    keys = {spec.key for spec in specs}
    if reset:
        state.set_widgets({k: v for k, v in defaults.items() if k in keys and k not in from_link})
    for key, value in defaults.items():
        if key in keys:
            state.seed_widget(key, value)  # Streamlit forgets a widget's value while its page is not shown
