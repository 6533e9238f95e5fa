"""Fleet benchmarks: HTTP ingest vs producing straight to Kafka, and the drones consumer's lag.

    python bench/fleet_ingest.py [--seconds 20] [--repeat 3] [--lag-seconds 60]

1. HTTP ingest: `wrk` (Debian package, a C load client on loopback) POSTs the
   same batch of 100 valid reports to ``/api/v1/ingest/reports`` on daphne,
   which validates each and produces it with acks=all before answering 202.
   Baseline in the same run: one aiokafka producer sending the same report
   bytes straight to the same broker, acks=all. Ratio target >= 0.3.
2. Health consumer: simulated drones (3,500, all registered) at 3,900
   reports/s for ``--lag-seconds``; the ``drones`` consumer's lag (end offsets
   minus committed) is sampled every 5 s. Target: no growing lag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, TANSU, bench_env, emit, free_port, machine, median, progress, set_labels


def register(drone_id: str) -> str:
    from ingest.fleet import register_drone
    from ingest.models import Drone

    return register_drone(Drone(drone_id=drone_id, name="bench"))


def batch_of(drone_id: str, n: int = 100) -> list[bytes]:
    from datetime import UTC, datetime

    from ingest.simulator import Fleet

    fleet = Fleet(drones=1, seed=7)
    items = []
    for _ in range(n):
        report = fleet.next_report(datetime.now(tz=UTC))
        report["drone_id"] = drone_id
        items.append(json.dumps(report, separators=(",", ":")).encode())
    return items


async def direct(items: list[bytes], total: int) -> float:
    """Reports/s of one aiokafka producer, acks=all, sending the same bytes."""
    from peacewatch.streams import kafka

    producer = kafka.make_producer(linger_ms=2)
    await producer.start()
    topic = kafka.topic("reports")
    try:
        started = time.perf_counter()
        pending = []
        for i in range(total):
            pending.append(await producer.send(topic, items[i % len(items)], key=b"pw-bench"))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return total / (time.perf_counter() - started)
    finally:
        await producer.stop()


def wrk(url: str, token: str, body: bytes, seconds: float, scratch: Path) -> dict:
    script = scratch / "post.lua"
    payload = scratch / "body.json"
    payload.write_bytes(body)
    script.write_text(
        f"""
local f = io.open("{payload}", "rb"); local body = f:read("*all"); f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
    )
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", "8", "-d", f"{int(seconds)}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(ms|s)", out)
    return {
        "requests_per_s": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "p99_ms": float(p99.group(1)) * (1000 if p99.group(2) == "s" else 1) if p99 else None,
    }


async def lag_run(seconds: float, rate: int, env: dict, scratch: Path) -> list[int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from ingest.simulator import Fleet
    from peacewatch.consumers import KAFKA_CONSUMERS
    from peacewatch.streams import kafka

    consumer_process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_consumer", "drones"],
        env=env,
        cwd=ROOT,
        stdout=open(scratch / "drones.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    probe = AIOKafkaConsumer(
        **kafka.client_kwargs(), group_id=KAFKA_CONSUMERS["drones"].group_id, enable_auto_commit=False
    )
    await probe.start()
    topic = kafka.topic("reports")
    partitions = [TopicPartition(topic, p) for p in await kafka.topic_partitions(topic)]
    producer = kafka.make_producer(linger_ms=5)
    await producer.start()
    fleet = Fleet(drones=3500, seed=3)
    from datetime import UTC, datetime

    lags: list[int] = []
    try:
        await asyncio.sleep(8)  # the consumer joins its group
        started = time.monotonic()
        sent = 0
        next_sample = started + 5
        while (elapsed := time.monotonic() - started) < seconds:
            while sent < int(elapsed * rate):
                key, value = fleet.encoded(datetime.now(tz=UTC))
                await producer.send(topic, value, key=key)
                sent += 1
            if time.monotonic() >= next_sample:
                next_sample += 5
                # Committed first, then the end: read the other way round, a
                # commit landing in between shows as a small negative lag.
                committed = [await probe.committed(tp) or 0 for tp in partitions]
                ends = await probe.end_offsets(partitions)
                lags.append(sum(ends[tp] for tp in partitions) - sum(committed))
                progress(f"drones consumer lag after {elapsed:.0f}s: {lags[-1]:,} records")
            await asyncio.sleep(0.005)
    finally:
        await producer.stop()
        await probe.stop()
        consumer_process.terminate()
        consumer_process.wait(timeout=30)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lag-seconds", type=float, default=60)
    args = parser.parse_args()
    set_labels(engine=TANSU)  # every figure line names its broker
    if not shutil.which("wrk"):
        sys.exit("bench/ingest.py needs wrk (sudo apt-get install wrk)")
    emit("machine", machine(), "info")
    http, kafka_direct, ratios = [], [], []
    for attempt in range(args.repeat):
        with bench_env() as (scratch, env):
            env = {**env, "INGEST_RATE_PER_S": "1000000", "INGEST_BURST": "1000000"}
            subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
            token = register("pw-bench")
            items = batch_of("pw-bench")
            body = b"[" + b",".join(items) + b"]"
            port = free_port()
            from peacewatch.streams.broker import stop_process, wait_for_port

            web = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "peacewatch.asgi:application"],
                env=env,
                cwd=ROOT,
                stdout=open(scratch / "web.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for_port("127.0.0.1", port, timeout=60)
                progress(f"run {attempt + 1}: wrk for {args.seconds:.0f}s")
                result = wrk(f"http://127.0.0.1:{port}/api/v1/ingest/reports", token, body, args.seconds, scratch)
            finally:
                stop_process(web)
            if result["non_2xx"]:
                raise SystemExit(f"{result['non_2xx']} ingest requests were not accepted; see {scratch}/web.log")
            reports_per_s = result["requests_per_s"] * len(items)
            progress(f"run {attempt + 1}: direct producer")
            baseline = asyncio.run(direct(items, total=max(50_000, int(reports_per_s * 5))))
            http.append(reports_per_s)
            kafka_direct.append(baseline)
            ratios.append(reports_per_s / baseline)
            progress(f"run {attempt + 1}: http {reports_per_s:,.0f}/s, direct {baseline:,.0f}/s")
    emit("http_ingest_rate", round(median(http)), "reports/s", runs=[round(h) for h in http], batch=100)
    emit("direct_produce_rate", round(median(kafka_direct)), "reports/s", runs=[round(k) for k in kafka_direct])
    emit("http_to_direct_ratio", round(median(ratios), 3), "ratio", runs=[round(r, 3) for r in ratios], target=">= 0.3")

    with bench_env() as (scratch, env):
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
        from ingest.models import Drone

        Drone.objects.bulk_create([Drone(drone_id=f"pw-{i:05d}") for i in range(3500)])
        lags = asyncio.run(lag_run(args.lag_seconds, 3900, env, scratch))
    emit(
        "drones_consumer_lag",
        lags[-1] if lags else None,
        "records at the end",
        samples_every_5s=lags,
        rate=3900,
        target="no growing lag",
    )


if __name__ == "__main__":
    main()
