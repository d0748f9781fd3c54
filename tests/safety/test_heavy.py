"""Page work bounded server-wide (ui.heavy): t-SNE of a model still training is redone at most every TSNE_EVERY
seconds per model, whoever asks; jobs take turns in one gate (cvae_core.gate, as the upload reads do)."""

import threading

from cvae_core.gate import Gate
from ui import heavy


def test_tsne_of_one_model_is_redone_at_most_every_thirty_seconds_whoever_asks(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(heavy.time, "monotonic", lambda: now[0])
    heavy._projections.clear()
    made = []

    def compute(tag):
        made.append(tag)
        return tag

    assert heavy.throttled("model-a", 2000, lambda: compute("a1")) == "a1"
    now[0] += 10
    assert heavy.throttled("model-a", 2000, lambda: compute("a2")) == "a1"  # a stranger's page, 10 s later: the same
    assert heavy.throttled("model-b", 2000, lambda: compute("b1")) == "b1"  # another model is its own
    now[0] += heavy.TSNE_EVERY
    assert heavy.throttled("model-a", 2000, lambda: compute("a3")) == "a3"
    assert made == ["a1", "b1", "a3"]


def test_a_gate_lets_its_size_in_at_once_and_tells_the_next_it_waits():
    gate, inside, most, told = Gate(1), [0], [0], []
    go, lock = threading.Event(), threading.Lock()

    def worker(name):
        with gate.slot(waiting=lambda: told.append(name)):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            go.wait(10)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    while len(told) < 2:
        threading.Event().wait(0.01)
    go.set()
    for t in threads:
        t.join(10)
    assert most[0] == 1 and len(told) == 2
