"""Every available model measured on the same test digits: a table, charts, samples, and what the numbers say."""

import pandas as pd
import plotly.express as px
import streamlit as st

import ui
from cvae_core.compare import COLUMNS, best_per_column, measure

ui.setup_page(
    "Compare",
    "All models on the same test digits. **ELBO** and the **importance-weighted log-likelihood** say how probable the model "
    "finds real digits (higher is better; the IW bound is tighter). **Label fidelity** says how often a sample drawn for a label "
    "is read as that label by an independent classifier. **Accuracy** is classification of the test digits.",
)
models = ui.all_models()
if not models:
    st.info("No models yet: train one on the Train page.")
    st.stop()
data = ui.test_digits()
c1, c2, c3 = st.columns(3)
n = c1.select_slider(
    "Test digits", [200, 500, 1000, 2000, 5000, 10000], value=500, help=f"The first N of {data.name} {data.split} ({len(data)} digits)."
)
k = c2.select_slider(
    "IW samples k", [1, 5, 10, 50, 100], value=10, help="Samples in the importance-weighted bound; more is tighter and slower."
)
per_label = c3.select_slider("Samples per label (fidelity)", [50, 100, 200, 500], value=100)


@st.cache_data(show_spinner=False, max_entries=64)
def shipped_row(name: str, n: int, k: int, per_label: int, _data) -> dict:
    """Rows of shared pretrained models are cached for every visitor (the test digits are the same for all)."""
    ckpt = ui.shipped_models()[0][name]
    return measure(ckpt.model, _data.subset(n), k, ui.fidelity_classifier(), per_label, ckpt.metadata)


results = st.session_state.setdefault("compare_rows", {})
if st.button("Measure all models", type="primary", icon=":material/analytics:", help="Runs every model on the chosen test digits."):
    shipped = ui.shipped_models()[0]
    bar = st.progress(0.0, text="Measuring…")
    rows = {}
    for i, (label, ckpt) in enumerate(models.items()):
        bar.progress(i / len(models), text=f"Measuring {label}…")
        stem = label.removesuffix(" (pretrained)")
        if label.endswith("(pretrained)") and stem in shipped:
            rows[label] = shipped_row(stem, n, k, per_label, data)
        else:
            rows[label] = measure(ckpt.model, data.subset(n), k, ui.fidelity_classifier(), per_label, ckpt.metadata)
    bar.empty()
    ui.release_memory()
    results.clear()
    results.update({"rows": rows, "settings": (n, k, per_label)})

if not results:
    st.info("Press **Measure all models**. The figures recorded on the full 10,000-digit test split are on the Home page.")
    st.stop()
rows = results["rows"]
n_used, k_used, _ = results["settings"]
best = {COLUMNS[key][0]: name for key, name in best_per_column(rows).items()}
table = pd.DataFrame(rows).T.rename(columns={key: title for key, (title, _, _) in COLUMNS.items()})
table.index.name = "model"
st.subheader(f"On {n_used} {data.name} {data.split} digits, k = {k_used}")


def highlight(column: pd.Series):
    return ["font-weight: bold; background-color: #d4f4dd" if best.get(column.name) == idx else "" for idx in column.index]


st.dataframe(table.style.apply(highlight).format(precision=3, na_rep="—"), width="stretch")
st.caption("Green: the best model in each column. " + " · ".join(f"**{title}**: {why}" for title, _, why in COLUMNS.values()))
st.download_button(
    "Download CSV", table.to_csv().encode(), file_name="cvae_lab_comparison.csv", mime="text/csv", icon=":material/download:"
)

charts = st.columns(3)
for col, column in zip(charts, ["ELBO", "label fidelity", "accuracy"], strict=True):
    values = table[column].dropna()
    if len(values):
        fig = px.bar(values, orientation="h", labels={"value": column, "model": ""}, height=80 + 40 * len(values))
        fig.update_layout(showlegend=False, margin={"t": 30, "b": 10}, title=column)
        col.plotly_chart(fig, width="stretch")

st.subheader("What the numbers say")
notes = []
if "ELBO" in best:
    notes.append(f"**{best['ELBO']}** finds real digits most probable (best ELBO).")
if "label fidelity" in best:
    notes.append(
        f"**{best['label fidelity']}** draws the label you ask for most reliably. Variants with a learned prior p(z|y) (cvae1, cvae4) give "
        "each label its own region of z, so random samples rarely fall between labels; with the shared N(0, I) prior (cvae2, m2) a "
        "random z can land where no training digit of that label was."
    )
if "accuracy" in best:
    notes.append(
        f"**{best['accuracy']}** classifies best. cvae3 and m2 have a classifier of their own; cvae1, cvae2 and cvae4 classify by "
        "Bayes' rule, asking which label makes the digit most probable, which is slower and usually less accurate."
    )
notes.append(
    "The unconditional vae models p(x), not p(x|y): its ELBO is not directly comparable with the conditional ones, which are told the label."
)
st.markdown("\n".join(f"- {note}" for note in notes))

st.subheader("Samples side by side")
st.caption("Labels 0–9 from each model that draws digits, temperature 1, the same random seed.")
for label, ckpt in models.items():
    if ckpt.model.makes_images:
        ui.show_digits(ckpt.model.label_grid(2, seed=0, one_row_per="style"), ncol=20, scale=2, caption=label)
