"""Fleet benchmarks: HTTP ingest at the first wave's shape against producing straight to Kafka, and the drones
consumer's lag.

    python bench/fleet_ingest.py [--engines embedded|real] [--drones 1000] [--modes single,batch] [--batch 100]
                                 [--seconds 20] [--repeat 3] [--connections 16] [--single-pool 20000]
                                 [--batch-pool 1000] [--database-url URL] [--redis-url URL] [--lag-seconds 60]

1. HTTP ingest. ``--drones`` drones are registered through
   ``ingest.fleet.register_drone``, each with its own token, in the database
   daphne reads. Their reports come from ``Fleet.first_wave`` (102,400 people,
   5,000 words, about 1% alerting), each rewritten with its drone's id, with
   ``sent_at`` spread over the seconds before the run at the first wave's
   3,900 reports/s; each is checked with ``decode_report`` before the run.
   ``wrk`` (a C load client, Debian package) POSTs them to
   ``/api/v1/ingest/reports`` on one daphne process with the rate limits on at
   their defaults (``INGEST_RATE_PER_S``/``INGEST_BURST``, per request and per
   drone), each request the next (token, body) pair of a file, drones taking
   turns:

   - ``single``: one report per request, as a drone sending live does;
   - ``batch``: ``--batch`` consecutive reports of one drone per request
     (``--batch-pool`` requests from as many drones, at most ``--drones``).

   Each request's status is counted by wrk's Lua script: 202 (accepted), 429
   (rate limited) and any other status, apart from wrk's socket errors and
   timeouts. Figures: accepted reports/s and requests/s over wrk's run, its
   p50/p99 latency, the count of each outcome, and daphne's CPU over the run
   (cores, and ms per request: near one core, the one process is the bound).
   Once a pool of pairs is used up, wrk starts it again (the line says how
   many requests the pool holds): repeats are accepted like new reports by
   this endpoint.

   Baseline, per mode, in the same run once every mode's wrk is done and
   daphne is stopped (its live map reads the reports topic): one aiokafka
   producer (acks=all) in this process sending that mode's report bytes,
   keyed by drone, straight to the same topic. Ratio = HTTP reports/s over
   direct.

   Profile: ``--database-url`` (PostgreSQL) and ``--redis-url`` (with
   ``--engines real``, DATABASE_URL and REDIS_URL in the environment by
   default) make daphne find tokens in PostgreSQL and keep rate limits in
   Redis, as in production; with ``--engines real`` Kafka is the 3-broker
   cluster of ``make engines``. Each repeat creates a database of its own on
   that server and drops it at the end. Without them: SQLite and per-process
   (locmem) rate limits, the embedded default. Every line names the database
   and the rate-limit store; the ``profile`` line says production only with
   all three. Daphne is reached as behind the TLS proxy of
   docker/.env.example (``X-Forwarded-Proto: https`` trusted).

2. Health consumer: 3,500 registered first-wave drones at 3,900 reports/s for
   ``--lag-seconds``; the ``drones`` consumer's lag (end offsets minus
   committed) is sampled every 5 s. Target: no growing lag. Same engines,
   database and Redis as part 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    ROOT,
    bench_env,
    drop_postgres,
    emit,
    emit_median,
    free_port,
    fresh_postgres,
    machine,
    progress,
    run_suffix,
    set_labels,
)

FIRST_WAVE_RATE = 3900  # reports/s the first wave sends on average (3,500 drones)
MODES = ("single", "batch")


# --- the data: first-wave reports, one drone's reports per request ------------------------------


def first_wave_reports(count: int, drones: int, *, seed: int = 7) -> list[tuple[int, bytes]]:
    """``count`` first-wave reports as (drone index, JSON bytes), drones taking turns.

    Each report names its drone ``pw-NNNNN`` (the fleet's own id, replaced per
    run by ``renamed``), and ``sent_at`` steps at the first wave's rate up to
    now: what a fleet sending live puts on the wire.
    """
    from ingest.reports import ReportError, decode_report
    from ingest.simulator import Fleet

    fleet = Fleet.first_wave(drones=drones, seed=seed)
    start = datetime.now(tz=UTC) - timedelta(seconds=count / FIRST_WAVE_RATE)
    step = timedelta(seconds=1 / FIRST_WAVE_RATE)
    reports = []
    for i in range(count):
        _key, value = fleet.encoded(start + step * i)
        outcome = decode_report(value)
        if isinstance(outcome, ReportError):
            raise SystemExit(f"the simulator made an invalid report ({outcome.code}: {outcome.detail})")
        reports.append((i % drones, value))
    return reports


def renamed(raw: bytes, index: int, drone_ids: list[str]) -> bytes:
    """The report with its drone's id for this run (the fleet's ``pw-NNNNN`` replaced)."""
    old = b'"drone_id":"pw-%05d"' % index
    new = b'"drone_id":"%s"' % drone_ids[index].encode()
    out = raw.replace(old, new, 1)
    if out is raw or out == raw:
        raise ValueError(f"no drone_id pw-{index:05d} in {raw[:80]!r}")
    return out


def single_requests(reports: list[tuple[int, bytes]], drone_ids: list[str]) -> list[tuple[int, bytes]]:
    """One report per request, in the fleet's order (drones take turns)."""
    return [(index, renamed(raw, index, drone_ids)) for index, raw in reports]


