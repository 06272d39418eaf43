#!/usr/bin/env python3
"""Enqueue facefleet detection jobs from Python, by the documented job contract.

A facefleet worker (TypeScript) consumes BullMQ jobs named "detect" whose data is the v1 payload
described by schemas/job.v1.schema.json:

    {"v": 1, "source": URL, "results": URL, "runId": ID, "model": ID, "key": NAME}

This script writes exactly that, with the same job ids, job options and run record as the TypeScript
producer (`facefleet enqueue`), so both can feed the same queue and `facefleet status` follows the run:

  * job id: "ff-" + the first 40 hex digits of sha256("<source>\\n<model>\\n<runId>"), so adding the
    same image twice in a run is a no-op (src/queue/job-data.ts, jobIdFor);
  * job options: 5 attempts, exponential backoff from 2 s, keep the last 1000 completed and
    50000 failed jobs (src/queue/job-options.ts);
  * run record: the hash "<prefix>:<queue>:facefleet:run:<runId>" (createdAt, results, model, sealed,
    total) and the sorted set "<prefix>:<queue>:facefleet:runs" (src/queue/run-store.ts);
  * with --shards N > 1 (src/queue/shards.ts): shard i is the BullMQ queue "{<queue>-i}", a source goes
    to int(sha256(source)[:8 hex], 16) % N, each shard has its own run record (its total, under its own
    queue name) and shard 0 the index; the count N is recorded in "<prefix>:<queue>:shards" and a
    queue recorded with another count is refused.

Sources are full URLs (s3://bucket/key, file:///abs/path), whose object key becomes the result name,
or keys relative to --base. Prints one JSON line: {"runId", "enqueued", "duplicates", "jobIds"}.

    pip install -r examples/python/requirements.txt
    python3 examples/python/enqueue.py --results s3://results/run-1/ --run-id run-1 \\
        s3://photos/2024/a.jpg s3://photos/2024/b.jpg
"""

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import time
from datetime import datetime, timezone

import redis.asyncio as aioredis
from bullmq import Queue

JOB_NAME = "detect"
JOB_SCHEMA_VERSION = 1
RUN_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PREFIX = re.compile(r"^[^\s:]{1,100}$")
URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
JOB_OPTIONS = {
    "attempts": 5,
    "backoff": {"type": "exponential", "delay": 2000},
    "removeOnComplete": {"count": 1000},
    "removeOnFail": {"count": 50000},
}


def job_id_for(source: str, model: str, run_id: str) -> str:
    """The deterministic job id of (source, model, runId), as jobIdFor in src/queue/job-data.ts."""
    digest = hashlib.sha256(f"{source}\n{model}\n{run_id}".encode("utf-8")).hexdigest()
    return f"ff-{digest[:40]}"


def object_key(url: str) -> str:
    """The object key of a location URL: after the bucket for s3://, after file:/// for files."""
    match = URL.match(url)
    scheme = match.group(1).lower() if match else ""
    rest = url[match.end():] if match else ""
    if scheme == "s3" and "/" in rest:
        return rest.split("/", 1)[1]
    if scheme == "file" and rest.startswith("/"):
        return rest[1:]
    raise ValueError(f"source {url!r}: expected s3://bucket/key or file:///abs/path")


def to_source_key(arg: str, base: str | None) -> tuple[str, str]:
    """(source URL, result name) of an argument: a URL keeps its object key, a bare key joins --base."""
    if URL.match(arg):
        return arg, object_key(arg)
    if not base:
        raise ValueError(f"{arg!r} is not a URL; give --base to resolve relative keys")
    key = arg.lstrip("/")
    return (base if base.endswith("/") else base + "/") + key, key


def payload(source: str, key: str, args: argparse.Namespace) -> dict:
    """The v1 job data; only fields the contract defines (the worker rejects any other)."""
    data = {"v": JOB_SCHEMA_VERSION, "source": source, "results": args.results, "runId": args.run_id, "model": args.model, "key": key}
    if args.incremental:
        data["incremental"] = True
    return data


def shard_queue(queue: str, index: int, shards: int) -> str:
    """The BullMQ queue of shard `index`, as shardQueueName in src/queue/shards.ts."""
    return queue if shards == 1 else f"{{{queue}-{index}}}"


def shard_of(source: str, shards: int) -> int:
    """The shard a source goes to, as shardOf in src/queue/shards.ts."""
    return 0 if shards == 1 else int(hashlib.sha256(source.encode("utf-8")).hexdigest()[:8], 16) % shards


async def check_shards(r: aioredis.Redis, args: argparse.Namespace) -> None:
    """checkShardCount: record the count on first use; refuse a queue split another way."""
    key = f"{args.prefix}:{args.queue}:shards"
    recorded = await r.eval("local v = redis.call('get', KEYS[1]) if not v then redis.call('set', KEYS[1], ARGV[1]) end return v", 1, key, str(args.shards))
    if recorded is not None and int(recorded) != args.shards:
        raise ValueError(f"--shards {args.shards}: queue {args.queue} is split into {recorded} shard(s) on this Redis ({key}); use --shards {recorded}")


