#!/usr/bin/env python3
"""The plain-loop baseline of ``facefleet bench`` in Python: Pillow and onnxruntime, one image at a time.

One process, one image after another, no queue, no batching, no threads of its own: read the file,
open it with Pillow (the header: the probe), decode it with ``draft()`` (JPEG DCT scaling, Pillow's
shrink-on-load) to the size the canvas needs, turn it upright from its EXIF orientation, resize it
(Lanczos, as sharp's default kernel) and letterbox it onto the model's canvas (and cut the tiles of
a large photo from one decode at the tile scale, as the worker does); pack each canvas into a float
tensor with numpy; ``session.run`` with one intra-op thread and a batch of 1; decode the outputs to
boxes and scores (priors or anchors computed once, the repository's numpy reference decodes for
RetinaFace and MogFace, MediaPipe's weighted NMS for BlazeFace; no landmarks) and merge the tiles
with one NMS; write one JSON result per image.

Usage: ``python3 plain_loop.py JOB.json``. The job (written by tools/bench/plain-loop-python.ts)
names the model file, its input contract and decode settings, the photos with their letterbox and
tile plan (computed by the worker's own code, so both loops run the same canvases), the image count
and the results folder. Prints one JSON object: images, seconds, CPU ms per image in all and by
stage (``time.process_time``: every thread of the process), the machine's busy CPU ms over the same
window (``/proc/stat``, for the other-load share; null without procfs) and the library versions.
"""
import io
import json
import math
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import PIL
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _nms():
    """The repository's NumPy NMS (greedy, pixel-inclusive areas) from the MogFace reference decode,
    loaded under its own module name: both models' reference decodes are called reference_decode."""
    import importlib.util
    path = os.path.join(REPO, "models", "mogface", "reference_decode.py")
    spec = importlib.util.spec_from_file_location("facefleet_mogface_reference_decode", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.nms


nms = _nms()

STAGES = ("read", "probe", "decode", "pack", "inference", "outputs", "write")


def machine_busy_ms():
    """CPU ms every process of the machine has used since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + irq + softirq + steal) * 1000.0 / os.sysconf("SC_CLK_TCK")


def flatten_rgb(im, pad):
    """8-bit RGB, transparency flattened onto the pad colour (as the worker's sharp pipeline does)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        back = Image.new("RGB", rgba.size, pad)
        back.paste(rgba, mask=rgba.getchannel("A"))
        return back
    return im if im.mode == "RGB" else im.convert("RGB")


def on_canvas(im, width, height, left, top, pad):
    canvas = Image.new("RGB", (width, height), pad)
    canvas.paste(im, (left, top))
    return canvas


def decode_views(im, photo, contract):
    """The whole-image canvas and the tiles of one photo, from one draft decode."""
    cw, ch = contract["width"], contract["height"]
    pad = tuple(contract["padValue"])
    fit, plan = photo["fit"], photo["plan"]
    target = (plan["scaledWidth"], plan["scaledHeight"]) if plan else (fit["resizedWidth"], fit["resizedHeight"])
    # draft() takes the size in stored orientation: rotated photos are stored the other way round.
    stored = (target[1], target[0]) if photo["orientation"] in (5, 6, 7, 8) else target
    im.draft("RGB", stored)
    im = flatten_rgb(ImageOps.exif_transpose(im), pad)
    if not plan:
        resized = im.resize(target, Image.LANCZOS)
        return [on_canvas(resized, cw, ch, fit["padX"], fit["padY"], pad)]
    scaled = im.resize(target, Image.LANCZOS)
    tiles = [on_canvas(scaled.crop((t["x"], t["y"], min(t["x"] + cw, target[0]), min(t["y"] + ch, target[1]))), cw, ch, 0, 0, pad) for t in plan["tiles"]]
    whole = on_canvas(scaled.resize((fit["resizedWidth"], fit["resizedHeight"]), Image.LANCZOS), cw, ch, fit["padX"], fit["padY"], pad)
    return [whole] + tiles


def pack(canvas, contract):
    arr = np.asarray(canvas, dtype=np.uint8)
    if contract["colorOrder"] == "BGR":
        arr = arr[..., ::-1]
    x = (arr.astype(np.float32) - np.asarray(contract["mean"], np.float32)) / np.asarray(contract["std"], np.float32)
    if contract["layout"] == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None])


