"""One worker process kept running: forked again at once from a warm parent when it dies.

A consumer that crashes (SIGKILL, the kernel's out-of-memory killer, a fault in
a C extension) would otherwise wait for its own supervisor (systemd,
Kubernetes) to start a new Python, import Django and the handlers: seconds on
a busy machine, while nobody reads its partitions (with static membership the
group keeps them for the member until the session times out). This parent
does the imports once and forks a fresh worker from that state in
milliseconds; the worker rejoins under the same ``group.instance.id`` and takes
its partitions back without a rebalance.

The parent holds no connection, thread or event loop: the worker opens its
own. SIGTERM and SIGINT go to the worker, which stops cleanly (finish the
batch, commit), and the parent exits with the worker's status. If the parent
itself dies, the kernel kills the worker too (``PR_SET_PDEATHSIG``), so a
killed consumer never leaves an orphan holding the same instance id as its
replacement. A worker that keeps dying young is restarted with back-off.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable

from django.db import connections

from peacewatch.logs import log
from peacewatch.streams.runner import Backoff

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker notices below and on its next check
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _worker(work: Callable[[], None], parent: int) -> None:
    """In the forked child: run ``work`` and exit, never returning into the parent's code."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _die_with(parent)
        work()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logger.exception("worker_failed")
    finally:
        logging.shutdown()
        os._exit(code)


def supervise(
    work: Callable[[], None],
    *,
    name: str,
    on_exit: Callable[[int], None] | None = None,
    healthy_after_s: float = 3.0,
    max_backoff_s: float = 30.0,
) -> int:
    """Run ``work`` in a forked worker until it ends by itself or the parent is told to stop.

    Returns the exit code to end the parent with: the worker's, or 0 after a
    requested stop. ``on_exit(pid)`` runs in the parent after each worker ends
    (metrics of a killed process are marked dead there). A worker that lived
    ``healthy_after_s``, or the first to die sooner, is restarted at once; each
    further young death waits the runner's back-off (0.5 s doubling up to ``max_backoff_s``, with jitter).
    """
    parent = os.getpid()
    state = {"stopping": 0, "child": 0}

    def forward(signum, _frame) -> None:
        state["stopping"] = signum
        if state["child"]:
            try:
                os.kill(state["child"], signum)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    restarts = young_deaths = 0
    backoff = Backoff(cap=max_backoff_s)
    try:
        while True:
            connections.close_all()  # nothing of the parent's may be shared with a worker
            started = time.monotonic()
            child = os.fork()
            if child == 0:
                _worker(work, parent)
            state["child"] = child
            if state["stopping"]:  # told to stop between the fork and now
                os.kill(child, state["stopping"])
            log(logger, logging.INFO, "worker_started", consumer=name, pid=child, restarts=restarts)
            _, status = os.waitpid(child, 0)
            state["child"] = 0
            code = os.waitstatus_to_exitcode(status)
            if on_exit is not None:
                on_exit(child)
            if state["stopping"]:
                return max(code, 0)
            if code == 0:
                log(logger, logging.INFO, "worker_finished", consumer=name, pid=child)
                return 0
            lived = time.monotonic() - started
            young_deaths = 0 if lived >= healthy_after_s else young_deaths + 1
            if young_deaths <= 1:
                backoff.reset()
            # The first death is restarted at once; only a worker that keeps dying young waits.
            delay = backoff.next() if young_deaths > 1 else 0.0
            restarts += 1
            log(
                logger,
                logging.WARNING,
                "worker_died",
                consumer=name,
                pid=child,
                # Negative: the signal that killed it (-9 for SIGKILL).
                exit=code,
                lived_s=round(lived, 1),
                restart_in_s=round(delay, 2),
            )
            deadline = time.monotonic() + delay
            while not state["stopping"] and time.monotonic() < deadline:
                time.sleep(min(0.2, deadline - time.monotonic()))
            if state["stopping"]:
                return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
