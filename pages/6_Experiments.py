"""The experiments the variants were invented for: Sohn's quadrant completion and Kingma's semi-supervised
M1+M2. The page opens on the full-length results and models that ship in checkpoints/experiments/; a
visitor can also retrain either experiment live, in short."""

import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from cvae_core.errors import CheckpointError
from cvae_core.experiments.completion_diversity import SEED as COMPLETION_SEED
from cvae_core.experiments.live import LIVE_EXPERIMENTS
from cvae_core.experiments.quadrants import quadrant_baseline_of, showcase
from cvae_core.experiments.shipped import load_shipped, shipped_results
from cvae_core.references import PYRO_QUADRANTS, PYRO_QUADRANTS_LABEL, PYRO_SEMI_SUPERVISED, SEMI_SUPERVISED, SOHN_QUADRANTS_NOTE
from cvae_core.storage.checkpoint import Checkpoint
from cvae_core.training.service import RunState
from ui import experiment_view, palette
from ui.experiment_view import (
    kingma_differences,
    kingma_rows,
    quadrant_bound_rows,
    quadrant_grid_rows,
    quadrant_mc_gap_rows,
    quadrant_rows,
    semisupervised_rows,
)
from ui.i18n import N_, _

ui.setup_page(
    _("Experiments"),
    _(
        "The experiments the variants were invented for, each pitting a CVAE against the plain network it is meant to beat, "
        "trained on the same 4,500 digits, chosen on 500 validation digits and scored on the official test digits. The page opens on the full-length "
        "runs and their models; **Retrain live** repeats a short version in front of you."
    ),
)


@st.cache_resource(show_spinner=_("Loading the experiment's model…"))
def shipped_model(model_id: str) -> Checkpoint | None:
    """A model of checkpoints/experiments/, by its id: one copy per server, never changed. None when it is missing."""
    try:
        return load_shipped(model_id)
    except CheckpointError:
        return None


def translated_keys(rows: list[dict]) -> list[dict]:
    """Table rows with their column names (marked English, from cvae_core) in the visitor's language."""
    return [{_(k): (_(v) if isinstance(v, str) else v) for k, v in row.items()} for row in rows]


@st.cache_data
def results() -> dict:
    return shipped_results()


def digit_source(key: str, test, limit: int = 1000, default: int = 0):
    """The digit to work on: a test digit (the slider opens on `default`), or the visitor's last drawing from the Draw
    page. Returns (the test digit's index, 0 for a drawing; image)."""
    drawn = ui.state.last_digit()
    source = st.radio(
        _("Digit"), [N_("a test digit"), N_("my drawing")], format_func=_, horizontal=True, disabled=drawn is None, key=f"{key}-source",
        help=_("Your drawing is the last digit you drew or uploaded on the Draw page."),
    )  # fmt: skip
    if source == "my drawing" and drawn is not None:
        return 0, drawn
    index = st.slider(
        _("Test digit"), 0, min(len(test), limit) - 1, default, key=f"{key}-index", help=_("Which of the official test digits.")
    )
    if drawn is None:
        st.caption(_("Draw a digit on the **Draw** page to use your own handwriting here."))
    return index, test.images[index]


def probability_chart(probabilities, title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(range(10)), y=probabilities, marker_color=palette.ACCENT))
    fig.update_layout(title=title, height=260, margin={"t": 40, "b": 10}, yaxis={"range": [0, 1], "title": _("probability")})
    fig.update_xaxes(tickmode="linear", dtick=1, title=_("digit"))
    return fig


def quadrant_chart(bars: list[dict]) -> go.Figure:
    """The NN's and the CVAE's NCLL of the hidden pixels, a pair of bars per number of quadrants shown, ± 2 standard errors."""
    fig = go.Figure()
    for name, key, colour in (("NN", "nn", palette.NEUTRAL), ("CVAE", "cvae", palette.ACCENT)):
        fig.add_trace(go.Bar(x=[_("{count} shown").format(count=b["given"]) for b in bars], y=[b[key] for b in bars], name=name,
                             marker_color=colour, error_y={"type": "data", "array": [2 * b[f"{key}_se"] for b in bars]}))  # fmt: skip
    fig.update_layout(barmode="group", height=320, margin={"t": 40, "b": 10}, yaxis_title=_("nats per digit (lower is better)"),
                      title=_("Guessing the hidden part of a test digit: whiskers ± 2 standard errors"))  # fmt: skip
    return fig


