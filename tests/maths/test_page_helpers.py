"""What the models offer the pages: grids, interpolations, priors, readings; and the immutable Dataset."""

import dataclasses

import numpy as np
import pytest
import torch

from cvae_core.data import in_batches, load_dataset
from cvae_core.models import build_model, model_config


def tiny(variant, latent_dim=4):
    return build_model(model_config(variant=variant, latent_dim=latent_dim, hidden=32), seed=0).eval()


@pytest.mark.parametrize("variant", ["cvae1", "cvae2", "cvae4", "m2"])
def test_label_grid_has_one_row_per_label_and_the_same_noise_in_every_row(variant):
    model = tiny(variant)
    grid = model.label_grid(3, seed=5)
    assert grid.shape == (30, 28, 28)
    noise = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    for label in (0, 7):
        for style in range(3):
            expected = model.draw(label, noise[style].numpy())
            assert torch.allclose(grid[label * 3 + style], expected, atol=1e-6)
    by_style = model.label_grid(3, seed=5, one_row_per="style")
    assert torch.allclose(by_style[1 * 10 + 7], grid[7 * 3 + 1], atol=1e-6)  # style 1, label 7 in both layouts


def test_an_unconditional_grid_draws_fresh_noise_for_every_digit():
    grid = tiny("vae").label_grid(2, seed=0)
    assert grid.shape == (20, 28, 28)
    assert not torch.allclose(grid[0], grid[2])


def test_interpolations_start_and_end_where_they_should():
    model = tiny("cvae1")
    noise = np.full(4, 0.5, dtype=np.float32)
    frames = model.interpolate_labels(2, 9, noise, frames=5)
    assert torch.allclose(frames[0], model.draw(2, noise), atol=1e-6) and torch.allclose(frames[-1], model.draw(9, noise), atol=1e-6)
    styles = model.interpolate_styles(4, seed=1, frames=6)
    z0, z1 = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(styles[0], model.draw(4, z0.numpy()), atol=1e-6)
    assert torch.allclose(styles[-1], model.draw(4, z1.numpy()), atol=1e-6)


def test_only_models_with_a_prior_per_label_offer_one():
    for variant in ("cvae1", "cvae4"):
        mu, sigma = tiny(variant).label_priors()
        assert mu.shape == sigma.shape == (10, 4) and (sigma > 0).all()
    for variant in ("vae", "cvae2", "m2"):
        assert tiny(variant).label_priors() is None


def test_reading_and_redrawing_one_digit(held_out):
    digit = held_out.images[0].view(28, 28).numpy()
    for variant in ("cvae1", "m2"):
        model = tiny(variant)
        probs = model.read_digit(digit)
        assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-5
        label, images = model.redraw_as_every_label(digit)
        assert label == int(probs.argmax()) and images.shape == (11, 28, 28)
        x = torch.as_tensor(digit).view(1, 784)
        assert torch.allclose(images[0], model.reconstruct(x, torch.tensor([label]))[0], atol=1e-6)


def test_the_decoded_plane_is_a_square_grid():
    assert tiny("cvae2", latent_dim=2).decoded_plane(3, steps=4, span=2.0).shape == (16, 28, 28)


def test_quadrant_view_greys_out_exactly_the_hidden_part(held_out):
    model = build_model(model_config(variant="cvae3", target="quadrants", given_quadrants=1, hidden=32), seed=0)
    x = held_out.images[:2]
    shown = model.visible_part(x).view(2, 784)
    mask = model.mask.bool()
    assert torch.equal(shown[:, mask], x[:, mask])
    assert torch.all(shown[:, ~mask] == 0.25)


def test_datasets_are_frozen_and_slice_into_new_ones(held_out):
    cached = load_dataset("mnist-5k", "val")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cached.images = cached.images[:10]
    part = cached.subset(10)
    assert len(part) == 10 and len(cached) == 500 and load_dataset("mnist-5k", "val") is cached
    relabelled = cached.with_labels(torch.zeros_like(cached.labels))
    assert int(relabelled.labels.sum()) == 0 and int(cached.labels.sum()) > 0
    assert cached.subset(None) is cached and cached.subset(10_000) is cached
    batches = list(cached.batches(64))
    assert sum(len(x) for x, _ in batches) == 500 and max(len(x) for x, _ in batches) == 64
    assert torch.equal(torch.cat([x for x, _ in batches]), cached.images)


def test_in_batches_keeps_rows_together():
    a, b = torch.arange(10), torch.arange(10) * 2
    pairs = list(in_batches(a, b, size=4))
    assert [len(x) for x, _ in pairs] == [4, 4, 2]
    assert all(torch.equal(y, x * 2) for x, y in pairs)
