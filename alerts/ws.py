"""``/ws/alerts/``: alert events (CONTRACT section 3) pushed to signed-in officers."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from alerts.live import hub
from peacewatch import metrics
from peacewatch.logs import log
from peacewatch.roles import OFFICER, has_role

logger = logging.getLogger(__name__)

FORBIDDEN = 4403  # WebSocket close code: signed out or not an officer
RESYNC = 4409  # the connection fell behind; reconnect and fetch what was missed


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
        hub.ensure_started()
        self.subscriber = hub.subscribe()
        await self.accept()
        # server_time lets a browser with no alert yet know from when to catch up.
        hello = {"type": "hello", "user": user.get_username(), "server_time": timezone.now().isoformat()}
        await self.send(text_data=json.dumps(hello))
        await self.send(text_data=hub.snapshot())
        self.pump = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        while True:
            frame = await self.subscriber.next_message()
            if frame is None:
                # Cut rather than silently skip: the browser resyncs from the API.
                await self.close(code=RESYNC)
                return
            message, observed_at = frame
            await self.send(text_data=message)
            if observed_at is not None:
                metrics.ALERT_LATENCY.observe(max(0.0, time.time() - observed_at))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if text_data and '"ping"' in text_data:
            await self.send(text_data='{"type": "pong"}')

    async def disconnect(self, code) -> None:
        subscriber = getattr(self, "subscriber", None)
        if subscriber is not None:
            hub.unsubscribe(subscriber)
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()
