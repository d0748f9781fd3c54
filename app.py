"""CVAE Lab, the home page: what a conditional VAE is, the variants, and what is loaded."""

import html

import streamlit as st

import ui
from cvae_core.capabilities import Capabilities
from cvae_core.cards import CARDS
from cvae_core.storage.checkpoint_header import SHIPPED, catalogue
from ui.i18n import N_, _, translated
from ui.summaries import pretrained_sentence

ui.setup_page(
    "CVAE Lab",
    _(
        "A **variational autoencoder** learns to compress an image x into a short random code z and to redraw the image from "
        "that code; training maximises a lower bound on how likely the data are, the *ELBO*. A **conditional** VAE also gets a "
        "condition y, here the digit's label, so you can ask it for a *7* and let z decide the handwriting. The variants below "
        "differ in which arrows their graphical model draws between y, z and x, and that changes what they are good at."
    ),
    models=False,  # the whole page draws without torch, which loads meanwhile for the next page
)

st.subheader(_("Three things to try"))
TRY_FIRST = (  # (page, link text, the sentence that says what happens)
    ("draw", N_("Draw a digit"), N_("Write a digit with your mouse or finger and watch every model say which digit it reads.")),
    ("train", N_("Train a model"), N_("Press Start and watch blurry blobs sharpen into digits within seconds.")),
    ("generate", N_("Move the dials"), N_("Pick a digit, then turn the style dials and see its handwriting change.")),
)
for column, (key, label, sentence) in zip(st.columns(3), TRY_FIRST, strict=True):
    with column.container(border=True):
        st.page_link(ui.page(key).file, label=_(label), icon=":material/arrow_forward:")
        st.caption(_(sentence))

st.header(_("The variants"))
st.caption(_("Grey circles are observed, white ones latent; solid arrows are the generative model, dashed ones the inference network."))
PER_ROW = 3  # a projector (1920 px) shows a whole row of cards; a phone stacks them
# A bound is wider than a card a third of the page wide: drawn smaller, it fits. Whatever is still wider than its
# place (a bound on a narrow card, the models' table on a phone) scrolls sideways rather than being cut off. The graphs
# are drawn at their own size (width="content"), all at one scale, zoomed so that the widest (263 pt, a chain of three
# nodes) fits a card a third of a 1400 px page; "stretch" would scale each to the card's width, a two-node graph largest.
HOME_CSS = """<style>
[class*="st-key-variant-"] .katex-display { font-size: 0.75em; overflow-x: auto; overflow-y: hidden; }
[class*="st-key-variant-"] [data-testid="stGraphVizChart"] svg { zoom: 0.72; }
.st-key-pretrained table { display: block; overflow-x: auto; }
</style>"""
st.html(HOME_CSS)
for i in range(0, len(CARDS), PER_ROW):
    row = st.columns(PER_ROW)
    for col, (name, card) in zip(row, list(CARDS.items())[i : i + PER_ROW], strict=False):
        with col.container(border=True, key=f"variant-{name}"):  # key: HOME_CSS
            st.subheader(_(card.title))
            st.graphviz_chart(card.graph_dot, width="content")  # each at its own size: all at one scale
            st.latex(card.elbo_latex)
            st.markdown(_(card.good_for))
            st.caption(f"<cite>{html.escape(_(card.reference))}</cite>", unsafe_allow_html=True)  # a paper, cited as published

