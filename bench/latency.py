"""Alert latency with every process of ``make run`` up: from the producer's send to the frame in each officer's browser.

    python bench/latency.py [--clients 50] [--rates 3900,7800] [--seconds 45] [--engines embedded|real]
                            [--database-url postgres://...] [--redis-url redis://...]
    python bench/latency.py --kill-alerts-every 10 --rates 2000 --seconds 60


The stack is the one ``manage.py runstack`` (``make run``) starts, each a
process of its own: daphne, one ``run_consumer`` per registered consumer
(alerts, indexer, drones, archive, ...: ``peacewatch.consumers``), the Celery
worker, the exports worker and beat; the load's 3,500 drones are registered
first (``demo_fleet``), so the drones consumer keeps their health as in
production. Simulated drones (``Fleet.first_wave``: 102,400 people, subject
ids, 5,000-word Zipf vocabulary, flown unsent first so that about 1% of
reports alert from the start, each sent with its own ``sent_at``) report at
each rate while ``--clients`` WebSocket clients signed in as officers listen
(``latency.py --officers``, a process of their own, so the load generator's
work never delays reading a frame). For every
alert event each client receives, latency is the time since the report that
caused it was handed to the producer. The baseline, measured in the same run
under the same load, is the broker alone: a bare consumer of the reports topic
(``latency.py --broker-only``, a process of its own, not the load generator's)
noting when each alert-bearing report arrives; its latency is that minus the
same send time.

``--engines embedded``: a Tansu broker of the run's own, SQLite and the
embedded analytics store. ``--engines real``: the 3-broker Apache Kafka
cluster of ``make engines`` (topics and groups of the run's own, RF 3, min ISR
2, idempotent producers) with the indexer writing to its OpenSearch node; with
``--database-url`` (default: ``DATABASE_URL`` when it is PostgreSQL) the web,
consumers and Celery use a database of the run's own on that server, created
and dropped by the run; with ``--redis-url`` (default: ``REDIS_URL``) they use
Redis as the cache and Celery's broker (the live alerts use no channel layer:
``alerts/ws.py``). Without them the real-engine run says so and uses SQLite.

``--kill-alerts-every S``: the alerts consumer is SIGKILLed every S seconds
during the load: its worker, which run_consumer's parent forks again at once
(``--kill-target worker``, the default), or the whole process, started again at
once as a supervisor restarts a crashed process (``--kill-target process``);
with the static membership ``CONSUMER_INSTANCE_ID`` that production sets on a
real cluster. The figure is the alert delay (report sent to frame in every browser)
through those kills.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
from common import (
    EMBEDDED_STORE,
    ROOT,
    TANSU,
    bench_env,
    django_setup,
    drop_postgres,
    emit,
    free_port,
    fresh_postgres,
    kafka_label,
    machine,
    median,
    progress,
    read_status,
    search_label,
    set_labels,
)

THRESHOLD = 20.0
DRONES = 3500  # the first wave's fleet
FLOWN_REPORTS_PER_DRONE = 60  # enough for the fleet's share of alerting reports to stop rising


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

    from ingest.squads import all_squads_group
    from peacewatch.roles import ensure_groups

    group = ensure_groups()["officer"]
    cookies = []
    for i in range(n):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-officer-{i}")
        user.groups.add(group, all_squads_group())  # officers of the whole force
        client = Client()
        client.force_login(user)
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return cookies


def stack_commands(port: int, scratch: Path) -> dict[str, list[str]]:
    """The processes ``manage.py runstack`` starts besides the broker and the simulators, by name.

    The same argv as runstack's (web, every registered consumer, the two Celery
    workers and beat), so the latency is measured beside all of ``make run``'s work.
    """
    from peacewatch.consumers import KAFKA_CONSUMERS

    manage = [sys.executable, str(ROOT / "manage.py")]
    celery = [sys.executable, "-m", "celery", "-A", "peacewatch"]
    schedule = str(scratch / "celerybeat-schedule")
    return {
        "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "peacewatch.asgi:application"],
        **{name: [*manage, "run_consumer", name] for name in KAFKA_CONSUMERS},
        "celery-worker": [*celery, "worker", "--pool", "solo", "-Q", "celery", "--loglevel", "WARNING"],
        "celery-exports": [
            *celery,
            *("worker", "--pool", "solo", "-Q", "exports", "-n", "exports@%h", "--loglevel", "WARNING"),
        ],
        "celery-beat": [*celery, "beat", "--loglevel", "WARNING", "--schedule", schedule],
    }


def stack_names() -> list[str]:
    return list(stack_commands(0, Path()))


def sessions(count: int, out: Path) -> None:
    """Child process: ``count`` officers' session cookies into ``out``, made on the stack's database."""
    django_setup()
    out.write_text(json.dumps(officer_cookies(count)))


class Client:
    """One officer's live map: a WebSocket that acknowledges frames as the page does.

    Each alert frame goes to ``sink(received_at, text)`` the moment it is read.
    """

    def __init__(self, url: str, cookie: str, origin: str, sink) -> None:
        self.url, self.cookie, self.origin, self.sink = url, cookie, origin, sink
        self.ready = asyncio.Event()
        self.closed: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        import websockets

        try:
            await self._run(stop, websockets)
        except websockets.ConnectionClosed as closed:
            # A cut connection is a client that stops getting events live: counted, not hidden.
            self.closed = closed.rcvd.code if closed.rcvd else None
            progress(f"client connection closed by the server: {closed}")

    async def _run(self, stop: asyncio.Event, websockets) -> None:
        async with websockets.connect(
            self.url, additional_headers={"Cookie": self.cookie, "Origin": self.origin}, max_size=None
        ) as ws:
            self.ready.set()
            # Acknowledge read frames as the live map does (every 50 frames, or 200 ms after
            # the first unacknowledged one): the server's flow control waits for them.
            received = acked = 0
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.2)
                except TimeoutError:
                    if received > acked:
                        await ws.send(json.dumps({"type": "ack", "received": received}))
                        acked = received
                    continue
                now = time.time()
                received += 1
                if text.startswith('{"type":"alert.') or text.startswith('{"type": "alert.'):
                    self.sink(now, text)
                if received - acked >= 50:
                    await ws.send(json.dumps({"type": "ack", "received": received}))
                    acked = received


async def officers(url: str, origin: str, cookies: Path, out: Path, ready: Path) -> None:
    """Child process: one WebSocket client per session cookie in ``cookies``, until SIGTERM.

    In a process of its own, so that the load generator's work never delays
    when a frame is read. Every alert frame is appended to ``out`` as a JSON
    line ``[received_at, client index, frame]``, flushed at least every 100 ms.
    ``ready`` appears once every client is connected.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with out.open("a") as sink:

        def writer(index: int):
            return lambda received_at, text: sink.write(f"[{received_at!r}, {index}, {text}]\n")

        clients = [Client(url, cookie, origin, writer(i)) for i, cookie in enumerate(json.loads(cookies.read_text()))]
        tasks = [asyncio.create_task(client.run(stop)) for client in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
        ready.write_text("ready")
        while not stop.is_set():
            sink.flush()
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass
        await asyncio.gather(*tasks, return_exceptions=True)
        sink.flush()


class Child:
    """A measuring process of this script (``latency.py --MODE ... --out OUT --ready READY``).

    Its results go to ``out``; ``ready`` appears once it is positioned; its log is ``name.log``.
    """

    what = "child"

    def __init__(self, env: dict, scratch: Path, name: str, out: Path, args: list[str]) -> None:
        self.out, self.ready, self.log = out, scratch / f"{name}.ready", scratch / f"{name}.log"
        self.ready.unlink(missing_ok=True)
        argv = [sys.executable, __file__, *args, "--out", str(self.out), "--ready", str(self.ready)]
        log = open(self.log, "ab")  # noqa: SIM115 - the child's for its lifetime
        self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.what} exited with {self.process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.what} not ready after {timeout}s")
            await asyncio.sleep(0.1)


