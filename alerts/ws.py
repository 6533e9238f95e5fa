"""``/ws/alerts/``: alert events (CONTRACT section 3) pushed to signed-in officers.

Besides the events, the server sends ``hello`` (first frame: user, server
time, the last change ``seq`` committed, the flow-control window and the
heartbeat period), ``heartbeat`` after ``HEARTBEAT_S`` with nothing else to
send, and ``pong``. The browser sends ``ping`` and ``{"type": "ack", "received": N}``,
N being how many frames of this connection it has read; without acks the
server stops sending after the window and cuts the connection (4409) once it
stays full (``alerts.live``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.signals import user_logged_out
from django.utils import timezone

from alerts.live import (
    CUT_REVOKED,
    CUT_STALLED,
    HEARTBEAT_S,
    IDLE,
    STALL_S,
    WINDOW_BYTES,
    WINDOW_FRAMES,
    drone_squads,
    hub,
    start_when_serving,
)
from alerts.services import current_seq
from ingest import squads
from peacewatch import metrics
from peacewatch.logs import log
from peacewatch.roles import OFFICER, has_role

logger = logging.getLogger(__name__)

FORBIDDEN = 4403  # WebSocket close code: signed out or not an officer
RESYNC = 4409  # the connection fell behind; reconnect and fetch what was missed
NOT_READY = 4503  # this process cannot serve events yet; retry after a back-off

# Under daphne the alerts reader starts with the server, not at the first connection.
start_when_serving()


def _recheck_users_now(sender, request=None, user=None, **kwargs) -> None:
    # A sign-out through this process closes its sockets at once; others notice within seconds.
    hub.request_user_check()


user_logged_out.connect(_recheck_users_now, dispatch_uid="alerts_ws_logout")


class AlertStreamConsumer(AsyncWebsocketConsumer):
    # No channel layer: events come from this process's own Kafka reader
    # (alerts/live.py), so Redis being slow or down cannot cut officers off,
    # and no channel capacity can silently drop an alert.
    channel_layer_alias = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await database_sync_to_async(has_role)(user, OFFICER):
            log(logger, logging.WARNING, "ws_refused", user=getattr(user, "username", None) or "anonymous")
            await self.close(code=FORBIDDEN)
            return
        # Accept only once the reader holds its position: from the moment we
        # subscribe, every later change reaches this connection, and the
        # browser's catch-up (started when we accept) covers everything before.
        if not await hub.wait_ready():
            log(logger, logging.WARNING, "ws_not_ready", user=user.get_username())
            await self.accept()
            await self.close(code=NOT_READY)
            return
        session = self.scope.get("session")
        # The squads this officer sees (ingest.squads): events and positions of others' never reach them.
        seen = await database_sync_to_async(squads.squads_of)(user)
        if seen is not None:
            hub.squad_of = await database_sync_to_async(drone_squads)()
        self.subscriber = hub.subscribe(user_id=user.pk, session_key=getattr(session, "session_key", None), squads=seen)
        await self.accept()
        hello = {
            "type": "hello",
            "user": user.get_username(),
            # server_time lets a browser with no alert yet know from when to catch up (v1.0 clients).
            "server_time": timezone.now().isoformat(),
            "seq": await database_sync_to_async(current_seq)(),
            "flow": {"window_bytes": WINDOW_BYTES, "window_frames": WINDOW_FRAMES},
            "heartbeat_s": HEARTBEAT_S,
        }
        await self._send(json.dumps(hello))
        await self._send(hub.snapshot(seen))
        self.pump = asyncio.ensure_future(self._pump())

    async def _send(self, frame: str) -> None:
        self.subscriber.sent(frame)
        await self.send(text_data=frame)

    async def _pump(self) -> None:
        while True:
            frame = await self.subscriber.next_message(idle_s=HEARTBEAT_S)
            if frame is IDLE:
                await self._send(json.dumps({"type": "heartbeat", "server_time": timezone.now().isoformat()}))
                continue
            if frame is None:
                # Cut rather than silently skip: the browser resyncs from the API,
                # or, signed out, stops.
                if self.subscriber.cut == CUT_STALLED:
                    hub.stats["cut_stalled"] += 1
                    log(logger, logging.ERROR, "live_client_stalled", window_bytes=WINDOW_BYTES, stall_s=STALL_S)
                await self.close(code=FORBIDDEN if self.subscriber.cut == CUT_REVOKED else RESYNC)
                return
            message, observed_at = frame
            await self._send(message)
            if observed_at is not None:
                metrics.ALERT_LATENCY.observe(max(0.0, time.time() - observed_at))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        subscriber = getattr(self, "subscriber", None)
        if not text_data or subscriber is None:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "ack" and isinstance(message.get("received"), int):
            subscriber.ack(message["received"])
        elif message.get("type") == "ping":
            await self._send('{"type": "pong"}')

    async def disconnect(self, code) -> None:
        subscriber = getattr(self, "subscriber", None)
        if subscriber is not None:
            hub.unsubscribe(subscriber)
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()
