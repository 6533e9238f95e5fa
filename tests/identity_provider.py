"""A real OpenID Connect provider on loopback for the tests: panva's oidc-provider (npm), in its own process.

``make test`` installs it (``tests/oidc``, ``npm ci``). Each provider has its
own port (chosen by the system as the provider binds it, so no other process
can take it in between), signing key and directory of accounts (a JSON file read
again at each sign-in, so a test can change someone's roles at the provider).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from peacewatch.streams.broker import stop_process

HERE = Path(__file__).resolve().parent / "oidc"


@dataclass
class IdentityProvider:
    directory: Path
    port: int = 0  # 0 until started: the provider reports the port it bound
    client_id: str = "peacewatch"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, redirect_uri: str, accounts: dict[str, dict]) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(
                "the test identity provider needs Node.js and `npm ci` in tests/oidc (make test does it)"
            )
        client = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "client_secret_post",
        }
        self.directory.write_text(json.dumps({"clients": [client], "accounts": accounts}))
        log_path = self.directory.with_suffix(".log")
        log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs"), str(self.port), str(self.directory)],
            cwd=HERE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.port = self._wait_until_listening(log_path, timeout=60)

    def _wait_until_listening(self, log_path: Path, *, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"^listening http://127\.0\.0\.1:(\d+)$", log_path.read_text(), re.MULTILINE)
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        code = self.process.poll()
        self.stop()
        state = f"exited with code {code}" if code is not None else f"not listening after {timeout}s"
        raise RuntimeError(f"the test identity provider {state}; its output:\n{log_path.read_text()[-4000:]}")

    def set_account(self, login: str, claims: dict) -> None:
        directory = json.loads(self.directory.read_text())
        directory["accounts"][login] = claims
        self.directory.write_text(json.dumps(directory))

    def relying_party_env(self) -> dict[str, str]:
        """PeaceWatch's variables for this provider, from its discovery document."""
        found = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()
        return {
            "OIDC_OP_ISSUER": found["issuer"],
            "OIDC_OP_AUTHORIZATION_ENDPOINT": found["authorization_endpoint"],
            "OIDC_OP_TOKEN_ENDPOINT": found["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": found["userinfo_endpoint"],
            "OIDC_OP_JWKS_ENDPOINT": found["jwks_uri"],
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_PROVIDER_NAME": "Test Police Identity",
        }

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None