st.header(_("Pretrained models"))
shipped = catalogue(SHIPPED)  # as their headers describe them: no weights read, no torch
if shipped:
    rows = []

    def figure(test: dict, key: str, percent: bool = True) -> str:  # with its standard error where the file has one
        text = ui.readable.estimate(test.get(key), test.get(f"{key}_se"), decimals=1, percent=percent)
        return text.replace(" ", "\u00a0")  # a figure does not break across lines

    accuracy_kinds = {  # how a model's accuracy is read: each kind its own words
        "bayes": N_("Bayes' rule over p(x|y)"),
        "posterior": N_("its classifier q(y|x)"),
        "predictive": N_("its prediction p(y|x)"),
    }
    for name, meta in shipped.items():
        test = meta.get("metrics", {}).get("test", {})
        bound = test.get("bound")  # the quantity the model's ELBO bounds: log p(x), log p(x|y) or log p(y|x)
        able = Capabilities.of_metadata(meta)  # from the header: torch is not needed
        kind = "predictive" if bound == "log p(y|x)" else ("posterior" if able is not None and able.classifies else "bayes")
        accuracy = figure(test, "accuracy")
        rows.append(  # the column names are read, so they are translated; the values are names and figures
            {
                _("model"): name,
                _("variant"): meta["variant"],
                _("latent size"): meta["model_config"].get("latent_dim"),
                _("trained on"): meta.get("dataset", "?"),
                _("log p(x), nats (k = {k})").format(k=test.get("iw_samples", "?")): figure(test, "log_px", percent=False),
                _("ELBO on log p(x|y)"): figure(test, "elbo", percent=False) if bound == "log p(x|y)" else "",
                _("ELBO on log p(x)"): figure(test, "elbo", percent=False) if bound == "log p(x)" else "",
                _("log p(y|x)"): figure(test, "log_py_given_x", percent=False),
                _("label fidelity (CNN)"): figure(test, "label_fidelity"),
                _("label fidelity (BN-CNN)"): figure(test, "label_fidelity_second"),
                _("accuracy"): f"{accuracy} ({_(accuracy_kinds[kind])})" if test.get("accuracy") is not None else accuracy,
            }
        )
    summary = pretrained_sentence({name: meta.get("metrics", {}).get("test", {}) for name, meta in shipped.items()})
    if summary is not None:
        st.markdown(translated(*summary, summary[0].format(**summary[1])))
    folded = st.expander(_("Every figure of the pretrained models"))
    folded.container(key="pretrained").markdown(ui.readable.markdown_table(rows))  # key: HOME_CSS
    digits_measured = {meta.get("metrics", {}).get("test", {}).get("n", 0) for meta in shipped.values()}
    folded.caption(
        _(
            "Figures on {count} digits of the official MNIST test split, binarised once with a fixed seed (the literature's protocol; the models "
            "trained on dynamically binarised digits): log p(x) is the importance-weighted bound with k proposals per digit, "
            "shared among the ten labels of a conditional model; each ELBO is in the column of what it bounds. Label fidelity: the share of samples that each of two "
            "independent classifiers (a CNN and a batch-normalised CNN, trained on training digits only) reads as the label asked "
            "for; ± one standard error, where it was measured. `checkpoints/README.md` has the command that made each model."
        ).format(count=" / ".join(f"{n:,}" for n in sorted(digits_measured)))
    )
else:
    st.info(_("No pretrained models were found in checkpoints/. Train one on the Train page."))

if ui.presenter():  # server details are not for the audience
    st.stop()
st.header(_("This server"))
c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
c1.metric(
    _("Training runs in memory"), ui.held_runs(),
    help=_(
        "Held by the browser sessions on this server, yours included. A closed tab's runs stop within 10 s and are released "
        "when the server drops the session (after `server.disconnectedSessionTTL`, 120 s by default)."
    ),
)  # fmt: skip
c2.metric(
    _("Training now"), ui.training_now(),
    help=_("Runs training at this moment, every visitor's; a paused run, or one whose tab closed, is not counted."),
)  # fmt: skip
where = ui.training_load()
on_ray = where is not None and where["backend"] == "ray"
c4.metric(
    _("Trains on"), "Ray" if on_ray else _("this server"),  # short: a metric's value is cut to its column's width
    help=_(
        "Where the runs of this server's visitors train: its own training process, or the Ray cluster named by "
        "CVAE_RAY_ADDRESS (one worker per CPU of the cluster; a node that joins adds its workers within seconds, "
        "without a restart; README, Workshops)."
    ),
)  # fmt: skip
if on_ray:
    st.caption(_("On a Ray cluster · workers: {lanes} · nodes: {nodes}").format(lanes=where["limit"], nodes=where["nodes"]))
elif where is not None and ui.training.fell_back():
    st.warning(_("The Ray cluster this server trains on cannot be reached: runs train in this server's own process until a restart."))
memory = ui.server_memory_mb()
c3.metric(
    _("Server memory"), _("n/a") if memory is None else _("{megabytes:,.0f} MB").format(megabytes=memory),
    help=_("Resident memory of the Streamlit process."),
)  # fmt: skip