class Officers(Child):
    """The officers' clients in their own process (``latency.py --officers``), for the whole run."""

    what = "officers' clients"

    def __init__(self, env: dict, scratch: Path, url: str, origin: str, cookies: list[str]) -> None:
        self.count = len(cookies)
        cookie_file = scratch / "officers-cookies.json"
        cookie_file.write_text(json.dumps(cookies))
        out = scratch / "officers.jsonl"
        out.touch()
        super().__init__(
            env, scratch, "officers", out, ["--officers", url, "--origin", origin, "--cookies", str(cookie_file)]
        )

    def mark(self) -> int:
        return self.out.stat().st_size

    def frames_since(self, mark: int) -> list[list[tuple[float, dict]]]:
        """Per client, the alert frames read since ``mark``: (when read, frame)."""
        per_client: list[list[tuple[float, dict]]] = [[] for _ in range(self.count)]
        with self.out.open("rb") as lines:
            lines.seek(mark)
            for line in lines:
                if line.endswith(b"\n"):
                    received_at, index, frame = json.loads(line)
                    per_client[index].append((received_at, frame))
        return per_client

    def stop(self) -> None:
        from peacewatch.streams.broker import stop_process

        stop_process(self.process)


async def broker_only(out: Path, ready: Path) -> None:
    """Child process: bare consumers of the reports and alerts topics, from their end, until SIGTERM.

    Notes when each alert-bearing report arrives (``time.time()``, the clock
    the load generator stamps sends with) and when the first alert event naming
    each report appears on the alerts topic, and writes ``{"arrivals": {report_id:
    when}, "raised": {report_id: when}}`` to ``out`` when stopped. Out of the load
    generator's process, so its work never delays either. ``ready`` appears once
    every partition is positioned at its end, before the load starts.
    """
    from aiokafka import AIOKafkaConsumer

    from peacewatch.streams import kafka

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scores = msgspec.json.Decoder(_Scores)
    arrivals: dict[str, float] = {}
    raised: dict[str, float] = {}

    async def positioned(topic: str):
        consumer = AIOKafkaConsumer(topic, **kafka.consumer_kwargs(), group_id=None, auto_offset_reset="latest")
        await consumer.start()
        deadline = time.monotonic() + 60
        while not consumer.assignment():  # without a group, every partition once metadata arrives
            if time.monotonic() > deadline:
                raise RuntimeError(f"no partitions of {topic} assigned in 60 s")
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)  # resolved to the end now, before the load starts
        return consumer

    async def read_reports(consumer) -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for record in records:
                    doc = scores.decode(record.value)
                    if min((c.peacescore for c in doc.citizens), default=100) < THRESHOLD:
                        arrivals[doc.report_id] = now

    async def read_alerts(consumer) -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for record in records:
                    raised.setdefault(json.loads(record.value)["alert"]["report_id"], now)

    reports = await positioned(kafka.topic("reports"))
    alerts = await positioned(kafka.topic("alerts"))
    try:
        ready.write_text("ready")
        await asyncio.gather(read_reports(reports), read_alerts(alerts))
    finally:
        await reports.stop()
        await alerts.stop()
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"arrivals": arrivals, "raised": raised}))
        tmp.replace(out)


