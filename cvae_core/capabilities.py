"""What a model can do, as plain flags: pages, the CLI and the engine ask these, never a variant's name. Read
without torch (the home page takes them from checkpoint headers, `Capabilities.of_metadata`)."""

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Capabilities:
    uses_label: bool = True  # does generation (or prediction) take a label?
    makes_images: bool = True  # can it draw digits from a label? (cvae3 predicts; M1+M2 writes codes z1)
    classifies: bool = False  # has it a classifier of its own, q(y|x) or p(y|x)? (else Bayes' rule over p(x|y))
    learns_from_unlabelled: bool = False  # may training digits be unlabelled (label -1)?
    # a Bernoulli likelihood of pixels: trains on dynamically binarised digits, measured on the fixed binarised test split
    bernoulli_pixels: bool = True
    has_label_prior: bool = False  # is p(z|y) learned, one Gaussian per label (cvae1, cvae4)?

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of_metadata(cls, meta: dict) -> "Capabilities | None":
        """A checkpoint's capabilities as its header records them; None for a file saved before they were."""
        stored = meta.get("capabilities")
        if not isinstance(stored, dict):
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: bool(v) for k, v in stored.items() if k in known})
