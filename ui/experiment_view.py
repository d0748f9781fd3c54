"""A live retrain of an experiment, as the Experiments page shows it: the job runs in the training service
(cvae_core/training/stages.py), queued fairly beside everyone's runs, and goes on while its visitor reads another page; this view
reads its snapshot: which network trains, how far the experiment is, and the figures of each network as it ends."""

from collections.abc import Callable

import streamlit as st

from cvae_core.errors import CVAEError
from cvae_core.training.service import RunState

from . import readable, state, training
from .i18n import N_, _, error_text, translated
from .run_view import STATUS, queue_line


def status_line(snap, load: dict) -> str:
    """Where the retrain stands, in the visitor's words."""
    summary = snap.summary
    if snap.state == RunState.QUEUED:
        return queue_line(snap, load)
    if snap.state == RunState.TRAINING and summary.get("stage"):
        return _("training {network} · {fraction:.0%} of the experiment").format(network=_(summary["stage"]), fraction=summary["fraction"])
    if snap.state == RunState.LOST:  # a retrain's stages cannot be rebuilt from one network's weights
        return _("lost: the server's training process stopped; start the retrain again")
    return _(STATUS.get(snap.state, N_("paused")))


def findings(experiment: str, snap, key: Callable[[dict], object]) -> tuple[dict | None, dict]:
    """The figures of the retrain the snapshot shows, so far (None before its first network ends), and those of this
    session's finished retrains by key(figures), the latest of each (this one too, once done)."""
    now = snap.summary.get("findings", {}).get(experiment)
    finished = state.live_findings(experiment)
    if now is not None and snap.state == RunState.DONE:
        finished[key(now)] = now
    return now, finished


def controls(experiment: str, start_label: str, spec: dict) -> None:
    """Start (a new retrain with `spec`), Stop and Resume; a click is handled in the script run, so it carries the
    settings as the visitor last set them."""
    run = state.experiment_run(experiment)
    snap = run.snapshot if run is not None else None
    active = snap is not None and snap.active
    b1, b2, b3 = st.columns(3)
    start = b1.button(start_label, type="primary", disabled=active, key=f"{experiment}-start")
    stop = b2.button(_("Stop"), icon=":material/stop:", disabled=not active, key=f"{experiment}-stop", help=_("Pause; Resume continues."))
    resume = b3.button(
        _("Resume"), icon=":material/resume:", disabled=active or snap is None or snap.state in ("done", "failed", "lost"),
        key=f"{experiment}-resume", help=_("Continue where you stopped."),
    )  # fmt: skip
    if start:
        try:
            training.start_experiment(spec)
        except CVAEError as e:
            st.error(_("Cannot start: {reason}").format(reason=error_text(e)))
            return
        st.rerun()
    if stop and run is not None:
        run.stop()
        st.rerun()
    if resume and run is not None:
        run.start()
        st.rerun()


def live_experiment(experiment: str, show: Callable) -> None:
    """The session's latest retrain of an experiment, refreshed while it trains: status and progress, then show(run,
    snap), which draws the findings so far (and, once done, what the trained networks make)."""
    run = state.experiment_run(experiment)
    if run is None or run.snapshot is None:
        return
    wanting = run.snapshot.active or run.snapshot.state == RunState.AWAY  # away: the sidebar's heartbeat brings it back
    refresh = training.live_refresh_seconds(training.client().load()) if wanting else None

    @st.fragment(run_every=refresh)
    def view():
        training.beat()
        snap = run.snapshot
        if not snap.active and state.shown_state(experiment) in (RunState.QUEUED, RunState.TRAINING):
            state.note_shown_state(experiment, snap.state)
            st.rerun(scope="app")  # it ended: the buttons change, and the page stops refreshing
        state.note_shown_state(experiment, snap.state)
        st.progress(snap.summary.get("fraction", 0.0), text=status_line(snap, training.client().load()))
        if snap.error:
            st.error(translated(snap.error_template, snap.error_fields, snap.error))
        show(run, snap)

    view()


