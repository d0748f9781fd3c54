"""Network building blocks shared by the variants: an MLP and a small convolutional net.

Every block maps (input, condition) -> output. The condition (a one-hot label, or
nothing) is concatenated to the input of *every* layer, so that a decoder cannot
learn to ignore it cheaply -- this is what keeps conditional samples on their label.
"""

import torch
from torch import nn

IMAGE_SIDE = 28
IMAGE_DIM = IMAGE_SIDE * IMAGE_SIDE


class ConditionalMLP(nn.Module):
    """in_dim (+ cond_dim) -> hidden ... -> out_dim, the condition fed to every layer."""

    def __init__(self, in_dim: int, cond_dim: int, hidden: int, layers: int, out_dim: int):
        super().__init__()
        self.cond_dim = cond_dim
        dims = [in_dim] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(d + cond_dim, hidden) for d in dims[:-1])
        self.out = nn.Linear(dims[-1] + cond_dim, out_dim)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.hidden:
            h = self.act(layer(h if cond is None else torch.cat([h, cond], -1)))
        return self.out(h if cond is None else torch.cat([h, cond], -1))


class ConvEncoder(nn.Module):
    """28x28 image -> conv features -> ConditionalMLP(features, condition) -> out_dim."""

    def __init__(self, cond_dim: int, hidden: int, out_dim: int, in_channels: int = 1):
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, 4, 2, 1),
            nn.SiLU(),  # 14x14
            nn.Conv2d(32, 64, 4, 2, 1),
            nn.SiLU(),  # 7x7
            nn.Flatten(),
        )
        self.head = ConditionalMLP(64 * 7 * 7, cond_dim, hidden, 1, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(x.view(-1, self.in_channels, IMAGE_SIDE, IMAGE_SIDE))
        return self.head(h, cond)


class ConvDecoder(nn.Module):
    """(z, condition) -> ConditionalMLP -> 64x7x7 -> transposed convs -> 784 logits."""

    def __init__(self, in_dim: int, cond_dim: int, hidden: int):
        super().__init__()
        self.head = ConditionalMLP(in_dim, cond_dim, hidden, 1, 64 * 7 * 7)
        self.deconv = nn.Sequential(
            nn.SiLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1),
            nn.SiLU(),  # 14x14
            nn.ConvTranspose2d(32, 1, 4, 2, 1),  # 28x28
            nn.Flatten(),
        )

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.deconv(self.head(z, cond))


def image_encoder(arch: str, cond_dim: int, hidden: int, layers: int, out_dim: int, in_channels: int = 1) -> nn.Module:
    """A network reading a flat 784-pixel image (and a condition)."""
    if arch == "conv":
        return ConvEncoder(cond_dim, hidden, out_dim, in_channels)
    return ConditionalMLP(IMAGE_DIM * in_channels, cond_dim, hidden, layers, out_dim)


def image_decoder(arch: str, in_dim: int, cond_dim: int, hidden: int, layers: int) -> nn.Module:
    """A network writing 784 Bernoulli logits from a code (and a condition)."""
    if arch == "conv":
        return ConvDecoder(in_dim, cond_dim, hidden)
    return ConditionalMLP(in_dim, cond_dim, hidden, layers, IMAGE_DIM)
