#!/usr/bin/env python3
"""Numpy reference of MogFace anchors, decoding and greedy NMS (shared/MOGFACE.md §3-§6).

The TypeScript detector (src/detectors/mogface-*.ts) must agree with this file; the
integration test runs both on the same raw outputs.

Library: ``anchors(h, w)``, ``decode(loc, anchors)``, ``nms(boxes, scores, thr)``,
``detect(conf, loc, h, w, ...)``.

CLI (boxes printed as JSON ``[{"box": [x1, y1, x2, y2], "score": s}, ...]``, best first)::

    python3 reference_decode.py --conf conf.npy --loc loc.npy --height H --width W \\
        [--score 0.82 --nms 0.4 --topk 5000 --keep 750 --index 0 --ss 1]
    python3 reference_decode.py --raw-json raw.json --height H --width W [...]

``--raw-json`` reads ``{"conf": {"dims": [N, A, 1], "data": [...]}, "loc": {"dims":
[N, A, 4], "data": [...]}}`` (flat row-major data, the shape of an onnxruntime tensor), so a
Node test needs no .npy writer. ``--index`` picks the image of the batch.

Departures from the reference, on purpose:
* ``--ss`` divides only the boxes; the reference also divides the scores (a defect, §1.5).
* Sorting is stable (ties keep anchor order); the reference's numpy argsort leaves the
  order of tied scores unspecified (§6), so any order is as faithful, and a fixed one
  makes the comparison with TypeScript exact.
* All arithmetic is float64; anchors skip the float32 corner round trip (an identity, §4).
"""
import argparse
import json
import sys
from typing import List, Sequence

import numpy as np

STRIDES = (4, 8, 16, 32, 64, 128)
BASES = (16, 32, 64, 128, 256, 512)
SCALE = 0.68


def level_sizes(height: int, width: int, strides: Sequence[int] = STRIDES) -> List[tuple]:
    """(h, w) per level: ceil-halve log2(stride) times."""
    out, h, w, s = [], height, width, 1
    for stride in strides:
        while s < stride:
            h, w, s = (h + 1) // 2, (w + 1) // 2, s * 2
        out.append((h, w))
    return out


def anchors(height: int, width: int, strides=STRIDES, bases=BASES, scale=SCALE) -> np.ndarray:
    """A x 4 float64 (cx, cy, w, h), levels in order, row-major within a level."""
    parts = []
    for (h, w), stride, base in zip(level_sizes(height, width, strides), strides, bases):
        ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        side = np.full(h * w, base * scale, dtype=np.float64)
        cx = (xs.reshape(-1) + 0.5) * stride
        cy = (ys.reshape(-1) + 0.5) * stride
        parts.append(np.stack([cx, cy, side, side], axis=1))
    return np.concatenate(parts, axis=0)


def decode(loc: np.ndarray, anc: np.ndarray) -> np.ndarray:
    """A x 4 deltas + A x 4 anchors -> A x 4 pixel-inclusive corners (no variances)."""
    loc = loc.astype(np.float64)
    cx = anc[:, 0] + loc[:, 0] * anc[:, 2]
    cy = anc[:, 1] + loc[:, 1] * anc[:, 3]
    w = anc[:, 2] * np.exp(loc[:, 2])
    h = anc[:, 3] * np.exp(loc[:, 3])
    x0 = cx - (w - 1) / 2
    y0 = cy - (h - 1) / 2
    return np.stack([x0, y0, x0 + w - 1, y0 + h - 1], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, keep: int) -> np.ndarray:
    """Greedy NMS, pixel-inclusive areas; suppress when IoU > threshold. Returns kept indices."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size > 0 and len(kept) < keep:
        i = order[0]
        kept.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        order = rest[iou <= threshold]
    return np.asarray(kept, dtype=np.int64)


def detect(conf, loc, height, width, score=0.82, nms_thr=0.4, topk=5000, keep=750, ss=1.0):
    """conf A (or A x 1), loc A x 4 for one image -> (boxes K x 4, scores K), best first."""
    scores = np.asarray(conf, dtype=np.float64).reshape(-1)
    loc = np.asarray(loc).reshape(-1, 4)
    anc = anchors(height, width)
    if scores.shape[0] != anc.shape[0] or loc.shape[0] != anc.shape[0]:
        raise ValueError(f"{height}x{width} has {anc.shape[0]} anchors; got conf {scores.shape[0]}, loc {loc.shape[0]}")
    idx = np.nonzero(scores > score)[0]
    idx = idx[np.argsort(-scores[idx], kind="stable")][:topk]
    boxes = decode(loc[idx], anc[idx])
    kept = nms(boxes, scores[idx], nms_thr, keep)
    return boxes[kept] / ss, scores[idx][kept]


def _load_raw_json(path: str, index: int):
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    out = []
    for name, last in (("conf", 1), ("loc", 4)):
        dims = raw[name]["dims"]
        arr = np.asarray(raw[name]["data"], dtype=np.float32).reshape(dims)
        if arr.ndim != 3 or arr.shape[2] != last:
            raise ValueError(f"{name}: expected N x A x {last}, got {list(arr.shape)}")
        out.append(arr[index])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--conf", help="conf .npy (N x A x 1 or A x 1 or A)")
    p.add_argument("--loc", help="loc .npy (N x A x 4 or A x 4)")
    p.add_argument("--raw-json", help="JSON with conf/loc {dims, data} instead of .npy")
    p.add_argument("--index", type=int, default=0, help="image of the batch")
    p.add_argument("--height", type=int, required=True, help="network input height (canvas)")
    p.add_argument("--width", type=int, required=True, help="network input width (canvas)")
    p.add_argument("--score", type=float, default=0.82)
    p.add_argument("--nms", type=float, default=0.4)
    p.add_argument("--topk", type=int, default=5000)
    p.add_argument("--keep", type=int, default=750)
    p.add_argument("--ss", type=float, default=1.0, help="shrink factor; divides boxes only")
    a = p.parse_args(argv)
    if a.raw_json:
        conf, loc = _load_raw_json(a.raw_json, a.index)
    elif a.conf and a.loc:
        conf, loc = np.load(a.conf), np.load(a.loc)
        if conf.ndim == 3:
            conf, loc = conf[a.index], loc[a.index]
    else:
        p.error("give --raw-json or both --conf and --loc")
    boxes, scores = detect(conf, loc, a.height, a.width, a.score, a.nms, a.topk, a.keep, a.ss)
    faces = [{"box": [float(v) for v in b], "score": float(s)} for b, s in zip(boxes, scores)]
    json.dump(faces, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
