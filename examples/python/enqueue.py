#!/usr/bin/env python3
"""Enqueue facefleet detection jobs from Python, by the documented job contract.

A facefleet worker (TypeScript) consumes BullMQ jobs named "detect" whose data is the v1 payload
described by schemas/job.v1.schema.json:

    {"v": 1, "source": URL, "results": URL, "runId": ID, "model": ID, "key": NAME}

This script writes exactly that, with the same job ids, job options and run record as the TypeScript
producer (`facefleet enqueue`), so both can feed the same queue and `facefleet runs` follows the run:

  * job id: "ff-" + the first 40 hex digits of sha256("<source>\\n<model>\\n<runId>"), so adding the
    same image twice in a run is a no-op (src/queue/job-data.ts, jobIdFor);
  * job options: 5 attempts, exponential backoff from 2 s, keep the last 1000 completed and
    50000 failed jobs (src/queue/job-options.ts);
  * run record: the hash "<prefix>:<queue>:facefleet:run:<runId>" (createdAt, results, model, sealed,
    total) and the sorted set "<prefix>:<queue>:facefleet:runs" (src/queue/run-store.ts);
  * with --shards N > 1 (src/queue/shards.ts): shard i is the BullMQ queue "{<queue>-i}", a source goes
    to int(sha256(source)[:8 hex], 16) % N, each shard has its own run record (its total, under its own
    queue name) and shard 0 the index; the count N is recorded in "<prefix>:<queue>:shards" and a
    queue recorded with another count is refused (exit 64, as the TypeScript side's E_CONFIG);
  * with --redis-cluster (src/queue/connection.ts): --redis-url names one seed node of a Redis Cluster,
    the other nodes are discovered from it, and every key of a shard (its jobs, its run record) lands
    in the slot of the shard's hash tag. An unsplit queue on a cluster needs a hash tag in --prefix
    ({facefleet}), a split one none, as the TypeScript side checks.

Sources are full URLs (s3://bucket/key, file:///abs/path), whose object key becomes the result name,
or keys relative to --base. Prints one JSON line: {"runId", "enqueued", "duplicates", "jobIds"}.

    pip install -r examples/python/requirements.txt
    python3 examples/python/enqueue.py --results s3://results/run-1/ --run-id run-1 \\
        s3://photos/2024/a.jpg s3://photos/2024/b.jpg
    python3 examples/python/enqueue.py --redis-cluster --redis-url redis://:pw@redis-0.redis:6379 \\
        --shards 12 --results s3://results/run-1/ --run-id run-1 s3://photos/2024/a.jpg

Exit codes: 0 done, 2 bad arguments or sources, 64 refused by what Redis records (another --shards).
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
from urllib.parse import urlparse

import redis.asyncio as aioredis
from bullmq import Queue
from redis.asyncio.cluster import RedisCluster

JOB_NAME = "detect"
JOB_SCHEMA_VERSION = 1
RUN_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PREFIX = re.compile(r"^[^\s:]{1,100}$")
URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
BOOLEAN = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
EXIT_CONFIG = 64
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


class ConfigError(Exception):
    """Redis holds the queue in a way this invocation contradicts (E_CONFIG on the TypeScript side)."""


def has_hash_tag(prefix: str, queue: str) -> bool:
    """True when keys "<prefix>:<queue>:..." carry a Redis Cluster hash tag, as hasHashTag in src/config/common.ts."""
    key = f"{prefix}:{queue}:"
    start = key.find("{")
    end = key.find("}", start + 1) if start != -1 else -1
    return end > start + 1


def connect(args: argparse.Namespace) -> aioredis.Redis | RedisCluster:
    """One Redis, or a Redis Cluster client that discovers every node from the seed --redis-url names."""
    if args.redis_cluster:
        return RedisCluster.from_url(args.redis_url, decode_responses=True)
    return aioredis.from_url(args.redis_url, decode_responses=True)


async def check_shards(r: aioredis.Redis | RedisCluster, args: argparse.Namespace) -> None:
    """checkShardCount: record the count on first use; refuse a queue split another way."""
    key = f"{args.prefix}:{args.queue}:shards"
    recorded = await r.eval("local v = redis.call('get', KEYS[1]) if not v then redis.call('set', KEYS[1], ARGV[1]) end return v", 1, key, str(args.shards))
    if recorded is not None and int(recorded) != args.shards:
        raise ConfigError(
            f"E_CONFIG: shards (--shards or env FACEFLEET_SHARDS): queue {args.queue} is split into {recorded} shard(s) on this Redis "
            f"(recorded in {key} by the first producer or worker), this process was given {args.shards}; use --shards {recorded}"
        )


def run_key(prefix: str, queue: str, run_id: str) -> str:
    return f"{prefix}:{queue}:facefleet:run:{run_id}"


def run_index_key(prefix: str, queue: str) -> str:
    return f"{prefix}:{queue}:facefleet:runs"


RUN_TTL_SECONDS = 30 * 24 * 3600

# The run-record updates of src/queue/run-store.ts: only into a record that exists (one expired
# meanwhile is not brought back without its createdAt), its expiry pushed back by its own "ttl".
COUNT_INTO_RUN = """
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
for i = 2, #ARGV, 2 do redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
"""
SEAL_RUN = """
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
redis.call('hset', KEYS[1], 'sealed', '1')
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
"""


async def create_run(r: aioredis.Redis | RedisCluster, args: argparse.Namespace) -> None:
    """RunStore.create: in every shard, keep an existing createdAt (re-running continues the run),
    unseal, expire it 30 days after its last change (workers refresh by the record's own "ttl"); index
    it on shard 0. Each transaction touches one shard's keys, which share its slot on a cluster."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for i in range(args.shards):
        shard = shard_queue(args.queue, i, args.shards)
        key = run_key(args.prefix, shard, args.run_id)
        async with r.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "createdAt", now)
            pipe.hset(key, mapping={"results": args.results, "model": args.model, "sealed": "0", "ttl": str(RUN_TTL_SECONDS)})
            pipe.expire(key, RUN_TTL_SECONDS)
            if i == 0:
                pipe.zadd(run_index_key(args.prefix, shard), {args.run_id: int(time.time() * 1000)}, nx=True)
            await pipe.execute()