class RetinaFace:
    def __init__(self, contract, options):
        sys.path.insert(0, os.path.join(REPO, "models", "retinaface"))
        import reference_decode as rd  # noqa: E402 (the repository's numpy reference)
        self.rd, self.options = rd, options
        self.h, self.w = contract["height"], contract["width"]
        self.priors = rd.priors(self.h, self.w)
        self.scale = np.array([self.w, self.h, self.w, self.h], dtype=np.float64)

    def canvas_boxes(self, out):
        o = self.options
        scores = out["conf"][0][:, 1]
        idx = np.nonzero(scores > o["scoreThreshold"])[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")][: o["preNmsTopK"]]
        boxes = self.rd.decode(out["loc"][0][idx].astype(np.float64), self.priors[idx]) * self.scale
        kept = nms(boxes, scores[idx].astype(np.float64), o["iouThreshold"], o["maxDetections"])
        return boxes[kept], scores[idx][kept]


class MogFace:
    def __init__(self, contract, options):
        sys.path.insert(0, os.path.join(REPO, "models", "mogface"))
        import reference_decode as md  # noqa: E402
        self.md, self.options = md, options
        self.anchors = md.anchors(contract["height"], contract["width"])

    def canvas_boxes(self, out):
        o = self.options
        scores = out["conf"][0].reshape(-1).astype(np.float64)
        idx = np.nonzero(scores > o["scoreThreshold"])[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")][: o["preNmsTopK"]]
        boxes = self.md.decode(out["loc"][0].reshape(-1, 4)[idx], self.anchors[idx])
        kept = nms(boxes, scores[idx], o["iouThreshold"], o["maxDetections"])
        return boxes[kept], scores[idx][kept]


class BlazeFace:
    """MediaPipe's TensorsToDetections for the back-camera model: 512 anchors at stride 16, 384 at 32."""

    def __init__(self, contract, options):
        self.options, self.w, self.h = options, contract["width"], contract["height"]
        groups, centers = [], []
        for stride, per_cell in ((16, 2), (32, 6)):
            rows, cols = math.ceil(self.h / stride), math.ceil(self.w / stride)
            for y in range(rows):
                for x in range(cols):
                    centers.extend([((x + 0.5) / cols, (y + 0.5) / rows)] * per_cell)
            groups.append(rows * cols * per_cell)
        self.centers = np.asarray(centers, dtype=np.float64)
        self.groups = groups

    def canvas_boxes(self, out):
        o = self.options
        by_count = {}
        for name, value in out.items():
            by_count[(value.shape[1], value.shape[2])] = value[0]
        logits = np.concatenate([by_count[(n, 1)][:, 0] for n in self.groups])
        raw = np.concatenate([by_count[(n, 16)] for n in self.groups]).astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        idx = np.nonzero(scores >= o["scoreThreshold"])[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")][: o["preNmsTopK"]]
        c, r = self.centers[idx], raw[idx]
        cx, cy = (c[:, 0] + r[:, 0] / self.w) * self.w, (c[:, 1] + r[:, 1] / self.h) * self.h
        bw, bh = r[:, 2], r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        ok = (bw > 0) & (bh > 0)
        boxes, s = boxes[ok], scores[idx][ok]
        # Weighted NMS, as MediaPipe's: each kept box is the score-weighted mean of those it absorbs.
        order = np.argsort(-s, kind="stable")
        out_boxes, out_scores = [], []
        while order.size > 0 and len(out_boxes) < o["maxDetections"]:
            i = order[0]
            x1 = np.maximum(boxes[i, 0], boxes[order, 0])
            y1 = np.maximum(boxes[i, 1], boxes[order, 1])
            x2 = np.minimum(boxes[i, 2], boxes[order, 2])
            y2 = np.minimum(boxes[i, 3], boxes[order, 3])
            inter = np.maximum(0.0, x2 - x1) * np.maximum(0.0, y2 - y1)
            area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            iou = inter / (area(boxes[[i]]) + area(boxes[order]) - inter)
            group = order[iou > o["iouThreshold"]]
            weights = s[group][:, None]
            out_boxes.append((boxes[group] * weights).sum(axis=0) / weights.sum())
            out_scores.append(s[i])
            order = order[iou <= o["iouThreshold"]]
        return (np.asarray(out_boxes).reshape(-1, 4), np.asarray(out_scores))


DECODERS = {"retinaface": RetinaFace, "mogface": MogFace, "blazeface": BlazeFace}


def to_original(boxes, scale, pad_x, pad_y):
    return np.stack([(boxes[:, 0] - pad_x) / scale, (boxes[:, 1] - pad_y) / scale, (boxes[:, 2] - pad_x) / scale, (boxes[:, 3] - pad_y) / scale], axis=1)


def faces_of(decoder, outputs_per_view, photo, options):
    """Boxes of every view in original pixels, merged by one NMS when there are tiles."""
    fit, plan = photo["fit"], photo["plan"]
    all_boxes, all_scores = [], []
    for k, out in enumerate(outputs_per_view):
        boxes, scores = decoder.canvas_boxes(out)
        if k == 0:
            boxes = to_original(boxes, fit["scale"], fit["padX"], fit["padY"])
        else:
            t = plan["tiles"][k - 1]
            boxes = to_original(boxes, plan["scale"], -t["x"], -t["y"])
        all_boxes.append(boxes)
        all_scores.append(scores)
    boxes = np.concatenate(all_boxes)
    scores = np.concatenate(all_scores).astype(np.float64)
    if len(outputs_per_view) > 1 and len(scores) > 0:
        kept = nms(boxes, scores, options["iouThreshold"], options["maxDetections"])
        boxes, scores = boxes[kept], scores[kept]
    w, h = photo["width"], photo["height"]
    boxes = np.clip(boxes, 0, [w, h, w, h])
    return [{"box": b.tolist(), "score": float(s)} for b, s in zip(boxes, scores)]


def main(argv):
    with open(argv[1]) as f:
        job = json.load(f)
    contract, options = job["input"], job["decode"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    session = ort.InferenceSession(job["modelPath"], so, providers=["CPUExecutionProvider"])
    decoder = DECODERS[job["model"]["id"]](contract, options)
    photos = job["photos"]
    cpu = dict.fromkeys(STAGES, 0.0)
    wall = dict.fromkeys(STAGES, 0.0)

    def timed(stage, step):
        c0, t0 = time.process_time(), time.perf_counter()
        out = step()
        cpu[stage] += time.process_time() - c0
        wall[stage] += time.perf_counter() - t0
        return out

    def one(i, key):
        photo = photos[i % len(photos)]

        def read():
            with open(photo["file"], "rb") as f:
                return f.read()

        body = timed("read", read)
        im = timed("probe", lambda: Image.open(io.BytesIO(body)))
        views = timed("decode", lambda: decode_views(im, photo, contract))
        outputs = []
        for view in views:
            x = timed("pack", lambda: pack(view, contract))
            res = timed("inference", lambda: session.run(None, {contract["name"]: x}))
            outputs.append({o.name: v for o, v in zip(session.get_outputs(), res)})
        faces = timed("outputs", lambda: faces_of(decoder, outputs, photo, options))

        def write():
            result = {"key": key, "source": {"url": "file://" + photo["file"], "size": len(body)}, "model": job["model"],
                      "image": {"width": photo["width"], "height": photo["height"], "format": photo["format"]}, "faces": faces,
                      "worker": "bench-plain-loop-python", "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            with open(os.path.join(job["resultsDir"], key + ".json"), "w") as f:
                json.dump(result, f)

        timed("write", write)

    os.makedirs(job["resultsDir"], exist_ok=True)
    one(0, "warm")
    for s in STAGES:
        cpu[s] = wall[s] = 0.0
    count = job["count"]
    busy0, c0, t0 = machine_busy_ms(), time.process_time(), time.perf_counter()
    for i in range(count):
        one(i, "img-%07d" % i)
    seconds = time.perf_counter() - t0
    cpu_ms = (time.process_time() - c0) * 1000
    busy1 = machine_busy_ms()
    json.dump({
        "images": count,
        "seconds": seconds,
        "cpuMsPerImage": cpu_ms / count,
        "machineBusyMs": None if busy0 is None or busy1 is None else busy1 - busy0,
        "cpuMs": cpu_ms,
        "stageCpuMs": {s: cpu[s] * 1000 / count for s in STAGES},
        "stageWallMs": {s: wall[s] * 1000 / count for s in STAGES},
        "versions": {"python": sys.version.split()[0], "pillow": PIL.__version__, "numpy": np.__version__, "onnxruntime": ort.__version__},
    }, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
