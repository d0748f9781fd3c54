"""What crosses the pipe between the server and the training process besides runs' snapshots: a refusal (a sentence
the server translates) and the one error a lost process raises."""

from ..errors import CVAEError
from ..text import N_


class TrainingLost(CVAEError):
    """The training process is gone; the server starts a new one on its next use."""

    def __init__(self):
        super().__init__(N_("The training process stopped; the server is starting a new one. Your runs keep their last weights."))


def refusal(error: CVAEError) -> dict:
    """A sentence refusing a call, for the pipe: English, and its template and fields for the server to translate."""
    return {"error": str(error), "template": error.template, "fields": dict(error.fields)}


def raise_refusal(answer: dict | None) -> dict | None:
    """The answer as it came, or the refusal in it raised as a CVAEError (in the visitor's language, by its template)."""
    if isinstance(answer, dict) and "error" in answer:
        raise CVAEError(answer["template"], **answer["fields"])
    return answer
