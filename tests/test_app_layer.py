"""The app layer outside a page: the server's count of training runs it holds, and the digit helpers."""

import numpy as np
import torch

import ui
from cvae_core.engine import TrainConfig, Trainer
from cvae_core.models import ModelConfig, build_model


def test_a_dropped_trainer_is_released_even_inside_a_reference_cycle(digits):
    before = ui.live_trainers()
    trainer = Trainer(build_model(ModelConfig(variant="cvae2", latent_dim=4, hidden=64), seed=0), digits, config=TrainConfig(epochs=1))
    ui.track_trainer(trainer)
    trainer.run(max_steps=2)
    holder = {"trainer": trainer}
    holder["self"] = holder  # a session's state refers to itself, as Streamlit's objects do
    assert ui.live_trainers() == before + 1
    del trainer, holder
    assert ui.live_trainers() == before


def test_stack_digits_takes_tensors_arrays_and_lists_of_them():
    one = np.zeros((28, 28))
    batch = torch.ones(3, 784)
    stacked = ui.stack_digits([one, batch, torch.zeros(2, 28, 28)])
    assert stacked.shape == (6, 28, 28)
    assert stacked[1:4].min() == 1 and stacked[0].max() == 0
