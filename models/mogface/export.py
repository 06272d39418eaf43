#!/usr/bin/env python3
"""Exports MogFace to ONNX and writes its model manifest beside it.

    python3 models/mogface/export.py --checkpoint pytorch_model.pt --output mogface.onnx
    python3 models/mogface/export.py --random-init --seed 1 --variant tiny --output t.onnx

Input ``input``: float32 N x 3 x H x W, RGB, ``(v - mean) / std`` on 0-255 values with the
manifest's mean/std (batch, height and width dynamic). Outputs ``conf`` N x A x 1 (sigmoid)
and ``loc`` N x A x 4. The manifest goes to ``<output>.manifest.json``.
"""
import argparse
import hashlib
import inspect
import json
import os
import sys
import time
import warnings

import torch

from mogface import MogFace, STRIDES, anchor_count

# Spec §1: BGR mean [103.53, 116.28, 123.675], std [57.375, 57.12, 58.395], then a further /255.
# In RGB order for 0-255 values that is (v - mean_rgb) / (std_rgb * 255).
MEAN_RGB = [123.675, 116.28, 103.53]
STD_RGB = [58.395 * 255, 57.12 * 255, 57.375 * 255]
BASES = [16, 32, 64, 128, 256, 512]
RANDOM_NOTE = "random-init: not a detector"
LICENSE_NOTE = (
    "Network code: this repository (Apache-2.0). Weights: the ModelScope model "
    "damo/cv_resnet101_face-detection_cvpr22papermogface; see its model card for their licence."
)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(args, onnx_name: str, onnx_sha: str, version: str, has_onnx_meta: bool) -> dict:
    notes = [RANDOM_NOTE] if args.random_init else []
    if not has_onnx_meta:
        notes.append("python package onnx missing: metadata written to this manifest only")
    return {
        "schemaVersion": 1,
        "id": "mogface",
        "version": version,
        "variant": args.variant,
        "randomInit": bool(args.random_init),
        "notes": notes,
        "file": onnx_name,
        "sha256": onnx_sha,
        "opset": args.opset,
        "source": {"checkpoint": None if args.random_init else os.path.basename(args.checkpoint),
                   "seed": args.seed if args.random_init else None},
        "license": LICENSE_NOTE,
        "input": {
            "name": "input", "dtype": "float32", "layout": "NCHW", "colorOrder": "RGB",
            "shape": ["batch", 3, "height", "width"], "dynamicAxes": ["batch", "height", "width"],
            "mean": MEAN_RGB, "std": STD_RGB, "valueRange": [0, 255], "defaultCanvas": 640,
        },
        "anchors": {"strides": list(STRIDES), "bases": BASES, "scale": 0.68, "perPosition": 1},
        "outputs": [
            {"name": "conf", "shape": ["batch", "anchors", 1], "activation": "sigmoid"},
            {"name": "loc", "shape": ["batch", "anchors", 4], "activation": "none"},
        ],
        "decode": {"scoreThreshold": 0.82, "iouThreshold": 0.4, "preNmsTopK": 5000,
                   "maxDetections": 750, "pixelInclusive": True, "variances": None},
    }


OUTPUT_SHAPES = {"conf": ("batch", "anchors", 1), "loc": ("batch", "anchors", 4)}


def write_onnx_metadata(path: str, props: dict) -> bool:
    """Adds metadata_props and fixes the declared output shapes when `onnx` is importable.

    The exporter declares the last output dims as symbols (the reshape target is computed from
    the dynamic batch), so they are set to 1 and 4 here. Returns whether `onnx` was available.
    """
    try:
        import onnx  # noqa: PLC0415 - optional dependency
    except ImportError:
        return False
    model = onnx.load(path)
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        for dim, want in zip(dims, OUTPUT_SHAPES[out.name]):
            if isinstance(want, int):
                dim.dim_value = want
            else:
                dim.dim_param = want
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return True


def export(model: MogFace, output: str, opset: int) -> None:
    kwargs = dict(
        input_names=["input"], output_names=["conf", "loc"], opset_version=opset, do_constant_folding=True,
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                      "conf": {0: "batch", 1: "anchors"}, "loc": {0: "batch", 1: "anchors"}},
    )
    # PyTorch >= 2.9 defaults to the dynamo exporter, which takes dynamic_shapes instead.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    # An odd, non-square trace input keeps the crop after upsampling in the traced graph.
    dummy = torch.zeros(1, 3, 200, 328)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), output, **kwargs)


