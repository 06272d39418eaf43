#!/usr/bin/env python3
"""Numpy reference of RetinaFace (MobileNet-0.25) prior boxes, decoding and NMS.

Written from the reference repository biubug6/Pytorch_Retinaface: priors as
``layers/functions/prior_box.py`` builds them (canvas fractions), boxes and landmarks
as ``decode`` / ``decode_landm`` in ``utils/box_utils.py``, then scaled to canvas pixels,
and the post-processing order of ``detect.py``: score threshold, top-k, the greedy NMS of
``utils/nms/py_cpu_nms.py`` (areas counted with +1), keep the first ``keep``.

The TypeScript detector (src/detectors/retinaface-detector.ts) decodes in canvas pixels
directly; the integration test runs both on the same raw outputs.

CLI (faces printed as JSON ``[{"box": [...], "score": s, "landmarks": [[x, y] x 5]}]``)::

    python3 reference_decode.py --raw DIR --height H --width W \\
        [--score 0.7 --nms 0.4 --topk 5000 --keep 750 --index 0]

``DIR`` holds ``raw.json`` (``{"loc": {"dims": [N, P, 4], "file": "loc.f32"}, ...}``)
and the little-endian float32 files it names.

Departure, on purpose: sorting is stable (ties keep prior order), where numpy's default
argsort leaves tied scores in an unspecified order; a fixed order makes the comparison exact.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCES = (0.1, 0.2)


def priors(height, width, steps=STEPS, min_sizes=MIN_SIZES):
    """P x 4 float64 (cx, cy, w, h) in canvas fractions, in the reference's loop order."""
    out = []
    for step, sizes in zip(steps, min_sizes):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        for i in range(fh):
            for j in range(fw):
                for size in sizes:
                    out.append(((j + 0.5) * step / width, (i + 0.5) * step / height, size / width, size / height))
    return np.array(out, dtype=np.float64)


def decode(loc, pri, variances=VARIANCES):
    boxes = np.concatenate((pri[:, :2] + loc[:, :2] * variances[0] * pri[:, 2:],
                            pri[:, 2:] * np.exp(loc[:, 2:] * variances[1])), axis=1)
    boxes[:, :2] -= boxes[:, 2:] / 2
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def decode_landmarks(pre, pri, variances=VARIANCES):
    return np.concatenate([pri[:, :2] + pre[:, 2 * k:2 * k + 2] * variances[0] * pri[:, 2:] for k in range(5)], axis=1)


def nms(dets, thresh):
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.arange(len(scores))  # already sorted best first
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


def detect(loc, conf, landms, height, width, score=0.7, nms_thr=0.4, topk=5000, keep=750):
    """Faces of one image: loc P x 4, conf P x 2, landms P x 10, all float64."""
    pri = priors(height, width)
    scale = np.array([width, height, width, height], dtype=np.float64)
    boxes = decode(loc, pri) * scale
    lms = decode_landmarks(landms, pri) * np.tile([width, height], 5)
    scores = conf[:, 1]
    inds = np.where(scores > score)[0]
    boxes, lms, scores = boxes[inds], lms[inds], scores[inds]
    order = np.argsort(-scores, kind="stable")[:topk]
    boxes, lms, scores = boxes[order], lms[order], scores[order]
    dets = np.hstack((boxes, scores[:, None]))
    kept = nms(dets, nms_thr)[:keep]
    return [{"box": boxes[k].tolist(), "score": float(scores[k]), "landmarks": lms[k].reshape(5, 2).tolist()} for k in kept]


def read_raw(folder):
    with open(os.path.join(folder, "raw.json")) as f:
        index = json.load(f)
    out = {}
    for name, entry in index.items():
        data = np.fromfile(os.path.join(folder, entry["file"]), dtype="<f4").astype(np.float64)
        out[name] = data.reshape(entry["dims"])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--score", type=float, default=0.7)
    p.add_argument("--nms", type=float, default=0.4)
    p.add_argument("--topk", type=int, default=5000)
    p.add_argument("--keep", type=int, default=750)
    p.add_argument("--index", type=int, default=0)
    a = p.parse_args(argv)
    raw = read_raw(a.raw)
    i = a.index
    faces = detect(raw["loc"][i], raw["conf"][i], raw["landmarks"][i], a.height, a.width, a.score, a.nms, a.topk, a.keep)
    json.dump(faces, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