class BrokerOnly(Child):
    """The broker-only baseline in its own process, for one load phase."""

    what = "broker-only baseline"

    def __init__(self, env: dict, scratch: Path, name: str) -> None:
        out = scratch / f"{name}.json"
        out.unlink(missing_ok=True)
        super().__init__(env, scratch, name, out, ["--broker-only"])

    async def results(self) -> dict[str, dict[str, float]]:
        self.process.terminate()
        await asyncio.to_thread(self.process.wait, 30)
        return json.loads(self.out.read_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def flown_fleet(seed: int):
    """The first wave's fleet, flown a while before the load (those reports are not sent).

    A new fleet's citizens start at their calm baselines, so its first reports
    alert less often than a fleet's that has been flying; the load should alert
    as the fleet does in service.
    """
    from datetime import UTC, datetime

    from ingest.simulator import Fleet

    fleet = Fleet.first_wave(drones=DRONES, seed=seed)
    now = datetime.now(tz=UTC)
    for _ in range(FLOWN_REPORTS_PER_DRONE * DRONES):
        fleet.next_report(now)
    return fleet


async def drive(
    rate: int, seconds: float, sent: dict, fleet, inject_per_s: int = 0, injected: set | None = None
) -> int:
    """The load generator: ``fleet``'s drones at ``rate`` reports/s for ``seconds``; returns reports sent.

    ``inject_per_s``: that many reports a second also see a new citizen below the
    threshold, so each raises an alert of its own (``alert.created``): enough
    alerts, spread evenly over the load, to measure a p99 of alert delay. Their
    report ids go to ``injected``.
    """
    from datetime import UTC, datetime

    from peacewatch.streams import kafka

    encoder = msgspec.json.Encoder()
    producer = kafka.make_producer(linger_ms=0)
    await producer.start()
    topic = kafka.topic("reports")
    started = time.monotonic()
    count = 0
    every = rate // inject_per_s if inject_per_s else 0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while count < due:
                report = fleet.next_report(datetime.now(tz=UTC))
                if every and count % every == 0:
                    report["citizens"].append({"name": f"Bench Agitated {rate}-{count}", "peacescore": 5.0})
                    injected.add(report["report_id"])
                value = encoder.encode(report)
                sent[report["report_id"]] = time.time()
                await producer.send(topic, value, key=report["drone_id"].encode())
                count += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
    progress(f"{rate}/s: {count:,} reports sent in {time.monotonic() - started:.1f}s; draining")
    return count


async def phase(
    rate: int,
    seconds: float,
    clients: Officers,
    sent: dict,
    published: list,
    env: dict,
    scratch: Path,
    fleet,
    inject_per_s: int = 0,
) -> dict:
    """Drive ``rate`` reports/s for ``seconds`` and collect latencies."""
    from aiokafka import AIOKafkaConsumer

    from peacewatch.streams import kafka

    mark = clients.mark()
    published.clear()
    raised: dict[str, float] = {}  # report id -> when its first alert event was read from the alerts topic

    async def alert_events(stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(kafka.topic("alerts"), **kafka.consumer_kwargs(), group_id=None)
        await consumer.start()
        try:
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for record in records:
                        event = json.loads(record.value)
                        published.append((event["alert"]["id"], event["alert"]["version"]))
                        raised.setdefault(event["alert"]["report_id"], now)
        finally:
            await consumer.stop()

    stop_readers = asyncio.Event()
    readers = [asyncio.create_task(alert_events(stop_readers))]
    baseline_process = BrokerOnly(env, scratch, f"broker-only-{rate}")
    try:
        await baseline_process.wait_ready()
        await asyncio.sleep(2)  # readers positioned at the end before the load starts
        injected: set[str] = set()
        count = await drive(rate, seconds, sent, fleet, inject_per_s, injected)
        await asyncio.sleep(6)
        # Every injected citizen must raise its alert: wait for the last ones (a consumer killed
        # late in the load catches up after it) rather than leave them out of the figure.
        deadline = time.monotonic() + 90
        while injected - raised.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # the web processes' frames for the last events
        stop_readers.set()
        await asyncio.gather(*readers)
        observed = await baseline_process.results()
    finally:
        stop_readers.set()
        await asyncio.gather(*readers, return_exceptions=True)
        baseline_process.kill()
    baseline = [arrived - sent[rid] for rid, arrived in observed["arrivals"].items() if rid in sent]
    # Timed by the baseline's process, not this one's reader (which only tells when all are raised).
    raised_at = observed["raised"]
    raise_delays = [raised_at[rid] - sent[rid] for rid in injected if rid in raised_at]
    expected = set(published)
    latencies: list[float] = []
    per_client = []
    for frames in clients.frames_since(mark):
        got = set()
        for received_at, frame in frames:
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
        "alerting_reports": len(baseline),  # reports with a citizen under the threshold, as the baseline saw
        "events_published": len(expected),
        "fraction_every_client": round(len(expected & everyone) / len(expected), 4) if expected else None,
        "alerts_missed_by_a_client": len(expected - everyone),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "broker_p50_ms": round(percentile(baseline, 0.50) * 1000, 1),
        "broker_p99_ms": round(percentile(baseline, 0.99) * 1000, 1),
        "frames_timed": len(latencies),
        **(
            {
                "injected_alerts": len(injected),
                "injected_alerts_missing": len(injected - raised_at.keys()),
                # Report sent -> its alert event on peacewatch.alerts: the alerts consumer's part alone.
                "raise_p50_ms": round(percentile(raise_delays, 0.50) * 1000, 1),
                "raise_p99_ms": round(percentile(raise_delays, 0.99) * 1000, 1),
                "raise_max_ms": round(max(raise_delays) * 1000, 1) if raise_delays else None,
            }
            if inject_per_s
            else {}
        ),
    }


async def consumers_assigned(scratch: Path, names: tuple[str, ...], timeout: float = 90) -> None:
    """Until every consumer's liveness file shows partitions assigned (its group joined)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [n for n in names if not read_status(scratch / "run" / f"consumer-{n}.json").get("partitions")]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumers {waiting} joined no group in {timeout}s (see {scratch}/*.log)")
        await asyncio.sleep(0.25)


async def kill_alerts_repeatedly(
    every: float,
    until: float,
    processes: dict,
    start,
    stop: asyncio.Event,
    kills: list,
    scratch: Path,
    target: str = "worker",
) -> None:
    """SIGKILL the alerts consumer every ``every`` seconds until ``until`` (the load's end).

    ``target="worker"``: the worker process that reads the topic (the pid its liveness file
    names), which run_consumer's parent forks again at once, as after an out-of-memory kill or
    a crash. ``target="process"``: the whole ``run_consumer`` process, started again at once as
    a supervisor (systemd, Kubernetes) would. Each kill appends to ``kills`` how long it took,
    from the kill, until the new worker started its first batch (its liveness file's
    ``first_batch_at``): start-up, joining the group, fetching, together.
    """
    watchers = []
    status_file = scratch / "run" / "consumer-alerts.json"
    while time.monotonic() + every < until:
        try:
            await asyncio.wait_for(stop.wait(), every)
            break
        except TimeoutError:
            pass
        if target == "worker":
            victim = read_status(status_file).get("pid")
            if not victim or victim == processes["alerts"].pid:
                continue  # no worker reading yet: nothing to kill this time
            os.kill(victim, signal.SIGKILL)
            killed_at = time.time()
        else:
            process = processes["alerts"]
            process.send_signal(signal.SIGKILL)
            killed_at = time.time()
            victim = process.pid
            await asyncio.to_thread(process.wait)
            start("alerts", [sys.executable, str(ROOT / "manage.py"), "run_consumer", "alerts"])
        record = {"killed_at": killed_at, "first_batch_after_s": None}
        kills.append(record)
        watchers.append(asyncio.create_task(first_batch(scratch, victim, record)))
        progress(f"alerts consumer's {target} SIGKILLed ({len(kills)})")
    await asyncio.gather(*watchers)


async def first_batch(scratch: Path, killed: int, record: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(scratch / "run" / "consumer-alerts.json")
        if status.get("pid") not in (None, killed) and (status.get("first_batch_at") or 0) > record["killed_at"]:
            record["first_batch_after_s"] = round(status["first_batch_at"] - record["killed_at"], 2)
            return
        await asyncio.sleep(0.2)


async def run(args, env, scratch) -> list[dict]:
    port = free_port()
    processes: dict[str, subprocess.Popen] = {}
    if os.environ.get("BENCH_LOG_LEVEL"):  # the children's logs, to see why a figure is what it is
        env = {**env, "LOG_LEVEL": os.environ["BENCH_LOG_LEVEL"]}
    if args.engines == "real":
        # Static membership, as production runs it: a restarted member takes its partitions back at
        # once. Not on the embedded broker: there a member restarted under the same instance id was
        # never given partitions again (docs/OPERATIONS.md), so it runs with dynamic membership.
        env = {**env, "CONSUMER_INSTANCE_ID": "latency-0"}

    def start(name, argv):
        log = open(scratch / f"{name}.log", "ab")  # noqa: SIM115
        processes[name] = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    from peacewatch.consumers import KAFKA_CONSUMERS
    from peacewatch.streams.broker import stop_process, wait_for_port

    manage = [sys.executable, str(ROOT / "manage.py")]
    # The load's drones in the registry, as `make run` registers its simulator's: the drones
    # consumer keeps the health of registered drones only.
    subprocess.run(
        [*manage, "demo_fleet", "--drones", str(DRONES)], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    clients = None
    try:
        for name, argv in stack_commands(port, scratch).items():
            start(name, argv)
        wait_for_port("127.0.0.1", port, timeout=60)
        joined = time.monotonic() + 8
        await consumers_assigned(scratch, tuple(KAFKA_CONSUMERS))
        await asyncio.sleep(max(0.0, joined - time.monotonic()))  # at least 8 s, as the embedded figures had
        cookie_file = scratch / "officers-cookies.json"
        made = [sys.executable, __file__, "--sessions", str(args.clients), "--out", str(cookie_file)]
        await asyncio.to_thread(subprocess.run, made, env=env, cwd=ROOT, check=True)
        cookies = json.loads(cookie_file.read_text())
        origin = f"http://127.0.0.1:{port}"
        clients = Officers(env, scratch, f"ws://127.0.0.1:{port}/ws/alerts/", origin, cookies)
        await clients.wait_ready(90)
        progress(f"{clients.count} officers connected, in their own process; stack: {', '.join(processes)}")
        await asyncio.sleep(3)
        sent: dict[str, float] = {}
        published: list = []
        results = []
        for rate in args.rates:
            fleet = await asyncio.to_thread(flown_fleet, rate)  # before the kill timer starts
            progress(f"load {rate} reports/s for {args.seconds}s")
            stop_kills, kills = asyncio.Event(), []
            killer = None
            if args.kill_alerts_every:
                killer = asyncio.create_task(
                    kill_alerts_repeatedly(
                        args.kill_alerts_every,
                        time.monotonic() + 3 + args.seconds,  # the phase starts its load ~3 s from now
                        processes,
                        start,
                        stop_kills,
                        kills,
                        scratch,
                        args.kill_target,
                    )
                )
            try:
                result = await phase(
                    rate, args.seconds, clients, sent, published, env, scratch, fleet, args.inject_per_s
                )
            finally:
                stop_kills.set()
                if killer is not None:
                    await killer
            result["alerts_consumer_kills"] = len(kills)
            if kills:
                result["first_batch_after_kill_s"] = [k["first_batch_after_s"] for k in kills]
            # Every process did its work through the load: records each consumer handled (a new alerts
            # worker counts from zero; the archive counts once it writes a file), and any process that died.
            statuses = {name: read_status(scratch / "run" / f"consumer-{name}.json") for name in KAFKA_CONSUMERS}
            result["consumed"] = {name: status.get("consumed", 0) for name, status in statuses.items()}
            result["stack_exited"] = {
                name: process.returncode for name, process in processes.items() if process.poll() is not None
            }
            results.append(result)
        return results
    finally:
        if clients is not None:
            clients.stop()
        for process in processes.values():
            stop_process(process)
        if os.environ.get("BENCH_KEEP_LOGS"):
            import shutil

            for log_file in scratch.glob("*.log"):
                shutil.copy(log_file, os.environ["BENCH_KEEP_LOGS"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rates", default="3900,7800")
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", choices=("embedded", "real"), default="embedded")
    parser.add_argument(
        "--kill-alerts-every", type=float, metavar="S", help="SIGKILL and restart the alerts consumer every S s"
    )
    parser.add_argument(
        "--kill-target",
        choices=("worker", "process"),
        default="worker",
        help="what --kill-alerts-every kills: the worker run_consumer forks again (default), or the whole process",
    )
    parser.add_argument(
        "--inject-per-s", type=int, default=0, help="reports a second that see a new agitated citizen (default 0)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="with --engines real: a PostgreSQL server for the stack (a database of each run's own; "
        "default DATABASE_URL when it is postgres)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="with --engines real: Redis as the stack's cache and Celery broker (default REDIS_URL)",
    )
    parser.add_argument("--broker-only", action="store_true", help="child process: the broker-only baseline")
    parser.add_argument("--sessions", type=int, metavar="N", help="child process: N officers' session cookies")
    parser.add_argument("--officers", metavar="URL", help="child process: the officers' WebSocket clients of URL")
    parser.add_argument("--origin", help="with --officers: the Origin header")
    parser.add_argument("--cookies", type=Path, help="with --officers: a JSON list of session cookies")
    parser.add_argument("--out", type=Path, help="with --broker-only, --officers or --sessions: where results go")
    parser.add_argument("--ready", type=Path, help="with --broker-only or --officers: created once ready")
    args = parser.parse_args()
    if args.sessions is not None:
        sessions(args.sessions, args.out)
        return
    if args.broker_only:
        django_setup()
        asyncio.run(broker_only(args.out, args.ready))
        return
    if args.officers:
        asyncio.run(officers(args.officers, args.origin, args.cookies, args.out, args.ready))
        return
    rates = [int(r) for r in args.rates.split(",")]
    real = args.engines == "real"
    set_labels(engine=kafka_label() if real else TANSU)
    postgres = args.database_url if args.database_url.split(":", 1)[0] in ("postgres", "postgresql", "pgsql") else ""
    redis = args.redis_url
    if not real:
        postgres = redis = ""  # the embedded profile: SQLite, no Redis
    elif not (postgres and redis):
        missing = " and no ".join(n for n, v in (("PostgreSQL DATABASE_URL", postgres), ("REDIS_URL", redis)) if not v)
        progress(
            f"NOTE: no {missing} given: the stack runs on {'SQLite' if not postgres else 'PostgreSQL'}"
            f"{' without Redis' if not redis else ' with Redis'}, not the whole production profile"
        )
    stack = {"database": "postgresql" if postgres else "sqlite", "redis": bool(redis)}
    emit("machine", machine(), "info")
    for rate in rates:
        runs = []
        search = EMBEDDED_STORE
        for attempt in range(args.repeat):
            # A fresh stack per run: each load level starts from the same empty state.
            progress(f"{rate}/s, run {attempt + 1}/{args.repeat} on the {args.engines} engines")
            args.rates = [rate]
            with bench_env(args.engines, search=real) as (scratch, env):
                if real:
                    search = search_label(env["ELASTICSEARCH_URL"])
                run_database = fresh_postgres(postgres) if postgres else ""
                try:
                    if run_database:  # bench_env's SQLite stays this process's; the stack uses the server
                        env = {**env, "DATABASE_URL": run_database}
                    if redis:
                        env = {**env, "REDIS_URL": redis}
                    migrate = [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"]
                    subprocess.run(migrate, env=env, check=True)
                    [result] = asyncio.run(run(args, env, scratch))
                finally:
                    if run_database:
                        drop_postgres(postgres, run_database)
            result["p99_to_broker_p99"] = round(result["p99_ms"] / result["broker_p99_ms"], 2)
            runs.append(result)
            progress(json.dumps(result))
        load = f"{rate // rates[0]}x" if rate % rates[0] == 0 else f"{rate}/s"
        name = f"alert_latency_{load}"
        if args.kill_alerts_every:
            every = f"{args.kill_alerts_every:g}s"
            name = f"alert_delay_{rate}_per_s_alerts_consumer_{args.kill_target}_killed_every_{every}"
        emit(
            name,
            {
                "rate": rate,
                "p50_ms": median([r["p50_ms"] for r in runs]),
                "p99_ms": median([r["p99_ms"] for r in runs]),
                "max_ms": median([r["max_ms"] for r in runs]),
                "broker_p50_ms": median([r["broker_p50_ms"] for r in runs]),
                "broker_p99_ms": median([r["broker_p99_ms"] for r in runs]),
                "p99_to_broker_p99": median([r["p99_to_broker_p99"] for r in runs]),
                "fraction_every_client": min(r["fraction_every_client"] for r in runs),
                "alerts_missed_by_a_client": max(r["alerts_missed_by_a_client"] for r in runs),
                "achieved_rate": median([r["achieved_rate"] for r in runs]),
                **(
                    {
                        "raise_p50_ms": median([r["raise_p50_ms"] for r in runs]),
                        "raise_p99_ms": median([r["raise_p99_ms"] for r in runs]),
                        "injected_alerts_missing": max(r["injected_alerts_missing"] for r in runs),
                    }
                    if args.inject_per_s
                    else {}
                ),
            },
            "ms, reports/s (median of runs; fraction and missed are the worst run)",
            search=search,
            stack=stack_names(),
            drones_registered=DRONES,
            **stack,
            runs=runs,
            clients=args.clients,
            seconds=args.seconds,
            baseline="bare consumer of the reports topic in its own process",
            target=(
                "raise p99 < 5000 ms through the kills (report sent to its alert event on the topic), none missing"
                if args.kill_alerts_every
                else "fraction 1.000; p99 <= 3x broker p99 at 1x, <= 5x at 2x"
            ),
            kills=[r.get("alerts_consumer_kills") for r in runs],
        )


if __name__ == "__main__":
    main()
