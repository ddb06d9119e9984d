"""The dev services, reached directly (boto3, redis-py, pika, rabbitmqctl through
deploy/dev-services.sh) rather than through facefix's adapters: the suite must see what is
really in the bucket, in Redis and in the broker, not what facefix believes is there."""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass

import boto3
import pika
import redis
from botocore.config import Config

from .options import ROOT

DEV_SERVICES = ROOT / "deploy" / "dev-services.sh"


def dev_services(*args: str, timeout: float = 180) -> str:
    """Runs a verb of deploy/dev-services.sh; its own log lines go to our stderr."""
    done = subprocess.run(
        ["bash", str(DEV_SERVICES), *args],
        stdout=subprocess.PIPE, text=True, timeout=timeout, check=True,
    )
    return done.stdout


def _exported(text: str) -> dict[str, str]:
    """The `export NAME='value'` lines of `dev-services.sh env`."""
    env = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


@dataclass(frozen=True)
class QueueDepth:
    ready: int
    unacked: int
    consumers: int

    @property
    def messages(self) -> int:
        return self.ready + self.unacked


@dataclass(frozen=True)
class Listing:
    """One listing of a prefix: when it started and ended, and key -> last-modified (epoch s)."""

    started: float
    ended: float
    objects: dict[str, float]


class Services:
    def __init__(self, redis_db: int):
        env = _exported(dev_services("env"))
        self.amqp_url = env["FACEFIX_TEST_AMQP_URL"]
        base = env["FACEFIX_TEST_REDIS_URL"].rsplit("/", 1)[0]
        self.redis_url = f"{base}/{redis_db}"
        self.s3_endpoint = env["FACEFIX_TEST_S3_ENDPOINT"]
        self.bucket = env["FACEFIX_TEST_S3_BUCKET"]
        self.s3_access_key = env["FACEFIX_TEST_S3_ACCESS_KEY"]
        self.s3_secret_key = env["FACEFIX_TEST_S3_SECRET_KEY"]
        # Short timeouts and no retries: a sampler must skip a sample while a service is
        # down, not stall the whole run on it.
        self.redis = redis.Redis.from_url(
            self.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        self.s3 = boto3.client(
            "s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
            aws_access_key_id=self.s3_access_key, aws_secret_access_key=self.s3_secret_key,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                          retries={"max_attempts": 1}),
        )

    def amqp_url_with_heartbeat(self, seconds: int) -> str:
        sep = "&" if "?" in self.amqp_url else "?"
        return f"{self.amqp_url}{sep}heartbeat={seconds}"

    # ------------------------------------------------------------------ bucket

    def list_objects(self, prefix: str) -> Listing:
        started = time.time()
        objects: dict[str, float] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                objects[item["Key"]] = item["LastModified"].timestamp()
        return Listing(started, time.time(), objects)

    def delete_objects(self, prefix: str) -> int:
        keys = list(self.list_objects(prefix).objects)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    # ------------------------------------------------------------------ redis

    def redis_keys(self, prefix: str) -> list[str]:
        pattern = redis_glob_escape(prefix) + "*"
        return list(self.redis.scan_iter(match=pattern, count=1000))

    def delete_redis_keys(self, prefix: str) -> int:
        keys = self.redis_keys(prefix)
        if keys:
            self.redis.delete(*keys)
        return len(keys)

    # ------------------------------------------------------------------ broker

    def queue_depths(self) -> dict[str, QueueDepth]:
        """Every queue of the broker, through rabbitmqctl (AMQP alone cannot count
        unacknowledged messages)."""
        depths = {}
        for line in dev_services("queues", timeout=60).splitlines():
            name, ready, unacked, consumers = line.split("\t")
            depths[name] = QueueDepth(int(ready), int(unacked), int(consumers))
        return depths

    def delete_topology(self, queue_prefix: str) -> int:
        """Deletes the queues and exchanges facefix declared for `queue_prefix`, messages
        included; returns how many names it deleted (deleting a missing one succeeds)."""
        names = 0
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            for queue in (f"{queue_prefix}.jobs", f"{queue_prefix}.jobs.dead"):
                channel.queue_delete(queue)
                names += 1
            for exchange in (queue_prefix, f"{queue_prefix}.dlx"):
                channel.exchange_delete(exchange)
                names += 1
        finally:
            connection.close()
        return names


def redis_glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