def diversity_chart(bins: list[dict], samples: int) -> go.Figure:
    """The CVAE's spread (± 2 standard errors) in each decile of the NN's NLL of the hidden pixels, and the NN's, 0."""
    nll = [b["nll"] for b in bins]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=nll, y=[b["nn"] for b in bins], mode="lines", name=_("NN: one guess, 0 by construction"),
                             line={"color": palette.NEUTRAL, "dash": "dash"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=nll, y=[b["spread"] for b in bins], mode="lines+markers", name="CVAE", marker_color=palette.ACCENT,
                             error_y={"type": "data", "array": [2 * b["se"] for b in bins], "visible": True},
                             customdata=[[b["from"], b["to"], b["n"]] for b in bins],
                             hovertemplate=_("NN NLL {low} to {high} nats, {count} digits: spread {spread}").format(
                                 low="%{customdata[0]:.0f}", high="%{customdata[1]:.0f}", count="%{customdata[2]}", spread="%{y:.3f}")
                             + "<extra></extra>"))  # fmt: skip
    fig.update_layout(height=300, margin={"t": 40, "b": 10}, yaxis={"title": _("spread per hidden pixel"), "rangemode": "tozero"},
                      xaxis={"title": _("the NN's NLL of the hidden pixels, nats (a point per tenth of the test digits)")},
                      title=_("How far apart the CVAE's {count} completions of a digit are").format(count=samples))  # fmt: skip
    return fig


def kingma_chart(bars: list[dict]) -> go.Figure:
    """Test accuracy of each model of the Kingma-recipe file, one bar each, ± a standard deviation over label draws."""
    fig = go.Figure(go.Bar(y=[_(b["model"]) for b in bars], x=[b["accuracy"] for b in bars], orientation="h", marker_color=palette.ACCENT,
                           error_x={"type": "data", "array": [b["std"] for b in bars]}))  # fmt: skip
    fig.update_layout(height=80 + 44 * len(bars), margin={"t": 40, "b": 10}, yaxis={"autorange": "reversed"},
                      xaxis={"title": _("test accuracy"), "tickformat": ".0%", "range": [0, 1]},
                      title=_("Learning from {count} labels: whiskers ± a standard deviation over label draws").format(count=bars[0]["labels"]))  # fmt: skip
    return fig


# The live semi-supervised table's columns (marked English, translated where shown); "…" until a network has its figure.
LIVE_COLUMNS = {"model": N_("model"), "labels": N_("labels"), "m2_accuracy": N_("m2_accuracy"), "baseline_accuracy": N_("baseline_accuracy"),
                "n": N_("n")}  # fmt: skip
shipped = results()
test = ui.test_digits()
quad_tab, semi_tab = st.tabs([_("Complete a hidden digit (Sohn et al. 2015)"), _("Learn from 100 labels (Kingma et al. 2014)")])

