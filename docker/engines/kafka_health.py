"""Wait until the engines' Kafka cluster serves: used by engines.sh (aiokafka, no Django).

    kafka_health.py BOOTSTRAP [--brokers 3] [--timeout 90] [--status]

Ready means: every address of BOOTSTRAP answers, that many brokers are
registered (unfenced), the group coordinator answers (which creates
__consumer_offsets), every partition has a leader and every in-sync replica set is
complete (so the next fault a test injects starts from a healthy cluster).
Prints the cluster's state with --status instead of waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time


async def answers(address: str) -> bool:
    """Does this one broker serve requests? (A broker killed and restarted within the
    session timeout is still listed by the others before it serves again.)"""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=address, request_timeout_ms=3000)
    try:
        await client.bootstrap()
        return True
    except Exception:
        return False
    finally:
        await client.close()


async def snapshot(bootstrap: str) -> tuple[list[int], dict[str, list], list[str]]:
    from aiokafka.client import AIOKafkaClient, CoordinationType

    addresses = bootstrap.split(",")
    served = await asyncio.gather(*map(answers, addresses))
    silent = [address for address, ok in zip(addresses, served, strict=True) if not ok]
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=1000)
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        brokers = sorted(b.nodeId for b in metadata.brokers())
        partitions = {topic: sorted(parts.values()) for topic, parts in metadata._partitions.items()}
        try:
            # Creates __consumer_offsets on first call, so the first consumer group does not wait.
            await client.coordinator_lookup(CoordinationType.GROUP, "peacewatch-engines")
        except Exception:
            silent.append("group coordinator")
        return brokers, partitions, silent
    finally:
        await client.close()


def problems(brokers: list[int], partitions: dict[str, list], silent: list[str], expected: int) -> list[str]:
    found = [f"{name} does not answer" for name in silent]
    if len(brokers) < expected:
        found.append(f"{len(brokers)} of {expected} brokers registered ({brokers})")
    for topic, parts in partitions.items():
        leaderless = [p.partition for p in parts if p.leader == -1]
        short = [p.partition for p in parts if set(p.isr) != set(p.replicas)]
        if leaderless:
            found.append(f"{topic}: no leader for partitions {leaderless}")
        if short:
            found.append(f"{topic}: {len(short)} partitions under-replicated")
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--status", action="store_true", help="print the state once, do not wait")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # aiokafka warns on every refused connection

    if args.status:
        try:
            brokers, partitions, silent = asyncio.run(snapshot(args.bootstrap))
        except Exception as exc:
            print(f"kafka: not answering ({type(exc).__name__}: {exc})")
            return 1
        print(f"kafka: brokers {brokers}; topics: {', '.join(sorted(t for t in partitions if not t.startswith('__')))}")
        found = problems(brokers, partitions, silent, args.brokers)
        for line in found:
            print(f"kafka: {line}")
        return 1 if found else 0

    deadline = time.monotonic() + args.timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            brokers, partitions, silent = asyncio.run(snapshot(args.bootstrap))
            found = problems(brokers, partitions, silent, args.brokers)
            if not found:
                return 0
            last = "; ".join(found[:4])
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    print(f"kafka not ready after {args.timeout:.0f}s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
