"""Production hardening as a browser or an attacker meets it: CSP, sign-in lockout, passwords."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_pages_carry_a_policy_that_runs_only_this_origins_scripts(client, officer):
    client.force_login(officer)
    for path in ("/accounts/login/", "/"):
        policy = csp_of(client.get(path))
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert not any("unsafe" in source for sources in policy.values() for source in sources)


def test_the_pages_have_no_inline_script_the_policy_would_block(client, officer):
    client.force_login(officer)
    for path in ("/accounts/login/", "/"):
        html = client.get(path).content.decode()
        for tag in html.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            # Either an external file or a JSON data block (never executed).
            assert "src=" in opening or 'type="application/json"' in opening, opening
        assert " onclick=" not in html and " onload=" not in html and " style=" not in html


def sign_in(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_repeated_wrong_passwords_lock_that_username_out_from_that_address(client, officer, analyst, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "officer1", "wrong password").status_code == 200  # the form again
    locked = sign_in(client, "officer1", "wrong password")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    # Locked out means even the right password is refused for now...
    assert sign_in(client, "officer1", "correct-horse-battery").status_code == 429
    # ...while another user at the same address still signs in.
    response = sign_in(client, "analyst1", "correct-horse-battery")
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(analyst.pk)


def test_the_same_username_from_another_address_is_not_locked(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "officer1", "wrong password")
    other = client.post(
        "/accounts/login/", {"username": "officer1", "password": "correct-horse-battery"}, REMOTE_ADDR="10.9.8.7"
    )
    assert other.status_code == 302


def test_a_good_sign_in_resets_the_count(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "officer1", "wrong password")
    assert sign_in(client, "officer1", "correct-horse-battery").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "officer1", "wrong password").status_code == 200


def test_one_address_trying_many_usernames_is_refused_after_the_address_limit(client, analyst, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 12
    # Password spraying: each username fails fewer times than its own limit...
    for n in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        assert sign_in(client, f"guess{n % 6}", "Winter2026!").status_code == 200
    # ...but the address has had enough: refused, even with a right password.
    refused = sign_in(client, "analyst1", "correct-horse-battery")
    assert refused.status_code == 429
    assert b"Too many failed sign-ins" in refused.content
    other_address = client.post(
        "/accounts/login/", {"username": "analyst1", "password": "correct-horse-battery"}, REMOTE_ADDR="10.9.8.7"
    )
    assert other_address.status_code == 302


def test_the_admin_sign_in_is_rate_limited_too(client, admin_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "admin1", "password": "nope", "next": "/admin/"})
    assert client.post("/admin/login/", {"username": "admin1", "password": "correct-horse-battery"}).status_code == 429


@pytest.mark.parametrize("password", ["short", "12345678901234", "password12345", "officer1officer1"])
def test_weak_passwords_are_refused(password, django_user_model):
    user = django_user_model(username="officer1officer1")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_random_password_is_accepted():
    validate_password("quiet-river-lantern-88")


# --- Fail closed: no public key, no debug by default, private files -------------------------


def start(tmp_path, *argv: str, **env: str):
    import subprocess
    import sys

    from django.conf import settings

    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "PEACEWATCH_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "SECRET_KEY is unset"),
        ({"DEBUG": "false"}, "SECRET_KEY is unset"),
        ({"SECRET_KEY": "change-me-to-50-random-characters"}, "SECRET_KEY is a placeholder"),  # .env.example's
        ({"SECRET_KEY": "django-insecure-" + "x7" * 30}, "SECRET_KEY is a placeholder"),
        ({"SECRET_KEY": "short-but-no-placeholder"}, "SECRET_KEY is too weak"),
    ],
)
def test_outside_development_a_missing_or_weak_secret_key_stops_start_up(tmp_path, env, says):
    result = start(tmp_path, "check", **env)
    assert result.returncode != 0
    assert says in result.stderr, result.stderr[-2000:]


def test_debug_is_off_unless_set(tmp_path):
    import secrets

    probe = "from django.conf import settings; print(settings.DEBUG)"
    result = start(tmp_path, "shell", "-c", probe, SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_development_gets_its_own_random_key_kept_private_across_restarts(tmp_path):
    probe = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = start(tmp_path, "shell", "-c", probe, DEBUG="true")
    second = start(tmp_path, "shell", "-c", probe, DEBUG="true")
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert first.stdout.strip().splitlines()[-1] == second.stdout.strip().splitlines()[-1] == key
    assert len(key) >= 50 and "insecure" not in key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other-checkout"
    assert start(other, "shell", "-c", probe, DEBUG="true").stdout.strip().splitlines()[-1] != key


def test_the_files_peacewatch_creates_are_its_users_alone(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    result = start(var, "migrate", "--noinput", "-v", "0", DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert var.stat().st_mode & 0o777 == 0o700
    created = [path for path in var.rglob("*")]
    assert any(path.name.endswith(".sqlite3") for path in created)  # password hashes and sessions live there
    for path in created:
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path