def verify(model: MogFace, output: str) -> list:
    """Checks output shapes against the anchor formula, with onnxruntime if present, else torch."""
    sizes = [(1, 160, 160), (2, 96, 136), (1, 131, 77)]
    try:
        import onnxruntime as ort  # noqa: PLC0415
        sess = ort.InferenceSession(output, providers=["CPUExecutionProvider"])
        run, engine = (lambda x: sess.run(["conf", "loc"], {"input": x.numpy()})), "onnxruntime"
    except ImportError:
        run, engine = (lambda x: [t.numpy() for t in model(x)]), "torch (onnxruntime not installed)"
    results = []
    with torch.no_grad():
        for n, h, w in sizes:
            conf, loc = run(torch.rand(n, 3, h, w))
            want = anchor_count(h, w)
            ok = tuple(conf.shape) == (n, want, 1) and tuple(loc.shape) == (n, want, 4)
            results.append({"engine": engine, "input": [n, 3, h, w], "conf": list(conf.shape),
                            "loc": list(loc.shape), "anchors": want, "ok": ok})
            if not ok:
                raise SystemExit(f"verify failed: {results[-1]}")
    return results


def write_sample(model: MogFace, prefix: str, seed: int) -> dict:
    """Writes a seeded 2 x 3 x 150 x 246 input and PyTorch's outputs for it as raw float32 files.

    ``<prefix>.json`` lists each tensor's dims and file (``<prefix>.<name>.f32``, little-endian),
    so another runtime can be checked against PyTorch. 150 x 246 is not a multiple of 32: the
    crop after upsampling runs at several levels, at a size other than the traced one.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 150, 246, generator=gen)
    with torch.no_grad():
        conf, loc = model(x)
    index = {}
    for name, t in (("input", x), ("conf", conf), ("loc", loc)):
        path = f"{prefix}.{name}.f32"
        t.contiguous().numpy().astype("<f4").tofile(path)
        index[name] = {"dims": list(t.shape), "file": os.path.basename(path)}
    with open(prefix + ".json", "w", encoding="utf-8") as f:
        json.dump(index, f)
    return index


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Export MogFace to ONNX with a facefleet manifest.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="pytorch_model.pt (ModelScope) or a state dict")
    src.add_argument("--random-init", action="store_true", help="random weights (tests only)")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-init")
    p.add_argument("--variant", choices=["full", "tiny"], default="full")
    p.add_argument("--output", required=True, help="ONNX file to write")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset, 13-17 (default 13)")
    p.add_argument("--version", help="model version string (default: derived from weights)")
    p.add_argument("--allow-pickle", action="store_true", help="allow full unpickling of a trusted checkpoint")
    p.add_argument("--verify", action="store_true", help="check output shapes against the anchor formula")
    p.add_argument("--sample", metavar="PREFIX", help="also write a sample input and PyTorch's outputs (PREFIX.json)")
    args = p.parse_args(argv)
    if not 13 <= args.opset <= 17:
        p.error(f"--opset must be 13-17, got {args.opset}")

    started = time.time()
    if args.random_init:
        torch.manual_seed(args.seed)
        model = MogFace(args.variant).eval()
        version = args.version or f"{args.variant}-random-seed{args.seed}"
    else:
        from checkpoint import load_checkpoint  # noqa: PLC0415
        model, report = load_checkpoint(args.checkpoint, args.variant, args.allow_pickle)
        for line in ([f"unwrapped: {'/'.join(report.unwrapped)}"] if report.unwrapped else []) + (
                ["stripped 'module.' prefix"] if report.stripped_module_prefix else []) + report.rebuilt:
            print(f"checkpoint: {line}", file=sys.stderr)
        version = args.version or f"{args.variant}-{sha256_of(args.checkpoint)[:12]}"

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    export(model, args.output, args.opset)
    props = {"facefleet.id": "mogface", "facefleet.version": version, "facefleet.variant": args.variant,
             "facefleet.randomInit": str(bool(args.random_init)).lower(),
             "facefleet.input": "input NCHW RGB (v-mean)/std, see manifest"}
    if args.random_init:
        props["facefleet.note"] = RANDOM_NOTE
    has_meta = write_onnx_metadata(args.output, props)
    manifest = build_manifest(args, os.path.basename(args.output), sha256_of(args.output), version, has_meta)
    manifest_path = args.output + ".manifest.json"
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    summary = {"onnx": args.output, "manifest": manifest_path, "bytes": os.path.getsize(args.output),
               "seconds": round(time.time() - started, 2), "onnxMetadata": has_meta}
    if args.verify:
        summary["verify"] = verify(model, args.output)
    if args.sample:
        summary["sample"] = write_sample(model, args.sample, args.seed)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
