"""The papers' experiments, one module each. Each compares a variant with the plain deterministic network it is meant
to beat, trained on identical data with the same engine settings, and evaluated on a test split.

- `quadrants`: Sohn et al. 2015's quadrant completion (an NN baseline and cvae3);
- `quadrant_bounds`: the quadrant NCLL as bounds of one quantity (importance-sampled, paired against the NN);
- `completion_diversity`: whether the quadrant CVAE's completions differ where the hidden part is ambiguous;
- `classification`: cvae3 as a classifier against a plain one;
- `semisupervised`: Kingma et al. 2014's M2 and M1+M2 against a classifier on the labelled digits only;
- `live`: what a visitor may retrain on the Experiments page, as jobs of the training service;
- `shipped`: the full-length results and models that ship with the app;
- `common`: what they share (a network trained as a plan of one stage, keeping its best validation epoch; spreads
  over seeds; the plain classifier).

An experiment is a plan (cvae_core/training/stages.py): the CLI runs it to the end, the training service a slice at a
time. The tables the Experiments page draws from the shipped results are ui/experiment_view.py's.
"""
