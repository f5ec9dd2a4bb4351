"""The DCGAN networks of chapter 4: the generator, the discriminator, their initialisation and
a table of their layers. The game that trains them is in :mod:`noise2image.gan`, which also
exports everything here.

>>> from noise2image.gan import GANConfig
>>> G = Generator(GANConfig(dataset="mnist5k"))
>>> G(torch.randn(4, NZ), torch.arange(4)).shape
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NZ", "N_CLASSES", "Generator", "Discriminator", "init_weights", "layer_table"]

NZ = 100  # the length of the generator's noise vector
N_CLASSES = 10  # digit labels of the class-conditional GAN


def layer_table(net: nn.Module, inputs: tuple, what: str):
    """One row per block of ``net`` (a :class:`Generator` or :class:`Discriminator`): its
    layers, its output shape for ``inputs`` (``net(*inputs)``) and its weights, below a row
    for the input described as ``what``. The forward pass draws no random numbers."""
    import pandas as pd

    shapes = []
    hooks = [net.blocks.register_forward_pre_hook(lambda m, args: shapes.append(args[0].shape))]
    hooks += [
        block.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
        for block in net.blocks
    ]
    try:
        with torch.no_grad():
            net.eval()(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    rows = [("input", what, tuple(shapes[0]), 0)]
    for i, (block, shape) in enumerate(zip(net.blocks, shapes[1:], strict=True), start=1):
        layers = " · ".join(type(m).__name__ for m in list(block.children()) or [block])
        rows.append(
            (f"block {i}", layers, tuple(shape), sum(p.numel() for p in block.parameters()))
        )
    table = pd.DataFrame(rows, columns=["block", "layers", "output shape", "parameters"])
    return table.set_index("block").rename_axis(None).rename_axis("block", axis=1)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), bias 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _up(c_in: int, c_out: int, kernel: int = 4, stride: int = 2, padding: int = 1):
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    )


def _down(c_in: int, c_out: int, norm: bool = True):
    layers = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Noise (and label) to picture.

    * digits: ``(B, 100)`` [+ labels ``(B,)``] -> ``(B, 1, 28, 28)`` in [-1, 1]:
      1x1 -> 7x7 (ngf*4) -> 14x14 (ngf*2) -> 28x28 (1)
    * emoji: ``(B, 100)`` -> ``(B, 3, 64, 64)`` in [-1, 1]:
      1x1 -> 4x4 (ngf*8) -> 8x8 (ngf*4) -> 16x16 (ngf*2) -> 32x32 (ngf) -> 64x64 (3),
      the architecture of pytorch/examples' DCGAN.
    """

    def __init__(self, config):  # a noise2image.gan.GANConfig
        super().__init__()
        self.config = config
        ngf, n_in = config.ngf, NZ + config.n_classes
        if config.image_size == 28:
            self.blocks = nn.Sequential(
                _up(n_in, ngf * 4, 7, 1, 0),
                _up(ngf * 4, ngf * 2),
                nn.Sequential(nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh()),
            )
        else:
            self.blocks = nn.Sequential(
                _up(n_in, ngf * 8, 4, 1, 0),
                _up(ngf * 8, ngf * 4),
                _up(ngf * 4, ngf * 2),
                _up(ngf * 2, ngf),
                nn.Sequential(nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()),
            )
        self.apply(init_weights)

    def inputs(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 100)`` noise [+ one-hot labels] as the ``(B, C, 1, 1)`` input of block 1."""
        if self.config.n_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            z = torch.cat([z, F.one_hot(labels, self.config.n_classes).to(z)], dim=1)
        return z.view(z.shape[0], -1, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.blocks(self.inputs(z, labels))


class Discriminator(nn.Module):
    """Picture (and label) to one logit: high for "real".

    * digits: ``(B, 1, 28, 28)`` [+ labels as 10 constant planes] -> ``(B,)``:
      28x28 -> 14x14 (ndf) -> 7x7 (ndf*2) -> 1 logit
    * emoji: ``(B, 3, 64, 64)`` -> ``(B,)``: 64 -> 32 -> 16 -> 8 -> 4 -> 1, as pytorch/examples.
    """

    def __init__(self, config):  # a noise2image.gan.GANConfig
        super().__init__()
        self.config = config
        ndf, c_in = config.ndf, config.channels + config.n_classes
        if config.image_size == 28:
            self.blocks = nn.Sequential(
                _down(c_in, ndf, norm=False),
                _down(ndf, ndf * 2),
                nn.Conv2d(ndf * 2, 1, 7, 1, 0),
            )
        else:
            self.blocks = nn.Sequential(
                _down(c_in, ndf, norm=False),
                _down(ndf, ndf * 2),
                _down(ndf * 2, ndf * 4),
                _down(ndf * 4, ndf * 8),
                nn.Conv2d(ndf * 8, 1, 4, 1, 0),
            )
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.n_classes:
            planes = F.one_hot(labels, self.config.n_classes).to(images)
            planes = planes.view(*planes.shape, 1, 1).expand(-1, -1, *images.shape[-2:])
            images = torch.cat([images, planes], dim=1)
        return self.blocks(images).flatten()