# ---- the shipped results as the page's tables ----------------------------------------------------
# The quadrant table's columns for each fill of the CVAE's prior (ModelConfig.nn_fill), in table order:
# fill -> (the CVAE's name, its MC score, MC over the NN's, its IS score, IS over the NN's). MC draws z from the prior
# network, as the page's completions do; IS draws it from q(z|x,y), reweighted by p(z|x) / q: two bounds of one
# quantity. Ratios to the NN are for orientation, not goals. Translated where shown.
QUADRANT_COLUMNS = {
    "none": (N_("CVAE"), N_("CVAE: MC"), N_("CVAE: MC / NN"), N_("CVAE: IS"), N_("CVAE: IS / NN")),
    "prior": (
        N_("CVAE, NN-filled prior"),
        N_("CVAE, NN-filled prior: MC"),
        N_("CVAE, NN-filled prior: MC / NN"),
        N_("CVAE, NN-filled prior: IS"),
        N_("CVAE, NN-filled prior: IS / NN"),
    ),
    "prior+generation": (
        N_("CVAE, NN-filled prior and generation"),
        N_("CVAE, NN-filled prior and generation: MC"),
        N_("CVAE, NN-filled prior and generation: MC / NN"),
        N_("CVAE, NN-filled prior and generation: IS"),
        N_("CVAE, NN-filled prior and generation: IS / NN"),
    ),
}


def quadrant_rows(results: dict[str, dict]) -> list[dict]:
    """The quadrant results (stems quadrants-1/2/3) as table rows: nats per digit, lower is better.
    The column names are English, marked for translation (the page translates them where it shows them)."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrants-{given}")
        if r is None:
            continue
        row = {N_("quadrants shown"): given, "NN": r["nn_ncll"]}
        for fill, (_name, mc_column, mc_ratio, is_column, is_ratio) in QUADRANT_COLUMNS.items():
            if fill in r["cvae"]:
                scores = r["cvae"][fill]
                if "ncll_mc" in scores:
                    row[mc_column], row[mc_ratio] = scores["ncll_mc"], round(scores["ncll_mc"] / r["nn_ncll"], 4)
                row[is_column], row[is_ratio] = scores["ncll_is"], scores["is_over_nn"]
        row[N_("test digits")] = r["n"]  # Pyro's figures (another quantity, other data) are in a panel of their own
        # a run of the earlier protocol (grey pixels, no validation split) says so in its row
        row[N_("pixels")] = N_("binarised") if r.get("protocol") == "binarized" else N_("grey (earlier protocol)")
        rows.append(row)
    return rows


def semisupervised_rows(results: dict[str, dict]) -> list[dict]:
    """The semi-supervised results (stems semisupervised-*) as rows: one per model and label count, accuracy as
    mean and standard deviation over the runs (0 and runs = 1 for a single seed)."""
    rows = []
    for stem, r in results.items():
        if not stem.startswith("semisupervised-"):
            continue
        for name, key in ((r["model"], "m2_accuracy"), (N_("baseline"), "baseline_accuracy")):  # "baseline": translated where shown
            figure = r[key] if isinstance(r[key], dict) else {"mean": r[key], "std": 0.0, "runs": 1}
            rows.append({
                "model": name, "labels": r["labels"], "accuracy": figure["mean"], "std": figure["std"], "runs": figure["runs"],
                "selected_on_validation": r.get("selected_on") == "validation",  # False: a run of the earlier protocol
            })  # fmt: skip
    # one baseline row per label count and number of runs: M2's and M1+M2's runs train the same baseline
    unique = {(row["model"], row["labels"], row["runs"]): row for row in rows}
    return sorted(unique.values(), key=lambda row: (row["labels"], row["model"], row["runs"]))


def quadrant_bound_rows(results: dict[str, dict]) -> list[dict]:
    """The quadrant bounds (stems quadrant-bounds-1/2/3, quadrant_bounds_plan) as table rows: each model's NCLL as its
    tightest estimate, nats per digit, lower is better; the CVAE's importance-sampled bound at the largest k with its
    standard error and the paired difference from the NN with its standard error. Column names English, marked."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrant-bounds-{given}")
        if r is None:
            continue
        nn, cvae = r["nn"], r["cvae"]
        rows.append({
            N_("quadrants shown"): given,
            N_("NN (epoch kept)"): f"{nn['ncll']:.2f} ± {nn['se']:.2f} ({nn['epoch_kept']:g})",
            N_("CVAE, IS bound (k, epoch kept)"): f"{cvae['ncll_is']:.2f} ± {cvae['se']:.2f} ({cvae['k']:,}, {cvae['epoch_kept']:g})",
            N_("CVAE − NN, paired"): f"{cvae['minus_nn']:.2f} ± {cvae['minus_nn_se']:.2f}",
            N_("CVAE / NN (orientation)"): round(cvae["over_nn"], 3),
            N_("test digits"): r["n"],
        })  # fmt: skip
    return rows