def run_key(prefix: str, queue: str, run_id: str) -> str:
    return f"{prefix}:{queue}:facefleet:run:{run_id}"


def run_index_key(prefix: str, queue: str) -> str:
    return f"{prefix}:{queue}:facefleet:runs"


async def create_run(r: aioredis.Redis, args: argparse.Namespace) -> None:
    """RunStore.create: in every shard, keep an existing createdAt (re-running continues the run),
    unseal, expire it 30 days after its last change (workers refresh by the record's own "ttl"); index
    it on shard 0."""
    ttl = 30 * 24 * 3600
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for i in range(args.shards):
        shard = shard_queue(args.queue, i, args.shards)
        key = run_key(args.prefix, shard, args.run_id)
        async with r.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "createdAt", now)
            pipe.hset(key, mapping={"results": args.results, "model": args.model, "sealed": "0", "ttl": str(ttl)})
            pipe.expire(key, ttl)
            if i == 0:
                pipe.zadd(run_index_key(args.prefix, shard), {args.run_id: int(time.time() * 1000)}, nx=True)
            await pipe.execute()


async def enqueue(args: argparse.Namespace) -> dict:
    sources = [to_source_key(a, args.base) for a in args.sources]
    r = aioredis.from_url(args.redis_url, decode_responses=True)
    names = [shard_queue(args.queue, i, args.shards) for i in range(args.shards)]
    queues = [Queue(name, {"connection": args.redis_url, "prefix": args.prefix}) for name in names]
    report = {"runId": args.run_id, "enqueued": 0, "duplicates": 0, "jobIds": []}
    try:
        await check_shards(r, args)
        await create_run(r, args)
        for source, key in sources:
            shard = shard_of(source, args.shards)
            job_id = job_id_for(source, args.model, args.run_id)
            report["jobIds"].append(job_id)
            # BullMQ ignores an add whose id exists; check first so the run total counts new jobs only.
            if await r.exists(queues[shard].toKey(job_id)):
                report["duplicates"] += 1
                continue
            await queues[shard].add(JOB_NAME, payload(source, key, args), {**JOB_OPTIONS, "jobId": job_id})
            report["enqueued"] += 1
            await r.hincrby(run_key(args.prefix, names[shard], args.run_id), "total", 1)
        if not args.no_seal:
            for name in names:
                await r.hset(run_key(args.prefix, name, args.run_id), "sealed", "1")
    finally:
        for queue in queues:
            await queue.close()
        await r.aclose()
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Enqueue facefleet detection jobs (job contract v1).")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), help="Redis URL (env REDIS_URL)")
    p.add_argument("--queue", default=os.environ.get("FACEFLEET_QUEUE", "facefleet"), help="queue name (default facefleet)")
    p.add_argument("--prefix", default=os.environ.get("FACEFLEET_REDIS_PREFIX", "bull"), help="BullMQ key prefix; {facefleet} for Redis Cluster (default bull)")
    p.add_argument("--shards", type=int, default=int(os.environ.get("FACEFLEET_SHARDS", "1")), help="BullMQ queues the queue is split into, as the workers' --shards (default 1)")
    p.add_argument("--results", required=True, help="results location URL; each result goes to <results>/<key>.json")
    p.add_argument("--run-id", default=datetime.now(timezone.utc).strftime("run-%Y-%m-%dT%H-%M-%S-%fZ"), help="run id (letters, digits, . _ -)")
    p.add_argument("--model", default="retinaface", help="model id the workers run (default retinaface)")
    p.add_argument("--base", help="location URL that relative keys resolve against")
    p.add_argument("--incremental", action="store_true", help="skip images whose result is current")
    p.add_argument("--no-seal", action="store_true", help="leave the run open for a later enqueue to add to")
    p.add_argument("sources", nargs="+", help="image URLs, or keys relative to --base")
    args = p.parse_args(argv)
    if not RUN_ID.match(args.run_id):
        p.error(f"--run-id {args.run_id!r}: expected 1-128 letters, digits, . _ -")
    if not MODEL_ID.match(args.model):
        p.error(f"--model {args.model!r}: expected a lowercase id such as retinaface")
    if not PREFIX.match(args.prefix):
        p.error(f"--prefix {args.prefix!r}: expected a prefix without spaces or colons")
    if not 1 <= args.shards <= 1024:
        p.error(f"--shards {args.shards}: expected 1 to 1024")
    if args.shards > 1 and re.search(r"[{}]", args.prefix + args.queue):
        p.error("--shards > 1: each shard's queue name is its own hash tag, so --prefix and --queue must hold no braces")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(enqueue(args))
    except ValueError as err:
        print(f"enqueue.py: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
