"""Container healthcheck of the web server: GET /healthz on the local port, exit 0 when it answers 200.

Sends the first ALLOWED_HOSTS entry as Host (Django refuses other hosts) and
plain HTTP (/healthz is exempt from the HTTPS redirect). Standard library only:
it must not import Django, so it stays cheap every few seconds.
"""

import os
import sys
import urllib.request

host = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip().lstrip("*.") or "localhost"
port = os.environ.get("PORT", "8000")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
    print(f"healthz failed: {exc}", file=sys.stderr)
    sys.exit(1)