def shard_queues(r: aioredis.Redis | RedisCluster, args: argparse.Namespace, names: list[str]) -> list[Queue]:
    """The BullMQ queue of every shard.

    On a Redis Cluster they share the one RedisCluster client: BullMQ's Python package (the pinned
    version, see requirements.txt) takes a redis-py RedisCluster as its connection, and every script it
    runs for a queue names only that queue's keys, "<prefix>:{<queue>-i}:...", which share the shard's
    hash tag and so one slot; the client sends each call to the master owning that slot and follows
    MOVED and ASK when a slot moves (`facefleet shards balance`). Closing a queue closes the client it
    was given, so the queues are closed only once everything is written.
    """
    if args.redis_cluster:
        return [Queue(name, {"connection": r, "prefix": args.prefix}) for name in names]
    return [Queue(name, {"connection": args.redis_url, "prefix": args.prefix}) for name in names]


async def enqueue(args: argparse.Namespace) -> dict:
    sources = [to_source_key(a, args.base) for a in args.sources]
    r = connect(args)
    names = [shard_queue(args.queue, i, args.shards) for i in range(args.shards)]
    queues = shard_queues(r, args, names)
    count_into_run = r.register_script(COUNT_INTO_RUN)
    seal_run = r.register_script(SEAL_RUN)
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
            await count_into_run(keys=[run_key(args.prefix, names[shard], args.run_id)], args=[RUN_TTL_SECONDS, "total", 1])
        if not args.no_seal:
            for name in names:
                await seal_run(keys=[run_key(args.prefix, name, args.run_id)], args=[RUN_TTL_SECONDS])
    finally:
        for queue in queues:
            await queue.close()
        await r.aclose()
    return report


def env_flag(name: str) -> bool:
    """A boolean variable as the TypeScript side reads it: 1, true, yes or 0, false, no; unset or empty is false."""
    value = os.environ.get(name, "")
    if value == "":
        return False
    if value not in BOOLEAN:
        raise SystemExit(f"enqueue.py: env {name}: expected a boolean: 1, true, yes or 0, false, no; given {value!r}")
    return BOOLEAN[value]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Enqueue facefleet detection jobs (job contract v1).")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), help="Redis URL (env REDIS_URL)")
    p.add_argument("--queue", default=os.environ.get("FACEFLEET_QUEUE", "facefleet"), help="queue name (default facefleet)")
    p.add_argument("--redis-cluster", action="store_true", default=env_flag("FACEFLEET_REDIS_CLUSTER"), help="Redis is a Redis Cluster: --redis-url names one seed node (env FACEFLEET_REDIS_CLUSTER)")
    p.add_argument("--prefix", default=os.environ.get("FACEFLEET_REDIS_PREFIX", "bull"), help="BullMQ key prefix; {facefleet} for an unsplit queue on Redis Cluster (default bull)")
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
    if args.redis_cluster and args.shards == 1 and not has_hash_tag(args.prefix, args.queue):
        p.error(f"--redis-cluster: the keys of an unsplit queue must share one slot: give --prefix a hash tag such as '{{facefleet}}', or --shards > 1; given --prefix {args.prefix!r}")
    if args.redis_cluster and urlparse(args.redis_url).path.strip("/") not in ("", "0"):
        p.error("--redis-cluster: Redis Cluster has only database 0; give --redis-url without a database")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(enqueue(args))
    except ConfigError as err:
        print(f"enqueue.py: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except ValueError as err:
        print(f"enqueue.py: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
