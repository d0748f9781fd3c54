"""Two experiments from the papers, live: Sohn's quadrant completion and Kingma's semi-supervised M2."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import ui
from cvae_core.checkpoint import Checkpoint
from cvae_core.data import OFFLINE, load_dataset
from cvae_core.experiments import PYRO_QUADRANTS, SEMI_SUPERVISED_REFERENCES, quadrants, semisupervised

ui.setup_page(
    "Experiments",
    "The experiments the variants were invented for, on the 5,000 offline digits. Each pits a CVAE against the plain "
    "network it is meant to beat, trained on the same digits. `RESULTS.md` has the full-length runs on the official test split.",
)
state = st.session_state
train = load_dataset(OFFLINE, "all")
test = ui.test_digits()
quad_tab, semi_tab = st.tabs(["Complete a hidden digit (Sohn et al. 2015)", "Learn from 100 labels (Kingma et al. 2014)"])

with quad_tab:
    st.markdown(
        "Only part of a digit is shown; the rest must be guessed. A deterministic network (**NN**) makes one guess, the average "
        "of every plausible completion, so it comes out blurry. The **CVAE** (cvae3, with prior network p(z|x)) draws z and gives "
        "*different* plausible completions. The score is the negative conditional log-likelihood of the hidden pixels (lower is better), "
        "for the CVAE estimated by Monte Carlo from p(z|x) (**MC**) and by importance sampling with q(z|x,y) (**IS**)."
    )
    c1, c2, c3 = st.columns(3)
    given = c1.radio("Quadrants shown", [1, 2, 3], horizontal=True, help="1: bottom-left; 2: left half; 3: all but bottom-right.")
    epochs = c2.select_slider(
        "Epochs", [2, 5, 10, 20, 30, 100], value=5,
        help="Both networks train this long; 5 epochs take about half a minute. RESULTS.md used 100 (ten minutes or more on a laptop).",
    )  # fmt: skip
    n_test = c3.select_slider("Test digits", [500, 1000, 2000, 10000], value=1000)
    if st.button("Train both and compare", type="primary", key="run_quadrants"):
        bar = st.progress(0.0, text="Training the NN baseline, then the CVAE…")
        result = quadrants(
            given, train, test.subset(n_test), epochs=epochs, samples=50, progress=lambda f: bar.progress(min(f, 1.0), text=f"Training… {f:.0%}")
        )
        bar.empty()
        state.setdefault("quadrant_results", {})[given] = result
    results = state.get("quadrant_results", {})
    if results:
        rows = [
            {
                "quadrants shown": g,
                "NN": r.nn_ncll,
                "CVAE-MC": r.cvae_ncll_mc,
                "CVAE-IS": r.cvae_ncll_is,
                "CVAE-IS / NN": r.cvae_ncll_is / r.nn_ncll,
                "Pyro NN": PYRO_QUADRANTS["nn"][g - 1],
                "Pyro CVAE": PYRO_QUADRANTS["cvae"][g - 1],
            }
            for g, r in sorted(results.items())
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        st.caption("Negative conditional log-likelihood, nats per digit, lower is better. Pyro's CVAE figure is a 10-sample negative ELBO.")
    if given in results:
        r = results[given]
        drawn = ui.state.last_digit()
        source = st.radio(
            "Digit to complete", ["a test digit", "my drawing"], horizontal=True, disabled=drawn is None,
            help="Your drawing is the last digit you drew or uploaded on the Draw page.",
        )  # fmt: skip
        if source == "my drawing" and drawn is not None:
            index, x = 0, drawn
        else:
            index = st.slider("Test digit", 0, min(len(test), 1000) - 1, 0, help="Pick a digit to complete.")
            x = test.images[index]
        if drawn is None:
            st.caption("Draw a digit on the **Draw** page to complete your own handwriting here.")
        images = r.showcase(x, n_samples=6, seed=index)
        ui.show_digits(
            images, ncol=9, scale=3, caption="shown · truth · NN guess · six CVAE completions", download="completions.png", key="dl-quad"
        )
    else:
        st.info("Press **Train both and compare** to run the experiment for this number of quadrants.")

with semi_tab:
    st.markdown(
        "M2 learns from a handful of labelled digits *and* all the unlabelled ones: for an unlabelled digit it sums over the ten "
        "possible labels, weighted by its own guess q(y|x). The baseline is the same classifier network trained on the labelled "
        "digits alone."
    )
    c1, c2 = st.columns(2)
    n_labels = c1.select_slider("Labelled digits", [100, 600, 1000, 3000], value=100)
    epochs_m2 = c2.select_slider(
        "Epochs",
        [2, 5, 10, 20, 50, 150],
        value=5,
        key="m2_epochs",
        help="M2 decodes every unlabelled digit ten times: 5 epochs take about a minute. RESULTS.md used 150 (about 20 minutes).",
    )
    if st.button("Train M2 and the baseline", type="primary", key="run_m2"):
        bar = st.progress(0.0, text="Training…")
        result = semisupervised(
            n_labels, train, test, epochs=epochs_m2, progress=lambda f: bar.progress(min(f, 1.0), text=f"Training… {f:.0%}")
        )
        bar.empty()
        state.setdefault("m2_results", {})[n_labels] = result
        ui.add_session_model(f"m2-{n_labels}labels", Checkpoint(result["model"], {"variant": "m2", "labels": n_labels}), prefer=False)
    results = state.get("m2_results", {})
    if results:
        ns = sorted(results)
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=ns, y=[results[n]["m2_accuracy"] for n in ns], mode="lines+markers", name="M2"))
        fig.add_trace(
            go.Scatter(x=ns, y=[results[n]["baseline_accuracy"] for n in ns], mode="lines+markers", name="classifier on the labels only")
        )
        for name, acc in SEMI_SUPERVISED_REFERENCES.items():
            fig.add_hline(y=acc, line_dash="dot", annotation_text=name, annotation_position="bottom right", line_color="grey")
        fig.update_layout(xaxis_title="labelled digits", yaxis_title="test accuracy", xaxis_type="log", height=380, margin={"t": 10})
        left, right = st.columns(2)
        left.plotly_chart(fig, width="stretch")
        shown = n_labels if n_labels in results else ns[-1]
        heat = px.imshow(
            results[shown]["confusion"],
            text_auto=True,
            labels={"x": "predicted", "y": "true", "color": "digits"},
            x=list(range(10)),
            y=list(range(10)),
            color_continuous_scale="Blues",
        )
        heat.update_layout(height=380, margin={"t": 30}, title=f"M2 with {shown} labels")
        right.plotly_chart(heat, width="stretch")
        st.dataframe([{k: results[n][k] for k in ("labels", "m2_accuracy", "baseline_accuracy", "n")} for n in ns], hide_index=True)
        st.markdown(f"**Digits drawn by M2 trained with {shown} labels** (one row per label):")
        ui.show_digits(results[shown]["model"].label_grid(10, seed=0), ncol=10, scale=2)
        st.caption(f"This M2 is now on every page as **m2-{shown}labels (this session)**.")
    else:
        st.info("Press **Train M2 and the baseline**.")
