"""Loading a MogFace checkpoint into `mogface.MogFace`, strictly.

Key mapping (spec §7): the official ModelScope file ``pytorch_model.pt`` uses the
module layout of this package with no renaming, so keys map one to one:

* ``backbone.*``  -> ResNet-101 (torchvision names: conv1, bn1, layer1..4.N.{conv1,bn1,
  conv2,bn2,conv3,bn3,downsample.0,downsample.1}); there is no ``backbone.fc``.
* ``fpn.*``       -> LFPN (c6.{0,1,3,4}, c7.{0,1,3,4}, c5_lat, c6_lat, c7_lat,
  ff_c*_c*.main_conv, p2_lat..p4_lat, dsfd_modules.0..5).
* ``pred_net.*``  -> MogPredNet (conv_SSH.*, deep_cls_head.*, deep_loc_head.*, pred_cls, pred_loc).

The only transformations applied before loading: a top-level ``state_dict`` or
``model`` entry is unwrapped (repeatedly, e.g. ``{"model": {"state_dict": ...}}``),
and a ``module.`` prefix (DataParallel / DistributedDataParallel) is stripped.

Unlike the reference (``strict=False``, which silently keeps random weights for any
key it does not find), every missing key, unexpected key and shape mismatch is
reported and loading fails. One exception: ``fpn.dsfd_modules.*`` are not used by
detection and the spec does not give their shapes, so when only their shapes differ
they are rebuilt from the checkpoint (reported in the result), never guessed silently.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import torch
from torch import nn

from mogface import MogFace

DSFD_PREFIX = "fpn.dsfd_modules."


class CheckpointMismatch(ValueError):
    """The checkpoint does not fit the network; the message lists every problem."""

    def __init__(self, missing: List[str], unexpected: List[str], shapes: List[Tuple[str, tuple, tuple]]):
        self.missing, self.unexpected, self.shapes = missing, unexpected, shapes
        lines = ["checkpoint does not match the MogFace network:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
        for key, want, got in shapes:
            lines.append(f"  shape mismatch {key}: network {list(want)}, checkpoint {list(got)}")
        super().__init__("\n".join(lines))


@dataclass
class LoadReport:
    """What loading changed or noticed besides copying tensors."""

    unwrapped: List[str] = field(default_factory=list)
    stripped_module_prefix: bool = False
    rebuilt: List[str] = field(default_factory=list)


def extract_state_dict(obj: object, report: LoadReport) -> Dict[str, torch.Tensor]:
    """Unwraps ``state_dict``/``model`` entries and strips a ``module.`` prefix."""
    while isinstance(obj, Mapping) or isinstance(obj, nn.Module):
        if isinstance(obj, nn.Module):
            report.unwrapped.append("<nn.Module>")
            obj = obj.state_dict()
            continue
        inner = next((k for k in ("state_dict", "model") if k in obj), None)
        if inner is None or all(torch.is_tensor(v) for v in obj.values()):
            break
        report.unwrapped.append(inner)
        obj = obj[inner]
    if not isinstance(obj, Mapping):
        raise CheckpointMismatch([], [f"<not a state dict: {type(obj).__name__}>"], [])
    state = {str(k): v for k, v in obj.items() if torch.is_tensor(v)}
    if state and all(k.startswith("module.") for k in state):
        report.stripped_module_prefix = True
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _rebuild_dsfd(model: MogFace, state: Mapping[str, torch.Tensor], report: LoadReport) -> None:
    """Re-shapes the unused dsfd convs to the checkpoint's shapes (only when plain conv keys)."""
    for i, conv in enumerate(model.fpn.dsfd_modules):
        weight = state.get(f"{DSFD_PREFIX}{i}.weight")
        if not isinstance(conv, nn.Conv2d) or weight is None or weight.dim() != 4:
            continue
        if tuple(weight.shape) == tuple(conv.weight.shape):
            continue
        cout, cin, kh, kw = weight.shape
        has_bias = f"{DSFD_PREFIX}{i}.bias" in state
        model.fpn.dsfd_modules[i] = nn.Conv2d(cin, cout, (kh, kw), padding=(kh // 2, kw // 2), bias=has_bias)
        report.rebuilt.append(f"{DSFD_PREFIX}{i}: {list(conv.weight.shape)} -> {list(weight.shape)}")


def load_into(model: MogFace, checkpoint: object) -> LoadReport:
    """Loads an already-read checkpoint object into ``model`` strictly; raises CheckpointMismatch."""
    report = LoadReport()
    state = extract_state_dict(checkpoint, report)
    _rebuild_dsfd(model, state, report)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    shapes = [
        (k, tuple(own[k].shape), tuple(state[k].shape))
        for k in sorted(own)
        if k in state and tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if missing or unexpected or shapes:
        raise CheckpointMismatch(missing, unexpected, shapes)
    model.load_state_dict(state, strict=True)
    return report


def load_checkpoint(path: str, variant: str = "full", allow_pickle: bool = False) -> Tuple[MogFace, LoadReport]:
    """Reads ``path`` on the CPU and returns the loaded network in eval mode.

    Tensors-only loading (``weights_only=True``) is tried first; a file that needs arbitrary
    unpickling (e.g. a whole pickled module) is refused unless ``allow_pickle`` is set, since
    unpickling runs code from the file.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises UnpicklingError/RuntimeError variously
        if not allow_pickle:
            raise ValueError(
                f"{path}: not loadable as tensors only ({err}); pass --allow-pickle if you trust the file"
            ) from err
        obj = torch.load(path, map_location="cpu", weights_only=False)
    model = MogFace(variant)
    report = load_into(model, obj)
    return model.eval(), report
