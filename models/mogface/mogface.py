"""MogFace (ResNet-101 + LFPN + MogPredNet), written from shared/MOGFACE.md.

Parameter names follow the spec's §7 so that the official ModelScope checkpoint
(`pytorch_model.pt`) loads with ``strict=True`` and no key remapping:
``backbone.*`` (torchvision ResNet names), ``fpn.*`` and ``pred_net.*``.

Two variants share the exact module tree and output contract:

* ``full``: ResNet-101 (3-4-23-3), 256-channel pyramid, 512-channel heads.
* ``tiny``: 1-1-1-1 blocks and every width divided by 8; for tests only.

Output: ``conf`` N x A x 1 (sigmoid applied here) and ``loc`` N x A x 4 (raw
deltas), levels concatenated in the order P2, P3, P4, c5_lat, c6_lat, c7_lat
(strides 4..128), one anchor per position, row-major within a level.
"""
from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

STRIDES = (4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class MogFaceConfig:
    """Depths and widths of one variant."""

    depths: Tuple[int, int, int, int]
    stem: int  # backbone stem width; stage planes are stem * (1, 2, 4, 8)
    fpn: int  # pyramid width (256 in the full model)
    c6: int  # fpn.c6 width (512)
    c7_mid: int  # fpn.c7 1x1 width (128)
    head: int  # SSH output and deep-head width (512 = 2 * fpn)
    gn_groups: int = 16


VARIANTS = {
    "full": MogFaceConfig((3, 4, 23, 3), 64, 256, 512, 128, 512),
    "tiny": MogFaceConfig((1, 1, 1, 1), 8, 32, 64, 16, 64),
}


def conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=bias)