with quad_tab:
    experiment_view.show_finding(experiment_view.quadrant_finding(shipped))
    bars = experiment_view.quadrant_bars(shipped)
    if bars:
        st.plotly_chart(quadrant_chart(bars), width="stretch", key="quadrant-finding")
    st.markdown(
        _(
            "Only part of a digit is shown; the rest must be guessed. A deterministic network (**NN**) makes one guess, the average "
            "of every plausible completion, so it comes out blurry. The **CVAE** (cvae3, with a prior network p(z|x)) draws z and gives "
            "*different* plausible completions. In Sohn's **NN-filled** CVAE the prior network sees the NN's guess in the hidden "
            "pixels, so it starts from the NN's answer. The score is the negative conditional log-likelihood of the hidden pixels "
            "(binarised digits), nats per digit, lower is better. A CVAE's is estimated by sampling z: **IS** draws z from q(z|x,y) and "
            "reweights each draw by p(z|x) / q(z|x,y), **MC** draws it from the prior network p(z|x), as the completions below are "
            "drawn. Both are stochastic upper bounds on the same quantity; the lower is the tighter, and their gap shrinks as draws "
            "are added. Ratios to the NN are for orientation, not goals."
        )
    )
    with st.expander(_("The tables behind it, the setting chosen and the estimators' gap")):
        bounds = quadrant_bound_rows(shipped)
        if bounds:
            st.markdown(_("#### Each model's tightest estimate: the importance-sampled bound, both keeping their best validation epoch"))
            st.dataframe(translated_keys(bounds), hide_index=True, width="stretch")
            gaps = quadrant_mc_gap_rows(shipped)
            fig = go.Figure()
            for given in sorted({g["given"] for g in gaps}):
                mine = [g for g in gaps if g["given"] == given]
                fig.add_trace(go.Scatter(x=[g["k"] for g in mine], y=[g["gap"] for g in mine], mode="lines+markers",
                                         error_y={"type": "data", "array": [g["gap_se"] for g in mine], "visible": True},
                                         name=_("{count} quadrant(s) shown").format(count=given)))  # fmt: skip
            fig.update_layout(height=300, margin={"t": 10}, xaxis={"title": _("draws per digit, k"), "type": "log"},
                              yaxis={"title": _("MC − IS, nats (completions drawn from p(z|x))")})  # fmt: skip
            st.plotly_chart(fig, width="stretch")
            st.caption(
                _("One CVAE setting fixed in advance (NN-filled prior, GSNN weight 0.5, 32-D z), one seed; ± is a standard error over the "
                  "test digits, the CVAE − NN one paired over the same digits. Commands: `checkpoints/experiments/commands`.")
            )  # fmt: skip
        grid = quadrant_grid_rows(shipped)
        if grid:
            r = shipped["quadrant-grid-1"]
            st.markdown(_("#### One quadrant shown: the CVAE's setting chosen on validation digits, then tested on three seeds"))
            fig = go.Figure()
            for size in sorted({g["latent_dim"] for g in grid}):
                mine = [g for g in grid if g["latent_dim"] == size]
                fig.add_trace(go.Scatter(x=[g["gsnn_weight"] for g in mine], y=[g["validation"] for g in mine], mode="lines+markers",
                                         name=_("{size}-D z").format(size=size)))  # fmt: skip
            best = next(g for g in grid if g["chosen"])
            fig.add_trace(go.Scatter(x=[best["gsnn_weight"]], y=[best["validation"]], mode="markers", name=_("chosen"),
                                     marker={"symbol": "star", "size": 16, "color": palette.NEUTRAL}))  # fmt: skip
            fig.update_layout(height=300, margin={"t": 10}, xaxis={"title": _("GSNN weight (0: the CVAE's bound alone)")},
                              yaxis={"title": _("validation NCLL, nats")})  # fmt: skip
            st.plotly_chart(fig, width="stretch")
            st.markdown(
                _("Chosen: GSNN weight {weight:g}, {size}-D z. On {n:,} test digits (IS bound, k = 1,000), over three seeds: the CVAE "
                  "{cvae:.2f} ± {cvae_sd:.2f} nats, the NN {nn:.2f} ± {nn_sd:.2f}; the CVAE − NN, paired per seed, {diff:.2f} ± {diff_sd:.2f} "
                  "(± a standard deviation over seeds).").format(
                    weight=r["chosen"]["gsnn_weight"], size=r["chosen"]["latent_dim"], n=r["n"], cvae=r["cvae_ncll_is"]["mean"],
                    cvae_sd=r["cvae_ncll_is"]["sd"], nn=r["nn_ncll"]["mean"], nn_sd=r["nn_ncll"]["sd"], diff=r["cvae_minus_nn"]["mean"],
                    diff_sd=r["cvae_minus_nn"]["sd"])
            )  # fmt: skip
            st.caption(
                _(
                    "Validation NCLL: the importance-sampled bound with k = 50 on the 500 validation digits, lower is better. Each network keeps "
                    "its best validation epoch; the grid is one seed (0). Command: `checkpoints/experiments/commands`, item 3."
                )
            )
        rows = quadrant_rows(shipped)
        if rows:
            st.markdown(_("#### The earlier runs: 100 fixed epochs for the CVAEs, 100 draws per digit"))
            st.dataframe(translated_keys(rows), hide_index=True, width="stretch")
            st.caption(_("Full-length runs (the command of each is in `checkpoints/make.sh` and `RESULTS.md`), trained on 4,500 digits, every "
                         "choice made on 500 validation digits.") + " " + _(SOHN_QUADRANTS_NOTE) + ".")  # fmt: skip
        with st.container(border=True):
            st.markdown(_("#### Pyro's examples/cvae, for orientation: another quantity on other data"))
            st.dataframe(
                [{_("quadrants shown"): g, "NN": PYRO_QUADRANTS["nn"][g - 1], "CVAE": PYRO_QUADRANTS["cvae"][g - 1]} for g in (1, 2, 3)],
                hide_index=True,
            )
            st.caption(_(PYRO_QUADRANTS_LABEL) + ".")
    st.subheader(_("Complete a digit with the full-length models (one quadrant shown)"))
    experiment_view.show_finding(experiment_view.diversity_finding(shipped))
    diversity = shipped.get(experiment_view.DIVERSITY)
    if diversity is not None:
        st.plotly_chart(diversity_chart(experiment_view.diversity_bins(shipped), diversity["samples"]), width="stretch", key="diversity")
        rule = diversity["shown_digit"]
        st.caption(
            _("The CVAE's spread: the mean absolute difference of the hidden pixels (0 to 1) between two of a digit's {samples} "
              "completions, averaged over the pairs; the NN makes one guess, so its spread is 0. On the first {n} official test digits, "
              "binarised as for the NCLL (the completions below read the grey digit), each digit's completions are the first {samples} "
              "draws of seed {seed} at temperature 1, as below; one model, one seed; whiskers ± 2 standard errors. The digit this section opens on is chosen by a rule fixed in advance, not by eye: "
              "the first test digit, in file order, whose NN NLL of the hidden pixels is in the top tenth ({threshold:.1f} nats or more), "
              "test digit {index}. Command: `{command}`.").format(
                samples=diversity["samples"], n=f"{diversity['n']:,}", seed=diversity["seed"], threshold=rule["threshold"],
                index=rule["index"], command=diversity["command"])
        )  # fmt: skip
    index, x = digit_source("quad", test, default=experiment_view.diversity_digit(shipped, test))
    shipped_cvae = shipped_model("quadrants-1")
    if shipped_cvae is None:
        st.warning(
            _("The full-length one-quadrant model is not in this copy of the app (checkpoints/experiments/); **Retrain live** still works.")
        )
    else:
        # the first six draws of one fixed seed for every digit, as the diversity figure draws them: never picked
        images = showcase(quadrant_baseline_of(shipped_cvae.model), shipped_cvae.model, x, n_samples=6, seed=COMPLETION_SEED)
        what = _("shown · truth · NN guess · six CVAE completions (the first six draws of seed {seed})").format(seed=COMPLETION_SEED)
        ui.show_digits(
            images, ncol=9, scale=3, caption=what, download="completions.png", key="dl-quad",
            alt=_("A digit completed from one quadrant by the full-length models: {what}.").format(what=what),
        )  # fmt: skip

    with st.expander(_("Retrain live"), expanded=ui.state.experiment_run("quadrants") is not None):
        options = LIVE_EXPERIMENTS["quadrants"]
        c1, c2, c3 = st.columns(3)
        given = c1.radio(
            _("Quadrants shown"), options["given"][0], horizontal=True, help=_("1: bottom-left; 2: left half; 3: all but bottom-right.")
        )
        epochs = c2.select_slider(
            _("Epochs"), options["epochs"][0], value=options["epochs"][1],
            help=_("The CVAEs train this long, the NN until its validation score stops improving; 5 epochs take about a minute. The shipped runs used 100."),
        )  # fmt: skip
        n_test = c3.select_slider(
            _("Test digits"), options["test_digits"][0], value=options["test_digits"][1], help=_("How many test digits score the networks.")
        )
        spec = {"experiment": "quadrants", "given": given, "epochs": epochs, "test_digits": n_test}
        experiment_view.controls("quadrants", _("Train the NN and both CVAEs"), spec)

        def quadrant_job(run, snap):
            findings, live = experiment_view.findings("quadrants", snap, key=lambda f: f["given"])  # a row per number of quadrants
            shown = {f"quadrants-{g}": r for g, r in live.items()}
            if findings is not None:
                shown[f"quadrants-{findings['given']}"] = findings  # the running one's networks so far
            if shown:
                st.dataframe(translated_keys(quadrant_rows(shown)), hide_index=True, width="stretch")
            if snap.state == RunState.DONE and findings is not None:
                completions = run.showcase(x, seed=COMPLETION_SEED)
                if completions is not None:
                    caption = _(
                        "your live run, {count} quadrant(s) shown: shown · truth · NN guess · six completions by the CVAE chosen on validation"
                    )
                    caption = caption.format(count=findings["given"])
                    ui.show_digits(
                        [torch.from_numpy(part) for part in completions], ncol=9, scale=3, caption=caption,
                        alt=_("Completions of your live retrain: {what}.").format(what=caption),
                    )  # fmt: skip
            elif not snap.active:
                st.caption(_("Press **Resume** to go on, or the button above to train again."))

        experiment_view.live_experiment("quadrants", quadrant_job)
        if ui.state.experiment_run("quadrants") is None:
            st.caption(
                _(
                    "Press the button to train this number of quadrants live. Training goes on while you read other pages; closing the tab pauses it."
                )
            )