def quadrant_grid_rows(results: dict[str, dict]) -> list[dict]:
    """The one-quadrant grid (stem quadrant-grid-1, bench/quadrant_grid.py): one row per GSNN weight and z size with its
    importance-sampled validation NCLL (nats per digit, lower is better) and whether it is the setting chosen."""
    r = results.get("quadrant-grid-1")
    if r is None:
        return []
    chosen = (r["chosen"]["gsnn_weight"], r["chosen"]["latent_dim"])
    return [
        {"gsnn_weight": g["gsnn_weight"], "latent_dim": g["latent_dim"], "validation": g["validation_ncll_is"],
         "epoch_kept": g["epoch_kept"], "chosen": (g["gsnn_weight"], g["latent_dim"]) == chosen}
        for g in r["grid"]
    ]  # fmt: skip


def quadrant_mc_gap_rows(results: dict[str, dict]) -> list[dict]:
    """For each quadrant bounds file and each k: the IS bound, MC (completions drawn from p(z|x)) and MC - IS with its
    paired standard error, nats per digit: how far the page's completions are from the tightest estimate, and how
    much of that is too few draws."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrant-bounds-{given}")
        for k, c in (r or {}).get("curve", {}).items():
            rows.append({"given": given, "k": int(k), "is": c["is"], "mc": c["mc"], "gap": c["mc_minus_is"], "gap_se": c["mc_minus_is_se"]})
    return rows


def kingma_rows(results: dict[str, dict]) -> list[dict]:
    """The runs on Kingma et al.'s recipe (stems kingma-m1m2-N, bench/kingma_recipe.py) as rows: each figure's mean and
    standard deviation over the label draws, the pixels it was tested on; and the paired differences with their 95 %
    intervals. Names English, marked (translated where shown)."""
    names = {
        "m1m2_accuracy": N_("M1+M2, Kingma's recipe"),
        "m2_accuracy": N_("M2, Kingma's recipe"),
        "baseline_mlp": N_("classifier on the labelled digits alone"),
        "baseline_mlp_600": N_("classifier on 600 labelled digits"),
        "probe_z1_logistic": N_("logistic regression on M1's code z1"),
        "probe_pixels_logistic": N_("logistic regression on pixels"),
    }
    rows = []
    for stem, r in sorted(results.items()):
        if not stem.startswith("kingma-m1m2-"):
            continue
        for key, name in names.items():
            figure = r.get(key)
            if figure:
                rows.append({"model": name, "labels": 600 if key == "baseline_mlp_600" else r["labels"], "accuracy": figure["mean"],
                             "std": figure["std"], "runs": figure["runs"], "pixels": r["pixels_tested_on"].get(key, "")})  # fmt: skip
    return rows


def kingma_differences(results: dict[str, dict]) -> list[dict]:
    """The paired differences of the Kingma-recipe files: M1+M2 - M2 and probe on z1 - probe on pixels, each with its
    mean, standard deviation and 95 % interval over the same label draws."""
    out = []
    for stem, r in sorted(results.items()):
        if stem.startswith("kingma-m1m2-"):
            for key, name in (("m1m2_minus_m2", N_("M1+M2 − M2")), ("probe_z1_minus_pixels", N_("probe on z1 − probe on pixels"))):
                if key in r:
                    out.append({"name": name, "labels": r["labels"], **r[key]})
    return out


def show_finding(finding: tuple[str, dict] | None) -> None:
    """An experiment's one-sentence finding (a template and its fields), in the visitor's language, in bold."""
    if finding is not None:
        template, fields = finding
        st.markdown("**" + translated(template, fields, template.format(**fields)) + "**")


def quadrant_bars(results: dict[str, dict]) -> list[dict]:
    """Each quadrant bounds file's two figures for a chart: the NN's NCLL and the CVAE's importance-sampled bound, with
    their standard errors, and the paired CVAE − NN difference with its own; nats per digit, lower is better."""
    out = []
    for given in (1, 2, 3):
        r = results.get(f"quadrant-bounds-{given}")
        if r is not None:
            nn, cvae = r["nn"], r["cvae"]
            out.append({"given": given, "n": r["n"], "nn": nn["ncll"], "nn_se": nn["se"], "cvae": cvae["ncll_is"],
                        "cvae_se": cvae["se"], "difference": cvae["minus_nn"], "difference_se": cvae["minus_nn_se"]})  # fmt: skip
    return out


def quadrant_finding(results: dict[str, dict]) -> tuple[str, dict] | None:
    """The quadrant experiment in one sentence, from its bounds files: whether the CVAE beats the NN on the hidden
    pixels for every number of quadrants shown, by more than two paired standard errors, and by how much. A template
    marked for translation and its fields (the figures to the precision their errors support); None without results."""
    bars = quadrant_bars(results)
    if not bars:
        return None
    fields = {
        "shown": " / ".join(str(b["given"]) for b in bars),
        "gains": " / ".join(readable.to_precision(-b["difference"], b["difference_se"]) for b in bars),
        "differences": " / ".join(readable.to_precision(b["difference"], b["difference_se"]) for b in bars),
    }
    if all(b["difference"] + 2 * b["difference_se"] < 0 for b in bars):
        return N_(
            "With {shown} quadrants shown, the CVAE guesses the hidden pixels better than the NN every time: {gains} nats per digit fewer respectively, paired over the same test digits."
        ), fields  # fmt: skip
    return N_(
        "The CVAE does not beat the NN clearly for every number of quadrants shown ({shown}): CVAE − NN is {differences} nats per digit, paired over the same test digits."
    ), fields  # fmt: skip


def kingma_bars(results: dict[str, dict], labels: int = 100) -> list[dict]:
    """The Kingma-recipe rows (`kingma_rows`) of one label count, for a chart: one bar per model, trained on that many
    labelled digits (the 600-label classifier, a reference of another budget, is left out)."""
    return [r for r in kingma_rows(results) if r["labels"] == labels]


def kingma_finding(results: dict[str, dict], labels: int = 100) -> tuple[str, dict] | None:
    """The semi-supervised experiment in one sentence, from the Kingma-recipe file of `labels`: M1+M2's, M2's and the
    labelled-only classifier's test accuracy, and whether M1+M2 beats M2 (its paired 95 % interval over the same label
    draws above zero). A template marked for translation and its fields; None without that file."""
    r = results.get(f"kingma-m1m2-{labels}")
    if r is None or "m1m2_minus_m2" not in r:
        return None
    low, high = r["m1m2_minus_m2"]["ci95"]

    def percent(x: float) -> str:  # the "%" in a field, not the template: gettext would read "% o" as a printf directive
        return f"{100 * x:.0f} %"

    fields = {"labels": labels, "m1m2": percent(r["m1m2_accuracy"]["mean"]), "m2": percent(r["m2_accuracy"]["mean"]),
              "baseline": percent(r["baseline_mlp"]["mean"]), "low": 100 * low, "high": 100 * high, "level": "95 %",
              "runs": r["m1m2_minus_m2"]["n"]}  # fmt: skip
    if low > 0:
        return N_(
            "From {labels} labels, M1+M2 reads {m1m2} of the test digits, M2 {m2} and a classifier of the labelled digits alone {baseline}: M1+M2 beats M2 by {low:.0f} to {high:.0f} points ({level} interval over {runs} label draws)."
        ), fields  # fmt: skip
    return N_(
        "From {labels} labels, M1+M2 reads {m1m2} of the test digits, M2 {m2} and a classifier of the labelled digits alone {baseline}: M1+M2 and M2 do not differ clearly ({low:+.0f} to {high:+.0f} points, {level} interval over {runs} label draws)."
    ), fields  # fmt: skip


# ---- whether the CVAE's completions differ where the hidden part is ambiguous (bench/completion_diversity.py) ------
DIVERSITY = "completion-diversity-1"


def diversity_bins(results: dict[str, dict]) -> list[dict]:
    """The completion-diversity file's deciles of the NN's NLL of the hidden pixels, for a chart: each decile's mean NLL
    (nats) and range, and the CVAE's mean spread with its standard error; the NN's spread is 0 (one guess)."""
    r = results.get(DIVERSITY)
    if r is None:
        return []
    return [{"nll": b["nn_nll_mean"], "from": b["nn_nll_from"], "to": b["nn_nll_to"], "spread": b["cvae_spread"]["mean"],
             "se": b["cvae_spread"]["se"], "n": b["cvae_spread"]["n"], "nn": b["nn_spread"]} for b in r["deciles"]]  # fmt: skip


def diversity_digit(results: dict[str, dict], test, limit: int = 1000) -> int:
    """The test digit the completions open on: the one the file's stated rule chose (its index in the official test
    split), when the pages' test digits are that split and the chooser reaches it; else the first."""
    r = results.get(DIVERSITY)
    if r is None or getattr(test, "name", None) != "mnist" or getattr(test, "split", None) != "test":
        return 0
    index = r["shown_digit"]["index"]
    return index if index < min(len(test), limit) else 0


