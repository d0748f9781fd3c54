"""Every available model measured on the same test digits: the same quantity for every model, with its uncertainty."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from cvae_core.compare import QUANTITIES, best_per_column, bits_per_pixel, digits_for, findings, iw_curve, label_worth, measure, ranking
from cvae_core.references import LIKELIHOOD
from ui import heavy, palette
from ui.i18n import _
from ui.own_data import digits_for_model, own_reader

ui.setup_page(
    _("Compare"),
    _(
        "Every model on the same test digits: how probable each finds a real digit, **log p(x)** (higher is better), with "
        "its uncertainty. The chart shows the figures recorded when the models shipped; **Measure again** measures every "
        "model here, yours too, with every quantity."
    ),
)
models = ui.all_models()
if not models:
    st.info(_("No models yet: train one on the Train page."))
    st.stop()
data = ui.test_digits()


@st.cache_data(show_spinner=False, max_entries=64)
def shipped_measurement(uid: str, n: int, k: int, per_label: int, _ckpt, _data):
    """Figures of the shared pretrained models are cached for every visitor (the test digits are the same for all)."""
    return measure(_ckpt.model, digits_for(_ckpt.model, _data, n), k, ui.fidelity_classifiers(), per_label, _ckpt.metadata)


@st.cache_data(show_spinner=False, max_entries=16)
def shipped_bound_curve(uid: str, n: int, _ckpt, _data) -> dict:
    """A shipped model's curve, cached for every visitor (the same model and digits for all)."""
    return iw_curve(_ckpt.model, digits_for(_ckpt.model, _data, n))


def bound_curve(n: int, ckpt, data) -> dict:
    """L_k for k = 1 … 1,000 and 5,000 on the first n binarised test digits (a session's own models: never cached)."""
    if ckpt.uid in {c.uid for c in ui.shipped_models()[0].values()}:  # (shipped models are digit models: the test digits)
        return shipped_bound_curve(ckpt.uid, n, ckpt, data)
    return iw_curve(ckpt.model, digits_for(ckpt.model, data, n))


def bound_curve_figure(curve: dict, model: str) -> go.Figure:
    """The bound against k (log axis) with paired error bars, the k = 5,000 estimate and the ELBO as lines."""
    reference, elbo = curve["reference"], curve["elbo"]
    fig = go.Figure(
        go.Scatter(
            x=curve["k"], y=curve["mean"], mode="lines+markers", name=_("bound with k proposals"),
            error_y={"type": "data", "array": [2 * e for e in curve["gap_se"]]},
        )
    )  # fmt: skip
    fig.add_hline(
        y=reference["mean"], line_dash="dash", annotation_text=_("k = {k:,}").format(k=reference["k"]), line_color=palette.REFERENCE
    )
    fig.add_hline(
        y=elbo["mean"], line_dash="dot", annotation_text=_("ELBO"), line_color=palette.CURVES["val"], annotation_position="bottom right"
    )
    fig.update_xaxes(type="log", tickvals=curve["k"], title_text=_("proposals per digit k"))
    fig.update_yaxes(title_text=_("nats per digit"))
    fig.update_layout(
        height=360, margin={"t": 40, "b": 10}, title=_("{model}: the bound on {count} test digits").format(model=model, count=curve["n"])
    )
    return fig


def likelihood_chart(rows: dict) -> go.Figure:
    """log p(x) of each image model, a dot with ± 2 standard errors, the best at the top, each figure written beside it
    to the precision its error supports (ui.readable.to_precision). Dots, not bars: a log-likelihood has no zero to grow
    a bar from. Its title is the page's text above it (a phone's width wraps it; a chart's title would run off)."""
    chart = sorted(
        ((name, m.figures["log_px"], m.errors.get("log_px", 0.0)) for name, m in rows.items() if m.figures.get("log_px") is not None),
        key=lambda row: row[1],
    )
    values = [v for _name, v, _e in chart]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def side(v: float) -> str:  # a figure near an edge is written towards the middle, so that it is never cut off
        return "top left" if v > high - span / 4 else "top right" if v < low + span / 4 else "top center"

    fig = go.Figure(
        go.Scatter(
            x=values, y=[name for name, _v, _e in chart], mode="markers+text", marker={"size": 10}, cliponaxis=False,
            text=[ui.readable.to_precision(v, e) for _name, v, e in chart], textposition=[side(v) for v in values],
            error_x={"type": "data", "array": [2 * e for _name, _v, e in chart]}, hoverinfo="text+y",
        )
    )  # fmt: skip
    fig.update_layout(height=60 + 44 * len(chart), margin={"t": 30, "b": 10}, showlegend=False)
    return fig