with semi_tab:
    experiment_view.show_finding(experiment_view.kingma_finding(shipped))
    bars = experiment_view.kingma_bars(shipped)
    if bars:
        st.plotly_chart(kingma_chart(bars), width="stretch", key="kingma-finding")
    st.markdown(
        _(
            "**M2** learns from a handful of labelled digits *and* all the unlabelled ones: for an unlabelled digit it sums over the ten "
            "possible labels, weighted by its own guess q(y|x). **M1+M2** first trains a VAE (M1) on every digit, then fits M2 to "
            "M1's code instead of to pixels. The **baseline** is the same classifier network trained on the labelled digits alone."
        )
    )
    with st.expander(_("The tables behind it, the earlier runs and the published figures")):
        recipe = kingma_rows(shipped)
        if recipe:
            st.markdown(_("#### On Kingma et al.'s own recipe: every setting fixed before looking, the last weights kept"))
            st.dataframe(
                [{_("model"): _(r["model"]), _("labelled digits"): r["labels"],
                  _("test accuracy"): ui.readable.estimate(r["accuracy"], r["std"] if r["runs"] > 1 else None, percent=True, decimals=2),
                  _("runs"): r["runs"], _("tested on"): r["pixels"]} for r in recipe],
                hide_index=True, width="stretch",
            )  # fmt: skip
            for d in kingma_differences(shipped):
                low, high = d["ci95"]
                st.markdown(
                    _("**{name}**, paired over the same {count} label draws: {mean:+.2f} points, interval (95 %) {low:+.2f} to {high:+.2f}.").format(
                        name=_(d["name"]), count=d["n"], mean=100 * d["mean"], low=100 * low, high=100 * high
                    )
                )  # fmt: skip
            st.caption(_("Mean ± standard deviation over label draws. The settings, the selection rule and the command are in "
                         "`checkpoints/experiments/results/` and `RESULTS.md`."))  # fmt: skip
        rows = semisupervised_rows(shipped)
        if rows:
            st.markdown(_("#### The earlier runs: epoch and settings chosen on 500 labelled validation digits"))
            table = [{_("model"): _(r["model"]), _("labelled digits"): r["labels"],
                      _("test accuracy"): ui.readable.estimate(r["accuracy"], r["std"] if r["runs"] > 1 else None, percent=True),
                      _("runs"): r["runs"]} for r in rows]  # fmt: skip
            st.dataframe(table, hide_index=True, width="stretch")
            fig = go.Figure()
            for model in sorted({r["model"] for r in rows}):
                mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["labels"])
                fig.add_trace(go.Scatter(x=[r["labels"] for r in mine], y=[r["accuracy"] for r in mine], mode="lines+markers", name=_(model),
                                         error_y={"type": "data", "array": [r["std"] for r in mine], "visible": True}))  # fmt: skip
            for model in ("M2", "M1+M2"):  # Kingma et al.'s table 1: a point per label count, not a line across them
                points = [r for r in SEMI_SUPERVISED if r.estimator.startswith("q(y|z1)") == (model == "M1+M2")]
                fig.add_trace(go.Scatter(x=[r.labels for r in points], y=[r.value for r in points], mode="markers",
                                         marker={"symbol": "x", "size": 10, "color": palette.NEUTRAL},
                                         name=_(points[0].source) + " " + _("(unverified)")))  # fmt: skip
            fig.update_layout(
                xaxis_title=_("labelled digits"), yaxis_title=_("test accuracy"), xaxis_type="log", height=380, margin={"t": 10}
            )
            st.plotly_chart(fig, width="stretch")
            st.caption(_("Mean ± standard deviation over runs, each with its own labelled digits and initial weights (runs = 1: one seed). "
                         "These chose their epoch on 500 labelled validation digits, five times the 100-label budget (Oliver et al. 2018); "
                         "the grey crosses are Kingma et al.'s figures, trained on 50,000 digits:"))  # fmt: skip
            st.markdown(ui.readable.references_table(SEMI_SUPERVISED, percent=True))
        with st.container(border=True):
            st.markdown(_("#### Pyro's SS-VAE example, for orientation: another protocol, not on our axis"))
            fig = go.Figure()
            for source in sorted({r.source for r in PYRO_SEMI_SUPERVISED}):
                points = [r for r in PYRO_SEMI_SUPERVISED if r.source == source]
                fig.add_trace(go.Scatter(x=[r.labels for r in points], y=[r.value for r in points], mode="lines+markers", name=_(source),
                                         error_y={"type": "data", "array": [r.error for r in points], "visible": True}))  # fmt: skip
            fig.update_layout(
                xaxis_title=_("labelled digits"), yaxis_title=_("test accuracy"), xaxis_type="log", height=300, margin={"t": 10}
            )
            st.plotly_chart(fig, width="stretch", key="pyro-ssvae")
            st.markdown(ui.readable.references_table(PYRO_SEMI_SUPERVISED, percent=True))
    st.subheader(_("How the 100-label models read a digit"))
    index, x = digit_source("semi", test)
    ui.show_digits(x, ncol=1, scale=4, alt=_("The digit the two 100-label models read below."))
    columns = st.columns(2)
    for column, (model_id, name) in zip(columns, (("m2-100", "M2"), ("m1m2-100", "M1+M2")), strict=True):
        ckpt = shipped_model(model_id)
        if ckpt is None:
            column.warning(
                _(
                    "The full-length {model} model is not in this copy of the app (checkpoints/experiments/); **Retrain live** still works."
                ).format(model=name)
            )
            continue
        probabilities = ckpt.model.read_digit(x)
        column.plotly_chart(probability_chart(probabilities, _("{model}, 100 labels: reads {digit}").format(model=name, digit=int(probabilities.argmax()))), width="stretch",
                            key=f"read-{model_id}")  # fmt: skip

    with st.expander(_("Retrain live"), expanded=ui.state.experiment_run("semisupervised") is not None):
        options = LIVE_EXPERIMENTS["semisupervised"]
        c1, c2, c3 = st.columns(3)
        n_labels = c1.select_slider(
            _("Labelled digits"),
            options["labels"][0],
            value=options["labels"][1],
            help=_("The rest of the 4,500 training digits lose their labels."),
        )
        stack = c2.radio(
            _("Model"), options["model"][0], horizontal=True, help=_("M1+M2 trains a VAE on every digit first, then M2 on its code.")
        )
        epochs_m2 = c3.select_slider(
            _("Epochs"), options["epochs"][0], value=options["epochs"][1], key="m2_epochs",
            help=_("M2 decodes every unlabelled digit ten times: 5 epochs take about a minute. The shipped runs used 150."),
        )  # fmt: skip
        spec = {"experiment": "semisupervised", "labels": n_labels, "model": stack, "epochs": epochs_m2}
        experiment_view.controls("semisupervised", _("Train it and the baseline"), spec)

        def semisupervised_job(run, snap):
            findings, live = experiment_view.findings("semisupervised", snap, key=lambda f: (f["model"], f["labels"]))
            rows = list(live.values())
            if findings is not None and snap.state != RunState.DONE:
                rows.append(findings)  # the running one: its baseline first, then M2 when it ends
            if rows:
                st.dataframe([{_(title): r.get(k, "…") for k, title in LIVE_COLUMNS.items()} for r in rows], hide_index=True)
            if snap.state != "done" or findings is None:
                return
            model = run.model()
            if model is not None and model.makes_images:
                st.markdown(
                    _("**Digits drawn by the M2 you trained with {count} labels** (one row per label):").format(count=findings["labels"])
                )
                ui.show_digits(
                    model.label_grid(10, seed=0), ncol=10, scale=2,
                    alt=_("Digits drawn by the M2 you trained with {count} labels, one row per label.").format(count=findings["labels"]),
                )  # fmt: skip
            added = any(entry.metadata.get("live_run") == run.id for entry in ui.state.session_models().values())
            if model is not None and findings["model"] == "M2" and not added:  # once, when the retrain is first seen done
                name = f"m2-{findings['labels']}labels"
                ui.add_session_model(
                    name, Checkpoint(model, {"variant": "m2", "labels": findings["labels"]}), prefer=False, metadata={"live_run": run.id}
                )
            if findings["model"] == "M2":
                shown_as = _("{name} (this session)").format(name=f"m2-{findings['labels']}labels")  # as the model pickers name it
                st.caption(_("This M2 is now on every page as **{name}**.").format(name=shown_as))

        experiment_view.live_experiment("semisupervised", semisupervised_job)
        if ui.state.experiment_run("semisupervised") is None:
            st.caption(_("Press the button to train live. Training goes on while you read other pages; closing the tab pauses it."))