def diversity_finding(results: dict[str, dict]) -> tuple[str, dict] | None:
    """Whether the CVAE's completions differ more where the hidden part is ambiguous, in one sentence from the
    completion-diversity file: the direction is the sign of the rank correlation between the CVAE's spread and the NN's
    NLL of the hidden pixels when its 95 % interval excludes 0, both as it is and with the amount of hidden ink held fixed
    (more ink hidden is more to be wrong about and to differ on); the quartiles' spreads and the share of digits whose
    completions the fidelity CNN reads as two classes or more. A template marked for translation and its fields (the
    "%" signs in the fields: gettext reads "% o" as a printf directive); None without the file."""
    r = results.get(DIVERSITY)
    if r is None:
        return None
    rank, given_ink = r["spearman_spread_nn_nll"], r["spearman_given_hidden_ink"]
    (low, high), (ink_low, ink_high) = rank["ci95"], given_ink["ci95"]
    bottom, top = r["quartiles"][0]["cvae_spread"], r["quartiles"][-1]["cvae_spread"]
    fields = {
        "n": f"{r['n']:,}", "samples": r["samples"], "rho": f"{rank['rho']:.2f}", "low": f"{low:.2f}", "high": f"{high:.2f}",
        "level": "95 %", "partial": f"{given_ink['rho']:.2f}", "partial_low": f"{ink_low:.2f}", "partial_high": f"{ink_high:.2f}",
        "top": f"{top['mean']:.3f}", "bottom": f"{bottom['mean']:.3f}",
        "several": f"{100 * r['classifiers']['label_fidelity']['several_classes']:.0f} %",
    }  # fmt: skip
    if low > 0 and ink_low > 0:
        return N_(
            "Over the first {n} test digits, the CVAE's {samples} completions of a digit differ more where the hidden part is ambiguous (the NN guesses it worst): {top} apart per hidden pixel in the quarter of digits the NN guesses worst, {bottom} in the quarter it guesses best (rank correlation {rho}, {level} interval {low} to {high}; with as much ink hidden, {partial}, {partial_low} to {partial_high}). The NN's single guess never differs; the fidelity CNN reads two digits or more among the completions of {several} of the digits."
        ), fields  # fmt: skip
    if high < 0 and ink_high < 0:
        return N_(
            "Over the first {n} test digits, the CVAE's {samples} completions of a digit differ less where the hidden part is ambiguous (the NN guesses it worst): {top} apart per hidden pixel in the quarter of digits the NN guesses worst, {bottom} in the quarter it guesses best (rank correlation {rho}, {level} interval {low} to {high}; with as much ink hidden, {partial}, {partial_low} to {partial_high}). The NN's single guess never differs; the fidelity CNN reads two digits or more among the completions of {several} of the digits."
        ), fields  # fmt: skip
    return N_(
        "Over the first {n} test digits, the CVAE's {samples} completions of a digit do not differ clearly more where the hidden part is ambiguous (the NN guesses it worst): {top} apart per hidden pixel in the quarter of digits the NN guesses worst, {bottom} in the quarter it guesses best (rank correlation {rho}, {level} interval {low} to {high}; with as much ink hidden, {partial}, {partial_low} to {partial_high}). The NN's single guess never differs; the fidelity CNN reads two digits or more among the completions of {several} of the digits."
    ), fields  # fmt: skip
