"""Tests of the MogFace network, checkpoint loader and numpy reference decoder.

Run: /usr/bin/python3 -m pytest models/mogface   (needs torch, numpy, pytest)
"""
import io
import json
import math
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch

import reference_decode as ref
from checkpoint import CheckpointMismatch, load_checkpoint, load_into
from mogface import MogFace, anchor_count


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(3)
    return MogFace("tiny").eval()


@pytest.mark.parametrize("n,h,w", [(1, 64, 64), (2, 97, 130)])
def test_tiny_output_shapes_follow_anchor_formula(tiny, n, h, w):
    with torch.no_grad():
        conf, loc = tiny(torch.randn(n, 3, h, w))
    a = anchor_count(h, w)
    assert conf.shape == (n, a, 1) and loc.shape == (n, a, 4)
    assert a == ref.anchors(h, w).shape[0]
    assert float(conf.min()) >= 0.0 and float(conf.max()) <= 1.0  # sigmoid inside the network


def test_anchor_count_examples():
    assert anchor_count(640, 640) == 34125
    assert anchor_count(321, 479) == 13035


def test_full_model_names_follow_the_spec():
    keys = MogFace("full").state_dict()
    for key in ["backbone.layer3.22.conv3.weight", "backbone.layer4.0.downsample.1.running_var",
                "fpn.c6.3.weight", "fpn.c7.4.num_batches_tracked", "fpn.ff_c3_c2.main_conv.bias",
                "fpn.dsfd_modules.5.weight", "pred_net.conv_SSH.conv2_2_1.bias",
                "pred_net.deep_loc_head.conv4.weight", "pred_net.deep_cls_head.gn4.bias"]:
        assert key in keys, key
    assert not any(k.startswith("backbone.fc") for k in keys)
    assert keys["pred_net.deep_cls_head.conv1.weight"].shape == (512, 512, 3, 3)
    assert keys["pred_net.pred_loc.weight"].shape == (4, 512, 3, 3)
    assert keys["fpn.c7.3.weight"].shape == (256, 128, 3, 3)
    assert keys["fpn.c5_lat.weight"].shape == (256, 2048, 3, 3)


def _outputs(model, x):
    with torch.no_grad():
        return model(x)


def test_state_dict_round_trip_strict(tiny, tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save(tiny.state_dict(), path)
    loaded, report = load_checkpoint(str(path), "tiny")
    x = torch.randn(1, 3, 64, 96)
    for a, b in zip(_outputs(tiny, x), _outputs(loaded, x)):
        assert torch.equal(a, b)
    assert not report.unwrapped and not report.stripped_module_prefix and not report.rebuilt


def test_wrapped_and_module_prefixed_checkpoint_loads(tiny, tmp_path):
    wrapped = {"iteration": 140000, "model": {"state_dict": {f"module.{k}": v for k, v in tiny.state_dict().items()}}}
    path = tmp_path / "wrapped.pt"
    torch.save(wrapped, path)
    loaded, report = load_checkpoint(str(path), "tiny")
    assert report.unwrapped == ["model", "state_dict"] and report.stripped_module_prefix
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(_outputs(tiny, x)[0], _outputs(loaded, x)[0])


def test_missing_unexpected_and_misshapen_keys_are_listed(tiny):
    state = dict(tiny.state_dict())
    del state["pred_net.pred_cls.bias"]
    state["fpn.extra.weight"] = torch.zeros(1)
    state["fpn.p2_lat.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointMismatch) as info:
        load_into(MogFace("tiny"), state)
    err = info.value
    assert err.missing == ["pred_net.pred_cls.bias"] and err.unexpected == ["fpn.extra.weight"]
    assert [s[0] for s in err.shapes] == ["fpn.p2_lat.bias"]
    assert "missing keys (1): pred_net.pred_cls.bias" in str(err)
    assert "shape mismatch fpn.p2_lat.bias: network [32], checkpoint [7]" in str(err)


def test_unused_dsfd_convs_are_rebuilt_from_the_checkpoint(tiny):
    state = dict(tiny.state_dict())
    state["fpn.dsfd_modules.0.weight"] = torch.zeros(8, 32, 1, 1)
    state["fpn.dsfd_modules.0.bias"] = torch.zeros(8)
    model = MogFace("tiny")
    report = load_into(model, state)
    assert report.rebuilt == ["fpn.dsfd_modules.0: [32, 32, 3, 3] -> [8, 32, 1, 1]"]
    assert model.fpn.dsfd_modules[0].weight.shape == (8, 32, 1, 1)


def test_reference_decode_one_anchor():
    h = w = 64
    a = anchor_count(h, w)
    conf, loc = np.zeros(a, np.float32), np.zeros((a, 4), np.float32)
    k = 256 + 2 * 8 + 3  # stride 8, row 2, column 3: anchor (28, 20, 21.76, 21.76)
    conf[k], loc[k] = 0.9, [0.1, -0.2, math.log(2), 0]
    boxes, scores = ref.detect(conf, loc, h, w, score=0.5)
    assert boxes.shape == (1, 4)
    np.testing.assert_allclose(boxes[0], [8.916, 5.268, 51.436, 26.028], atol=1e-5)
    assert scores[0] == pytest.approx(0.9, abs=1e-7)
    boxes_ss, _ = ref.detect(conf, loc, h, w, score=0.5, ss=0.5)
    np.testing.assert_allclose(boxes_ss, boxes / 0.5)


def test_reference_threshold_topk_and_inclusive_nms():
    a = anchor_count(64, 64)
    conf, loc = np.zeros(a, np.float32), np.zeros((a, 4), np.float32)
    conf[0], conf[1] = 0.9, 0.8
    loc[1, 0] = 0.5 / 10.88  # neighbours 4.5 px apart: inclusive IoU 0.4148
    conf[10], conf[15] = 0.5, 0.7
    boxes, scores = ref.detect(conf, loc, 64, 64, score=0.5, nms_thr=0.4)
    np.testing.assert_allclose(scores, np.float32([0.9, 0.7]))
    _, scores = ref.detect(conf, loc, 64, 64, score=0.5, nms_thr=0.42)
    assert len(scores) == 3
    _, scores = ref.detect(conf, loc, 64, 64, score=0.0, nms_thr=0.42, topk=2)
    np.testing.assert_allclose(scores, np.float32([0.9, 0.8]))


def test_reference_cli_reads_raw_json(tmp_path):
    a = anchor_count(64, 64)
    conf = np.zeros((2, a, 1), np.float32)
    loc = np.zeros((2, a, 4), np.float32)
    conf[1, 300, 0] = 0.95
    raw = {"conf": {"dims": list(conf.shape), "data": conf.ravel().tolist()},
           "loc": {"dims": list(loc.shape), "data": loc.ravel().tolist()}}
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(raw))
    out = io.StringIO()
    with redirect_stdout(out):
        ref.main(["--raw-json", str(path), "--height", "64", "--width", "64", "--index", "1"])
    faces = json.loads(out.getvalue())
    assert len(faces) == 1 and faces[0]["score"] == pytest.approx(0.95, abs=1e-7)
    assert len(faces[0]["box"]) == 4