def title(key: str) -> str:
    """A quantity's column title, in the visitor's language."""
    return _(QUANTITIES[key].title)


def table(kind: str, keys: list[str], source: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Readable figures of the models of one kind, and the best (or tied-best) models per column title."""
    members = {name: m for name, m in (rows if source is None else source).items() if m.kind == kind}
    shown = [key for key in keys if any(m.figures.get(key) is not None for m in members.values())]
    best = {title(key): names for key, names in best_per_column(members).items() if key in shown and key != "elbo"}
    out = {}
    for name, m in members.items():
        row = {}
        for key in shown:
            value, error = m.figures.get(key), m.errors.get(key)
            if key == "parameters":
                row[title(key)] = ui.readable.count(value)
            elif key == "training_seconds":
                row[title(key)] = ui.readable.duration(value)
            elif key in ("accuracy", "label_fidelity", "label_fidelity_second"):
                row[title(key)] = ui.readable.estimate(value, error, decimals=1, percent=True)
            else:  # label log-likelihoods are a few hundredths of a nat: three decimals, images' figures one
                decimals = 3 if key == "log_py_given_x" or (key == "elbo" and m.bound == "log p(y|x)") else 1
                row[title(key)] = ui.readable.estimate(value, error, decimals=decimals)
            if QUANTITIES[key].per_pixel:
                row[_("{quantity}, bits/pixel").format(quantity=title(key))] = "—" if value is None else f"{bits_per_pixel(value):.3f}"
        if "elbo" in shown:  # one ELBO column per bounded quantity: a column never mixes log p(x) and log p(x|y)
            row[_("ELBO on {bound}").format(bound=m.bound)] = row.pop(title("elbo"))
        out[name] = row
    frame = pd.DataFrame(out).T.fillna("—")
    frame.index.name = _("model")
    return frame, best


def show(frame: pd.DataFrame, best: dict) -> None:
    def mark(column: pd.Series):
        names = best.get(column.name, [])
        # the reference green, translucent so that the text keeps its contrast in either theme
        style = (
            f"font-weight: bold; background-color: {palette.tint('best')}"
            if len(names) == 1
            else f"background-color: {palette.tint('tied')}"
        )
        return [style if idx in names else "" for idx in column.index]

    st.dataframe(frame.style.apply(mark), width="stretch")


# ---- the figures recorded when the shipped models were made (their headers: no model is run to show them) ----
recorded_models = ui.shipped_recorded()
shipped_rows = {name: m for name, (_test, m) in recorded_models.items()}
if shipped_rows:
    tests = {name: test for name, (test, _m) in recorded_models.items()}
    st.subheader(_("The shipped models, as recorded"))
    title_text = _("log p(x), nats per digit (higher is better; whiskers: ± 2 standard errors)")
    st.markdown(f"**{title_text}**")
    st.plotly_chart(likelihood_chart(shipped_rows), width="stretch", key="compare_recorded")
    st.markdown(" ".join(ranking(shipped_rows, translate=_)))  # the sentence at a glance; what a label is worth below it
    worth = label_worth(shipped_rows, translate=_)
    if worth:
        st.caption(" ".join(worth))
    counts = sorted({test.get("n", 0) for test in tests.values()})
    where = (
        _("on all {count} official MNIST test digits").format(count=f"{counts[0]:,}")
        if counts == [10000]
        else _("on the first {count} of the 10,000 official MNIST test digits").format(count=" / ".join(f"{n:,}" for n in counts))
    )
    pairing = (
        _(
            "Each model's per-digit values were recorded with it, so two models' difference is measured digit by digit (paired), "
            "and its error is far smaller than either model's spread over the digits."
        )
        if all("log_px" in m.per_digit for m in shipped_rows.values()) and len(counts) == 1
        else _(
            "Not every model has its per-digit values recorded, so two models' difference takes its error from both standard "
            "errors (unpaired), wider than a paired one."
        )
    )
    st.caption(
        _(
            "Recorded in the shipped files, {where}, binarised once, with k = {k} proposals per digit. Figures are rounded "
            "to the precision their standard error supports: to its first significant digit, one digit more when that digit "
            "is 1 or 2. {pairing}"
        ).format(
            where=where, k=" / ".join(f"{k:,}" for k in sorted({test.get("iw_samples", 0) for test in tests.values()})), pairing=pairing
        )
    )

results = ui.state.compare_rows()
with st.expander(_("Measure again"), expanded=bool(results)):
    st.markdown(
        _(
            "All models on the same test digits. **log p(x)** says how probable a model finds a real digit; **log p(x|y)** says the same "
            "when the model is told the digit's label (it can be higher by at most log 10 = 2.3 nats). Both are importance-weighted "
            "estimates on binarised digits (each test digit's pixels drawn once as 0 or 1, the literature's protocol), in nats per digit and in bits per pixel. **Label fidelity** says how often a sample drawn for a label is read as "
            "that label by two independent classifiers. cvae3 predicts labels from images, a different quantity, so it has its own table. "
            "Every figure comes with its standard error (±); models within two standard errors of each other tie."
        )
    )
    c1, c2, c3 = st.columns(3)
    n = c1.select_slider(
        _("Test digits"), [200, 500, 1000, 2000, 5000, 10000], value=500,
        help=_("The first N of {dataset} test ({count} digits). More digits, smaller standard errors.").format(dataset=data.name, count=len(data)),
    )  # fmt: skip
    k = c2.select_slider(
        _("IW proposals per digit k"), [10, 50, 100, 500, 1000], value=100,
        help=_(
            "Importance samples behind each digit's log p(x), the same for every model (a conditional model shares them among its ten "
            "labels); more is tighter and slower. The figures on the Home page use k = 5,000, so these are a little lower."
        ),
    )  # fmt: skip
    per_label = c3.select_slider(
        _("Samples per label (fidelity)"), [50, 100, 200, 500], value=100, help=_("Samples drawn for each label and read back.")
    )
    if st.button(
        _("Measure all models"), type="primary", icon=":material/analytics:", help=_("Runs every model on the chosen test digits.")
    ):
        shipped = {ckpt.uid for ckpt in ui.shipped_models()[0].values()}
        bar = st.progress(0.0, text=_("Measuring…"))
        rows, own_rows = {}, {}
        for i, choice in enumerate(models.values()):  # each model a heavy job of the server's (ui.heavy): one at a time
            label, ckpt = choice.label, choice.checkpoint
            bar.progress(i / len(models), text=_("Measuring {model}…").format(model=label))
            target = digits_for_model(ckpt, data)
            if target is None:  # a model of other classes whose data set this session does not hold
                continue
            reader = own_reader() if target is not data else None
            with heavy.job():
                if target is not data:  # a model of the visitor's own data: on its held-out tenth, read by a classifier of it
                    own_rows[label] = measure(ckpt.model, digits_for(ckpt.model, target, n), k, reader, per_label, ckpt.metadata)
                elif ckpt.uid in shipped:
                    rows[label] = shipped_measurement(ckpt.uid, n, k, per_label, ckpt, data)
                else:
                    rows[label] = measure(
                        ckpt.model, digits_for(ckpt.model, data, n), k, ui.fidelity_classifiers(), per_label, ckpt.metadata
                    )
        bar.empty()
        ui.release_memory()
        results.clear()
        results.update({"rows": rows, "own_rows": own_rows, "settings": (n, k, per_label)})

    if not results:
        st.info(_("Press **Measure all models** to measure every model here, your own included, on the digits and k chosen above."))
    else:
        rows = results["rows"]
        n_used, k_used = results["settings"][:2]
        st.subheader(_("On {count} {dataset} test digits, k = {k}").format(count=n_used, dataset=data.name, k=k_used))
        image_keys = [
            "log_px",
            "log_px_given_y",
            "elbo",
            "label_fidelity",
            "label_fidelity_second",
            "accuracy",
            "parameters",
            "training_seconds",
        ]
        image_table, image_best = table("image", image_keys)
        if len(image_table):
            st.markdown(_("#### Image models: p(x), p(x|y)"))
            show(image_table, image_best)
            meanings = " · ".join(
                _("**{quantity}**: {meaning}").format(quantity=title(k), meaning=_(QUANTITIES[k].meaning)) for k in image_keys
            )
            st.caption(
                _("Bold green: best in its column by more than two standard errors; light green: tied for best. Size and training time are "
                  "descriptions, never 'best'.") + " " + meanings
            )  # fmt: skip
        prediction_keys = ["log_py_given_x", "accuracy", "ncll_hidden", "elbo", "parameters", "training_seconds"]
        prediction_table, prediction_best = table("prediction", prediction_keys)
        if len(prediction_table):
            st.markdown(_("#### Prediction models (cvae3): p(y|x)"))
            show(prediction_table, prediction_best)
            st.caption(_("cvae3 predicts the label (or the hidden quadrants) from the image: its figures are not image likelihoods."))

        own_rows = results.get("own_rows") or {}
        if own_rows:
            held = ui.state.own_data()
            st.markdown(_("#### Your own data: {name}").format(name=held[1] if held else ""))
            own_table, own_best = table("image", ["log_px", "log_px_given_y", "elbo", "label_fidelity", "accuracy", "parameters"], own_rows)
            show(own_table, own_best)
            st.caption(
                _(
                    "Measured on the held-out tenth of your data set, never trained on. Label fidelity here is read by a small CNN trained "
                    "on your set's training part, not by the digit classifiers."
                )
            )

        st.markdown(_("#### Published figures, for orientation"))
        st.markdown(ui.readable.references_table(LIKELIHOOD))
        st.caption(
            _(
                "A published likelihood is comparable to ours only on the same protocol and estimator (binarised digits, the "
                "importance-weighted bound with k = 5,000) and never quite on other data: ours learn from 4,500 digits, not 60,000."
            )
        )

        st.subheader(_("What the numbers say"))
        image_rows = {name: m for name, m in rows.items() if m.kind == "image"}
        notes = findings(image_rows, translate=_)
        notes.append(
            _(
                "The unconditional vae has no label: it has log p(x) but no log p(x|y). Conditional models are compared with it on log p(x), "
                "where each sums over the ten labels."
            )
        )
        st.markdown("\n".join(f"- {note}" for note in notes))

        if any(m.figures.get("log_px") is not None for m in image_rows.values()):
            title_text = _("log p(x), nats per digit (higher is better; whiskers: ± 2 standard errors)")
            st.markdown(f"**{title_text}**")
            st.plotly_chart(likelihood_chart(image_rows), width="stretch", key="compare_measured")

        full = pd.DataFrame({name: m.as_dict() for name, m in rows.items()}).T
        full.index.name = "model"
        st.download_button(
            _("Download CSV (full precision)"),
            full.to_csv().encode(),
            file_name="cvae_lab_comparison.csv",
            mime="text/csv",
            icon=":material/download:",
        )


with st.expander(_("How the importance-weighted bound tightens with k"), expanded=False):
    label, ckpt = ui.model_picker(_("Model"), where=st, keep=lambda m: m.makes_images, key="compare_curve_model")
    if ckpt is not None:
        curve_digits = st.select_slider(
            _("Test digits for the curve"), [10, 20, 50], value=20, help=_("More digits, smaller error bars, slower.")
        )
        curve_data = digits_for_model(ckpt, data)  # a model of your own data: its held-out tenth
        if curve_data is None:
            st.info(_("This model knows other classes than these test digits, and its data set is not in this session."))
        else:
            with heavy.job(), st.spinner(_("Drawing 5,000 proposals per digit…")):
                curve = bound_curve(curve_digits, ckpt, curve_data)
            st.plotly_chart(bound_curve_figure(curve, label), config={"displayModeBar": False}, width="stretch", key="compare_curve")
            st.caption(
                _(
                    "Each point is Burda et al.'s bound with k importance samples per digit, averaged over the digits; it can only rise "
                    "with k toward log p(x) (log p(x|y) for a conditional model), and at k = 1 it is the ELBO on average. Whiskers: ± 2 "
                    "standard errors of the gap to the k = 5,000 estimate, digit by digit. Here the ELBO is {gap:.1f} nats below it."
                ).format(gap=-curve["elbo"]["gap"])
            )

st.subheader(_("Samples side by side"))
st.caption(_("Labels 0–9 from each model that draws digits, temperature 1, the same random seed."))
for choice in models.values():
    if choice.checkpoint.model.makes_images:
        ui.show_digits(
            choice.checkpoint.model.label_grid(2, seed=0, one_row_per="style"), ncol=20, scale=2, caption=choice.label,
            alt=_("Samples of {model}: two styles of each label.").format(model=choice.label),
        )  # fmt: skip