def batch_requests(reports: list[tuple[int, bytes]], drone_ids: list[str], size: int) -> list[tuple[int, bytes]]:
    """``size`` consecutive reports of one drone per request; request n is drone n % drones's next batch."""
    by_drone: dict[int, list[bytes]] = {}
    for index, raw in reports:
        by_drone.setdefault(index, []).append(renamed(raw, index, drone_ids))
    batches = {
        index: [items[i : i + size] for i in range(0, len(items) - size + 1, size)] for index, items in by_drone.items()
    }
    requests = []
    for turn in range(max((len(b) for b in batches.values()), default=0)):
        for index in sorted(batches):
            if turn < len(batches[index]):
                requests.append((index, b"[" + b",".join(batches[index][turn]) + b"]"))
    return requests


def reports_in(body: bytes) -> list[bytes]:
    """The report bytes of one request body, for the direct producer."""
    if body.startswith(b"["):
        import msgspec

        return [bytes(item) for item in msgspec.json.decode(body, type=list[msgspec.Raw])]
    return [body]


# --- the drones: registered in daphne's database, by a child process using that database --------


def register_child(path: Path, prefix: str, count: int, *, with_tokens: bool = True) -> None:
    """Child process: migrate, register ``count`` drones ``{prefix}{i:05d}``, write their tokens to ``path``.

    Without tokens (the health consumer's drones, which send no HTTP), one bulk insert.
    """
    from common import django_setup

    django_setup()
    from django.core.management import call_command

    from ingest.fleet import register_drone
    from ingest.models import Drone

    call_command("migrate", verbosity=0)
    if with_tokens:
        tokens = [register_drone(Drone(drone_id=f"{prefix}{i:05d}", name="bench")) for i in range(count)]
    else:
        Drone.objects.bulk_create([Drone(drone_id=f"{prefix}{i:05d}") for i in range(count)])
        tokens = []
    path.write_text(json.dumps(tokens))


def with_profile(env: dict, run_database: str, urls: dict) -> dict:
    """The child processes' environment on the run's PostgreSQL database and Redis, when given."""
    env = {**env, "DATABASE_URL": run_database or env["DATABASE_URL"]}
    if urls["REDIS_URL"]:
        env["REDIS_URL"] = urls["REDIS_URL"]
    return env


def run_self(env: dict, *options: str) -> None:
    subprocess.run([sys.executable, str(Path(__file__).resolve()), *options], env=env, cwd=ROOT, check=True)


