"""Alert latency: from the producer's send to the WebSocket frame in each officer's browser.

    python bench/latency.py [--clients 50] [--rates 3900,7800] [--seconds 45]

On the embedded stack (broker, alerts and indexer consumers, daphne), simulated
drones report at each rate while ``--clients`` WebSocket clients signed in as
officers listen. For every alert event each client receives, latency is the
time since the report that caused it was handed to the producer. The baseline,
measured in the same run under the same load, is the broker alone: a bare
consumer of the reports topic timing the same alert-bearing reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import msgspec
from common import ROOT, bench_env, emit, free_port, machine, median, progress

THRESHOLD = 20.0


class _Score(msgspec.Struct):
    peacescore: float


class _Scores(msgspec.Struct):
    report_id: str
    citizens: list[_Score]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def officer_cookies(n: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from peacewatch.roles import ensure_groups

    group = ensure_groups()["officer"]
    cookies = []
    for i in range(n):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-officer-{i}")
        user.groups.add(group)
        client = Client()
        client.force_login(user)
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return cookies


class Client:
    def __init__(self, url: str, cookie: str, origin: str) -> None:
        self.url, self.cookie, self.origin = url, cookie, origin
        self.frames: list[tuple[float, dict]] = []
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        import websockets

        async with websockets.connect(
            self.url, additional_headers={"Cookie": self.cookie, "Origin": self.origin}, max_size=None
        ) as ws:
            self.ready.set()
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                if text.startswith('{"type":"alert.') or text.startswith('{"type": "alert.'):
                    self.frames.append((now, json.loads(text)))


async def phase(rate: int, seconds: float, clients: list[Client], sent: dict, published: list) -> dict:
    """Drive ``rate`` reports/s for ``seconds`` and collect latencies."""
    from aiokafka import AIOKafkaConsumer

    from ingest.simulator import Fleet
    from peacewatch import kafka

    for client in clients:
        client.frames.clear()
    published.clear()
    baseline: list[float] = []
    scores = msgspec.json.Decoder(_Scores)

    async def broker_only(stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(kafka.topic("reports"), **kafka.consumer_kwargs(), group_id=None)
        await consumer.start()
        try:
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for record in records:
                        doc = scores.decode(record.value)
                        if min((c.peacescore for c in doc.citizens), default=100) < THRESHOLD:
                            baseline.append(now - sent[doc.report_id])
        finally:
            await consumer.stop()

    async def alert_events(stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(kafka.topic("alerts"), **kafka.consumer_kwargs(), group_id=None)
        await consumer.start()
        try:
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        event = json.loads(record.value)
                        published.append((event["alert"]["id"], event["alert"]["version"]))
        finally:
            await consumer.stop()

    stop_readers = asyncio.Event()
    readers = [asyncio.create_task(broker_only(stop_readers)), asyncio.create_task(alert_events(stop_readers))]
    await asyncio.sleep(2)  # readers positioned at the end before the load starts

    fleet = Fleet(drones=3500, seed=rate)
    encoder = msgspec.json.Encoder()
    producer = kafka.make_producer(linger_ms=0)
    await producer.start()
    topic = kafka.topic("reports")
    from datetime import UTC, datetime

    started = time.monotonic()
    count = 0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while count < due:
                report = fleet.next_report(datetime.now(tz=UTC))
                value = encoder.encode(report)
                sent[report["report_id"]] = time.time()
                await producer.send(topic, value, key=report["drone_id"].encode())
                count += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
    progress(f"{rate}/s: {count:,} reports sent in {time.monotonic() - started:.1f}s; draining")
    await asyncio.sleep(6)
    stop_readers.set()
    await asyncio.gather(*readers)

    expected = set(published)
    latencies: list[float] = []
    per_client = []
    for client in clients:
        got = set()
        for received_at, frame in client.frames:
            alert = frame["alert"]
            got.add((alert["id"], alert["version"]))
            if alert["report_id"] in sent:
                latencies.append(received_at - sent[alert["report_id"]])
        per_client.append(got)
    everyone = set.intersection(*per_client) if per_client else set()
    return {
        "rate": rate,
        "reports": count,
        "achieved_rate": round(count / seconds),
        "events_published": len(expected),
        "fraction_every_client": round(len(expected & everyone) / len(expected), 4) if expected else None,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "broker_p50_ms": round(percentile(baseline, 0.50) * 1000, 1),
        "broker_p99_ms": round(percentile(baseline, 0.99) * 1000, 1),
        "frames_timed": len(latencies),
    }


async def run(args, env, scratch) -> list[dict]:
    port = free_port()
    processes = []

    def start(name, argv):
        log = open(scratch / f"{name}.log", "ab")  # noqa: SIM115
        processes.append(subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))

    from ingest.broker import stop_process, wait_for_port

    try:
        start("alerts", [sys.executable, str(ROOT / "manage.py"), "run_consumer", "alerts"])
        start("indexer", [sys.executable, str(ROOT / "manage.py"), "run_consumer", "indexer"])
        daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "peacewatch.asgi:application"]
        start("web", daphne)
        wait_for_port("127.0.0.1", port, timeout=60)
        await asyncio.sleep(8)  # consumers join their groups
        cookies = await asyncio.to_thread(officer_cookies, args.clients)
        origin = f"http://127.0.0.1:{port}"
        clients = [Client(f"ws://127.0.0.1:{port}/ws/alerts/", cookie, origin) for cookie in cookies]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(client.run(stop)) for client in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
        progress(f"{len(clients)} officers connected")
        await asyncio.sleep(3)
        sent: dict[str, float] = {}
        published: list = []
        results = []
        for rate in args.rates:
            progress(f"load {rate} reports/s for {args.seconds}s")
            results.append(await phase(rate, args.seconds, clients, sent, published))
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return results
    finally:
        for process in processes:
            stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rates", default="3900,7800")
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    emit("machine", machine(), "info")
    for rate in rates:
        runs = []
        for attempt in range(args.repeat):
            # A fresh stack per run: each load level starts from the same empty state.
            progress(f"{rate}/s, run {attempt + 1}/{args.repeat}")
            args.rates = [rate]
            with bench_env() as (scratch, env):
                subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
                [result] = asyncio.run(run(args, env, scratch))
            result["p99_to_broker_p99"] = round(result["p99_ms"] / result["broker_p99_ms"], 2)
            runs.append(result)
            progress(json.dumps(result))
        load = f"{rate // rates[0]}x" if rate % rates[0] == 0 else f"{rate}/s"
        emit(
            f"alert_latency_{load}",
            {
                "rate": rate,
                "p50_ms": median([r["p50_ms"] for r in runs]),
                "p99_ms": median([r["p99_ms"] for r in runs]),
                "max_ms": median([r["max_ms"] for r in runs]),
                "broker_p99_ms": median([r["broker_p99_ms"] for r in runs]),
                "p99_to_broker_p99": median([r["p99_to_broker_p99"] for r in runs]),
                "fraction_every_client": min(r["fraction_every_client"] for r in runs),
            },
            "ms (median of runs; fraction is the worst run)",
            runs=runs,
            clients=args.clients,
            seconds=args.seconds,
            target="fraction 1.000; p99 <= 3x broker p99 at 1x, <= 5x at 2x",
        )


if __name__ == "__main__":
    main()
