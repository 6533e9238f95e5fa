"""ASGI entry point served by daphne: HTTP through Django, WebSockets through Channels."""

import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peacewatch.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from alerts.ws import AlertStreamConsumer  # noqa: E402
from peacewatch import body_limits  # noqa: E402
from peacewatch.origin import SameOriginValidator  # noqa: E402

websocket_urlpatterns = [path("ws/alerts/", AlertStreamConsumer.as_asgi())]

if "daphne.server" in sys.modules:  # served by daphne (not a test's in-process communicator)
    body_limits.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Another origin (scheme, host or port) is refused before any consumer code runs.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
