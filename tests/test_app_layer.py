"""The app layer outside a page: the server's count of training runs it holds, and the digit helpers."""

import numpy as np
import torch

import ui


def test_stack_digits_takes_tensors_arrays_and_lists_of_them():
    one = np.zeros((28, 28))
    batch = torch.ones(3, 784)
    stacked = ui.stack_digits([one, batch, torch.zeros(2, 28, 28)])
    assert stacked.shape == (6, 28, 28)
    assert stacked[1:4].min() == 1 and stacked[0].max() == 0
