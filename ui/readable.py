"""Numbers as people read them: "1.38 M" weights, "9 min 56 s", "-96.1 ± 0.4"."""

import math

from cvae_core.precision import decimals_for  # the rule the core's findings round by too

from .i18n import _


def count(n: float | None) -> str:
    if n is None:
        return "—"
    for size, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.0f}"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return _("{seconds:.1f} s").format(seconds=seconds)
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=secs)
    hours, minutes = divmod(minutes, 60)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)


def estimate(value: float | None, error: float | None = None, decimals: int = 1, percent: bool = False) -> str:
    """A figure with its standard error, e.g. "-96.1 ± 0.4" or "97.5 ± 0.3 %"."""
    if value is None:
        return "—"
    scale, unit = (100, " %") if percent else (1, "")
    text = f"{value * scale:.{decimals}f}"
    if error is not None and math.isfinite(error):
        text += f" ± {error * scale:.{decimals}f}"
    return text + unit


def to_precision(value: float | None, error: float | None, percent: bool = False) -> str:
    """A figure with its standard error, both to the decimals the error supports (`decimals_for`), e.g. "-91.1 ± 0.6"."""
    scale = 100 if percent else 1
    return estimate(value, error, decimals=decimals_for(None if error is None else error * scale), percent=percent)


def markdown_table(rows: list[dict]) -> str:
    """Rows (dicts with the same keys, the column names) as a Markdown table, for a few rows that need no sorting:
    it draws without st.dataframe's first-use cost (importing pandas and Arrow: 0.7 s of the home page's wait).
    Every cell is text; a "|" in one is escaped so that it cannot start a column."""
    if not rows:
        return ""

    def cell(value) -> str:
        return "—" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    columns = list(rows[0])
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def references_table(references, percent: bool = False) -> str:
    """Published figures (cvae_core.references) as a Markdown table: each with its protocol, estimator, training data,
    how it was selected and what its ± means, so that a reader sees what makes it comparable to ours, or not."""
    rows = []
    for r in references:
        row = {_("published figure"): _(r.source) + ("" if r.verified else " " + _("(unverified)"))}
        if r.labels is not None:
            row[_("labelled digits")] = f"{r.labels:,}"
        decimals = 2 if percent and r.labels is not None else 1
        row[_("quantity")] = _(r.quantity)
        row[_("value")] = estimate(r.value, r.error, decimals=decimals, percent=percent) if percent else f"{r.value:.2f}"
        row[_("protocol")] = _(r.protocol)
        row[_("estimator")] = _(r.estimator)
        row[_("trained on")] = _(r.train_digits)
        if any(x.selection or x.spread for x in references):
            row[_("selected")] = _(r.selection) if r.selection else "—"
            row["±"] = _(r.spread) if r.spread else "—"
        rows.append(row)
    return markdown_table(rows)