class Bottleneck(nn.Module):
    """torchvision ResNet v1.5 bottleneck: the stride sits on the 3x3 conv."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Backbone returning C2..C5 (strides 4, 8, 16, 32)."""

    def __init__(self, cfg: MogFaceConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(3, cfg.stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(cfg.stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = cfg.stem
        for i, depth in enumerate(cfg.depths):
            planes = cfg.stem * (2 ** i)
            blocks = []
            for b in range(depth):
                blocks.append(Bottleneck(cin, planes, stride=2 if (b == 0 and i > 0) else 1))
                cin = planes * Bottleneck.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = [cfg.stem * (2 ** i) * Bottleneck.expansion for i in range(4)]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]


class FeatureFusion(nn.Module):
    """Top-down fusion: main_conv(lower) + crop(upsample2x(upper))."""

    def __init__(self, lower_channels: int, width: int):
        super().__init__()
        self.main_conv = nn.Conv2d(lower_channels, width, 1)

    def forward(self, upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        lateral = self.main_conv(lower)
        up = F.interpolate(upper, scale_factor=2.0, mode="bilinear", align_corners=False)
        # Ceil-halving makes 2x the upper level one pixel larger than the lower one on odd sizes.
        up = up[:, :, : lateral.shape[2], : lateral.shape[3]]
        return lateral + up


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class LFPN(nn.Module):
    """Pyramid [P2, P3, P4, c5_lat(C5), c6_lat(c6), c7_lat(c7)], all `fpn` channels."""

    def __init__(self, cfg: MogFaceConfig, c: List[int]):
        super().__init__()
        w = cfg.fpn
        self.c6 = nn.Sequential(*conv_bn_relu(c[3], cfg.c6, 1), *conv_bn_relu(cfg.c6, cfg.c6, 3, 2))
        self.c7 = nn.Sequential(*conv_bn_relu(cfg.c6, cfg.c7_mid, 1), *conv_bn_relu(cfg.c7_mid, w, 3, 2))
        self.c5_lat = conv3x3(c[3], w)
        self.c6_lat = conv3x3(cfg.c6, w)
        self.c7_lat = conv3x3(w, w)
        self.ff_c5_c4 = FeatureFusion(c[2], w)
        self.ff_c4_c3 = FeatureFusion(c[1], w)
        self.ff_c3_c2 = FeatureFusion(c[0], w)
        self.p2_lat = conv3x3(w, w)
        self.p3_lat = conv3x3(w, w)
        self.p4_lat = conv3x3(w, w)
        # Unused by detection; present so the official checkpoint loads strictly. The spec gives
        # no shapes: assumed one 3x3 conv (with bias) per pyramid level, width -> width. The
        # loader re-shapes them from the checkpoint if it disagrees (see checkpoint.py).
        self.dsfd_modules = nn.ModuleList([conv3x3(w, w) for _ in range(6)])

    def forward(self, feats: List[torch.Tensor]) -> List[torch.Tensor]:
        c2, c3, c4, c5 = feats
        c6 = self.c6(c5)
        c7 = self.c7(c6)
        c5_lat = self.c5_lat(c5)
        p4 = self.ff_c5_c4(c5_lat, c4)
        p3 = self.ff_c4_c3(p4, c3)
        p2 = self.ff_c3_c2(p3, c2)
        return [self.p2_lat(p2), self.p3_lat(p3), self.p4_lat(p4), c5_lat, self.c6_lat(c6), self.c7_lat(c7)]


class SSH(nn.Module):
    """Context module: concat(A, B->conv2_1, B->conv2_2->conv2_2_1), `2 * width` channels."""

    def __init__(self, width: int):
        super().__init__()
        half = width // 2
        self.conv1 = conv3x3(width, width)
        self.conv2 = conv3x3(width, half, dilation=2)
        self.conv2_1 = conv3x3(half, half)
        self.conv2_2 = conv3x3(half, half, dilation=2)
        self.conv2_2_1 = conv3x3(half, half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.conv1(x))
        b = F.relu(self.conv2(x))
        b1 = F.relu(self.conv2_1(b))
        b2 = F.relu(self.conv2_2_1(F.relu(self.conv2_2(b))))
        return torch.cat([a, b1, b2], dim=1)


class DeepHead(nn.Module):
    """Four conv+GN+ReLU stages; the reference applies `conv1` in all four (conv2..4 unused)."""

    def __init__(self, width: int, groups: int):
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"conv{i}", conv3x3(width, width))
            setattr(self, f"gn{i}", nn.GroupNorm(groups, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for gn in (self.gn1, self.gn2, self.gn3, self.gn4):
            x = F.relu(gn(self.conv1(x)))
        return x


class MogPredNet(nn.Module):
    """Head shared by all six levels."""

    def __init__(self, cfg: MogFaceConfig):
        super().__init__()
        self.conv_SSH = SSH(cfg.fpn)
        self.deep_cls_head = DeepHead(cfg.head, cfg.gn_groups)
        self.deep_loc_head = DeepHead(cfg.head, cfg.gn_groups)
        self.pred_cls = conv3x3(cfg.head, 1)
        self.pred_loc = conv3x3(cfg.head, 4)

    def forward(self, levels: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        confs, locs = [], []
        for feat in levels:
            x = self.conv_SSH(feat)
            cls = self.pred_cls(self.deep_cls_head(x))
            loc = self.pred_loc(self.deep_loc_head(x))
            n = cls.shape[0]
            confs.append(cls.permute(0, 2, 3, 1).reshape(n, -1, 1))
            locs.append(loc.permute(0, 2, 3, 1).reshape(n, -1, 4))
        return torch.sigmoid(torch.cat(confs, dim=1)), torch.cat(locs, dim=1)


class MogFace(nn.Module):
    """The whole detector network: normalised NCHW RGB in, (conf, loc) out."""

    def __init__(self, variant: str = "full"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        self.variant = variant
        cfg = VARIANTS[variant]
        self.backbone = ResNet(cfg)
        self.fpn = LFPN(cfg, self.backbone.out_channels)
        self.pred_net = MogPredNet(cfg)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.pred_net(self.fpn(self.backbone(x)))


def level_sizes(height: int, width: int) -> List[Tuple[int, int]]:
    """Per-level (h, w) by ceil-halving log2(stride) times (spec §3)."""
    sizes, h, w, s = [], height, width, 1
    for stride in STRIDES:
        while s < stride:
            h, w, s = (h + 1) // 2, (w + 1) // 2, s * 2
        sizes.append((h, w))
    return sizes


def anchor_count(height: int, width: int) -> int:
    """A = sum of h*w over the six levels."""
    return sum(h * w for h, w in level_sizes(height, width))