# --- the load: wrk with a Lua script rotating (token, body) pairs ------------------------------

WRK_SCRIPT = """
-- Each thread reads its share of the (token TAB body) lines and sends them in turn.
local pairs_path, nthreads = "%(pairs)s", %(threads)d
local threads, made = {}, 0

function setup(thread)
  thread:set("id", made)
  made = made + 1
  table.insert(threads, thread)
end

function init(args)
  queue, turn, line_no = {}, 0, 0
  accepted, limited, other = 0, 0, 0
  for line in io.lines(pairs_path) do
    if line_no %% nthreads == id then
      local tab = line:find("\\t", 1, true)
      local headers = {["Content-Type"] = "application/json", ["X-Forwarded-Proto"] = "https",
                       ["Authorization"] = "Bearer " .. line:sub(1, tab - 1)}
      queue[#queue + 1] = wrk.format("POST", nil, headers, line:sub(tab + 1))
    end
    line_no = line_no + 1
  end
end

function request()
  turn = turn %% #queue + 1
  return queue[turn]
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, l, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a, l, o = a + t:get("accepted"), l + t:get("limited"), o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format("PW-RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, a, l, o, e.connect + e.read + e.write, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), math.floor(latency.mean),
    latency.max, made))
end
"""


def wrk(url: str, pairs: list[tuple[str, bytes]], seconds: float, connections: int, scratch: Path) -> dict:
    """Run wrk on ``url`` sending ``pairs`` (token, body) in turn; status counts and latency in ms."""
    pairs_path, script = scratch / "pairs.tsv", scratch / "ingest.lua"
    with pairs_path.open("wb") as out:
        for token, body in pairs:
            out.write(token.encode() + b"\t" + body + b"\n")
    threads = 2
    script.write_text(WRK_SCRIPT % {"pairs": pairs_path, "threads": threads})
    options = ["-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s", "--timeout", "10s"]
    run = subprocess.run(
        ["wrk", *options, "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"^PW-RESULT (.*)$", run.stdout, re.MULTILINE)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    requests, duration_us, accepted, limited, other, socket_errors, timeouts, p50, p99, mean, worst, _ = map(
        int, found.group(1).split()
    )
    seconds_run = duration_us / 1e6
    return {
        "requests": requests,
        "seconds": seconds_run,
        "requests_per_s": requests / seconds_run,
        "accepted": accepted,
        "rate_limited": limited,
        "other_status": other,
        "socket_errors": socket_errors,
        "timeouts": timeouts,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "mean_ms": mean / 1000,
        "max_ms": worst / 1000,
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-Proto": "https", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


# --- the baseline ------------------------------------------------------------------------------


async def direct(records: list[tuple[bytes, bytes]], total: int) -> float:
    """Reports/s of one aiokafka producer, acks=all, sending ``records`` (key, value) in turn."""
    from peacewatch.streams import kafka

    producer = kafka.make_producer(linger_ms=2)
    await producer.start()
    topic = kafka.topic("reports")
    try:
        started = time.perf_counter()
        pending = []
        for i in range(total):
            key, value = records[i % len(records)]
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return total / (time.perf_counter() - started)
    finally:
        await producer.stop()


# --- one repeat: register, start daphne, each mode then its baseline ------------------------------


def ingest_run(attempt: int, args, pools: dict, urls: dict) -> dict[str, dict]:
    """One repeat of every mode: its own topics and database, drone ids of its own (Redis may be shared)."""
    prefix = f"pwb-{run_suffix()[:8]}-"  # unique: a shared database or Redis may hold earlier runs
    drone_ids = [f"{prefix}{i:05d}" for i in range(args.drones)]
    run_database = fresh_postgres(urls["DATABASE_URL"]) if urls["DATABASE_URL"] else ""
    try:
        with bench_env(args.engines) as (scratch, env):
            results = ingest_modes(
                attempt, args, pools, prefix, drone_ids, scratch, with_profile(env, run_database, urls)
            )
    finally:
        if run_database:
            drop_postgres(urls["DATABASE_URL"], run_database)
    return results


def make_pools(args, pools: dict) -> None:
    """Each mode's first-wave reports, once for every run (only the drone ids change from run to run)."""
    started = time.monotonic()
    if "single" in args.modes:
        pools["single"] = first_wave_reports(args.single_pool + 1, args.drones)
    if "batch" in args.modes:
        # One batch per drone in turn: a fleet of as many drones as the pool has requests (at most --drones).
        fleet = min(args.drones, args.batch_pool + 1)
        turns = -(-(args.batch_pool + 1) // fleet)
        pools["batch"] = first_wave_reports(turns * fleet * args.batch, fleet, seed=8)
    progress(f"{sum(map(len, pools.values())):,} first-wave reports made in {time.monotonic() - started:.0f}s")


def ingest_modes(attempt: int, args, pools: dict, prefix: str, drone_ids: list[str], scratch: Path, env: dict):
    """Register the drones, run wrk per mode against daphne, stop it, then the direct producer per mode."""
    if not pools:
        make_pools(args, pools)
    for name in ("INGEST_RATE_PER_S", "INGEST_BURST"):
        env.pop(name, None)  # the defaults of peacewatch/settings.py
    # As behind the TLS proxy of docker/.env.example: without it, DEBUG off answers
    # every plain-HTTP request with a redirect to https, and nothing is ingested.
    env["TRUST_X_FORWARDED_PROTO"] = "true"
    tokens_path = scratch / "tokens.json"
    started = time.monotonic()
    run_self(env, "--register-drones", str(tokens_path), "--drone-prefix", prefix, "--drones", str(args.drones))
    tokens = json.loads(tokens_path.read_text())
    progress(f"run {attempt}: registered {len(tokens):,} drones in {time.monotonic() - started:.0f}s")
    requests = {
        mode: single_requests(pools[mode], drone_ids)
        if mode == "single"
        else batch_requests(pools[mode], drone_ids, args.batch)
        for mode in args.modes
    }
    results = {}
    port = free_port()
    from peacewatch.streams.broker import stop_process, wait_for_port

    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "peacewatch.asgi:application"],
        env=env,
        cwd=ROOT,
        stdout=open(scratch / "web.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/v1/ingest/reports"
    try:
        wait_for_port("127.0.0.1", port, timeout=60, process=web)
        for mode in args.modes:
            warm_index, warm_body = requests[mode].pop()  # kept out of the run: starts the producer, the pool
            if (status := post(url, tokens[warm_index], warm_body)) != 202:
                raise SystemExit(f"the warm-up request was answered {status}, not 202; see {scratch}/web.log")
            pool = requests[mode]
            progress(f"run {attempt}, {mode}: wrk for {args.seconds:.0f}s, {len(pool):,} requests in the pool")
            cpu_before = cpu_seconds(web.pid)
            result = wrk(url, [(tokens[i], body) for i, body in pool], args.seconds, args.connections, scratch)
            # Whether daphne was the bound: a process near one core is held by Python's lock.
            result["web_cores"] = (cpu_seconds(web.pid) - cpu_before) / result["seconds"]
            result["web_cpu_ms_per_request"] = result["web_cores"] * 1000 / result["requests_per_s"]
            result["reports_per_s"] = result["accepted"] * (1 if mode == "single" else args.batch) / result["seconds"]
            result["pool_requests"] = len(pool)
            progress(
                f"run {attempt}, {mode}: {result['accepted']:,} accepted, {result['rate_limited']:,} rate limited,"
                f" {result['other_status']:,} other, {result['socket_errors'] + result['timeouts']:,} socket"
                f" errors; {result['reports_per_s']:,.0f} reports/s ({result['requests_per_s']:,.0f} requests/s);"
                f" daphne used {result['web_cores']:.2f} cores, {result['web_cpu_ms_per_request']:.1f} ms per request"
            )
            if result["other_status"] or result["socket_errors"] or result["timeouts"]:
                progress(f"WARNING: {mode}: requests neither accepted nor rate limited; see {scratch}/web.log")
                progress((scratch / "web.log").read_text(errors="replace")[-2000:])
            results[mode] = result
    finally:
        # Stopped before the baselines: its live map reads the reports topic, and would
        # spend the baseline's cores reading the baseline's records.
        stop_process(web)
    for mode in args.modes:
        result = results[mode]
        records = [(drone_ids[i].encode(), raw) for i, body in requests[mode] for raw in reports_in(body)]
        total = max(100_000, int(result["reports_per_s"] * 5))
        result["direct_reports_per_s"] = asyncio.run(direct(records, total))
        result["ratio"] = result["reports_per_s"] / result["direct_reports_per_s"]
        progress(
            f"run {attempt}, {mode}: direct producer {result['direct_reports_per_s']:,.0f} reports/s,"
            f" ratio {result['ratio']:.3f}"
        )
    return results


def emit_mode(mode: str, runs: list[dict], args) -> None:
    extra = {
        "mode": mode,
        "reports_per_request": 1 if mode == "single" else args.batch,
        "drones": args.drones,
        "connections": args.connections,
        "seconds": args.seconds,
    }
    emit_median("http_ingest_rate", [r["reports_per_s"] for r in runs], "accepted reports/s", **extra)
    emit_median("http_ingest_requests", [r["requests_per_s"] for r in runs], "requests/s", **extra)
    emit_median("http_ingest_p50", [r["p50_ms"] for r in runs], "ms", digits=1, **extra)
    emit_median("http_ingest_p99", [r["p99_ms"] for r in runs], "ms", digits=1, **extra)
    emit_median(
        "http_ingest_web_cores", [r["web_cores"] for r in runs], "cores (daphne, during wrk)", digits=2, **extra
    )
    emit_median("http_ingest_web_cpu_per_request", [r["web_cpu_ms_per_request"] for r in runs], "ms", digits=2, **extra)
    emit(
        "http_ingest_outcomes",
        {
            "accepted": [r["accepted"] for r in runs],
            "rate_limited": [r["rate_limited"] for r in runs],
            "other_status": [r["other_status"] for r in runs],
            "socket_errors": [r["socket_errors"] for r in runs],
            "timeouts": [r["timeouts"] for r in runs],
        },
        "requests per run",
        pool_requests=[r["pool_requests"] for r in runs],
        **extra,
    )
    emit_median("direct_produce_rate", [r["direct_reports_per_s"] for r in runs], "reports/s", mode=mode)
    emit_median("http_to_direct_ratio", [r["ratio"] for r in runs], "ratio", digits=3, mode=mode, target=">= 0.3")
    if any(r["rate_limited"] for r in runs):
        progress(f"NOTE: {mode}: drones were rate limited at this rate; run again with more --drones")


# --- the drones consumer's lag -----------------------------------------------------------------


async def lag_run(seconds: float, rate: int, drones: int, env: dict, scratch: Path) -> list[int]:
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
    fleet = Fleet.first_wave(drones=drones, seed=3)

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


def lag_figure(args, urls: dict) -> None:
    drones = 3500
    run_database = fresh_postgres(urls["DATABASE_URL"]) if urls["DATABASE_URL"] else ""
    try:
        with bench_env(args.engines) as (scratch, env):
            env = with_profile(env, run_database, urls)
            registered = ("--register-drones", str(scratch / "drones.json"), "--drone-prefix", "pw-")
            run_self(env, *registered, "--drones", str(drones), "--without-tokens")  # the simulator's ids
            lags = asyncio.run(lag_run(args.lag_seconds, FIRST_WAVE_RATE, drones, env, scratch))
    finally:
        if run_database:
            drop_postgres(urls["DATABASE_URL"], run_database)
    emit(
        "drones_consumer_lag",
        lags[-1] if lags else None,
        "records at the end",
        samples_every_5s=lags,
        rate=FIRST_WAVE_RATE,
        target="no growing lag",
    )


# --- entry point ---------------------------------------------------------------------------------


def profile_urls(args) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL for daphne: the options, else (with ``--engines real``) the environment.

    The embedded run ignores the environment's, so `make bench` with them exported still measures the
    embedded default there and the production profile on the real engines.
    """
    from_env = args.engines == "real"
    database = args.database_url or (os.environ.get("DATABASE_URL", "") if from_env else "")
    if database and not database.startswith(("postgres://", "postgresql://", "pgsql://")):
        if args.database_url:
            raise SystemExit(f"--database-url must be a PostgreSQL URL, not {database.split(':', 1)[0]}:")
        database = ""  # a SQLite DATABASE_URL in the shell is the embedded default anyway
    redis = args.redis_url or (os.environ.get("REDIS_URL", "") if from_env else "")
    return {"DATABASE_URL": database, "REDIS_URL": redis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", choices=("embedded", "real"), default="embedded")
    parser.add_argument("--drones", type=int, default=1000, help="registered drones sending (default 1,000)")
    parser.add_argument("--modes", default="single,batch", help="single (1 report per request), batch, or both")
    parser.add_argument("--batch", type=int, default=100, help="reports per request in batch mode")
    parser.add_argument("--seconds", type=float, default=20, help="wrk's run per mode")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    parser.add_argument("--single-pool", type=int, default=20_000, help="distinct single-report requests")
    parser.add_argument("--batch-pool", type=int, default=1000, help="distinct batch requests")
    parser.add_argument(
        "--database-url", help="PostgreSQL for daphne's tokens (with --engines real, default: DATABASE_URL if postgres)"
    )
    parser.add_argument("--redis-url", help="Redis for daphne's rate limits (with --engines real, default: REDIS_URL)")
    parser.add_argument("--lag-seconds", type=float, default=60, help="0 skips the drones consumer's lag")
    parser.add_argument("--register-drones", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--drone-prefix", help=argparse.SUPPRESS)
    parser.add_argument("--without-tokens", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.register_drones:
        return register_child(args.register_drones, args.drone_prefix, args.drones, with_tokens=not args.without_tokens)
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    if not shutil.which("wrk"):
        sys.exit("bench/fleet_ingest.py needs wrk (sudo apt-get install wrk)")

    urls = profile_urls(args)
    database = "postgresql" if urls["DATABASE_URL"] else "sqlite"
    rate_limits = "redis" if urls["REDIS_URL"] else "locmem (per process)"
    set_labels(database=database, rate_limits=rate_limits)
    production = bool(urls["DATABASE_URL"] and urls["REDIS_URL"] and args.engines == "real")
    if not production:
        progress(
            "NOTE: not the production profile (it needs --engines real, --database-url for PostgreSQL and"
            f" --redis-url): engines {args.engines}, database {database}, rate limits {rate_limits}"
        )
    emit("machine", machine(), "info")
    emit("profile", "production" if production else "embedded" if args.engines == "embedded" else "mixed", "info")

    pools: dict[str, list] = {}  # made in the first run: the simulator reads Django's settings, set up there
    runs: dict[str, list[dict]] = {mode: [] for mode in args.modes}
    for attempt in range(1, args.repeat + 1):
        for mode, result in ingest_run(attempt, args, pools, urls).items():
            runs[mode].append(result)
    for mode in args.modes:
        emit_mode(mode, runs[mode], args)
    failed = any(r["other_status"] or r["socket_errors"] or r["timeouts"] for rs in runs.values() for r in rs)

    if args.lag_seconds > 0:
        lag_figure(args, urls)
    if failed:
        sys.exit("some ingest requests were neither accepted nor rate limited (see the WARNING lines)")


if __name__ == "__main__":
    main()
