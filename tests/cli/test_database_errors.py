"""A database that cannot be opened, as a user meets it: every command that opens one prints one
`error:` line and exits 1, within the connect timeout, instead of hanging or a traceback; a
command that uses an existing database never creates one."""

import json
import os
import socket
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, postgres_admin
from tests.server.test_process import BIN

# Each run gives up after the connect timeout; the subprocess timeout is only the hang guard.
CONNECT_TIMEOUT = "1"
HANG_GUARD_SECONDS = 60


@pytest.fixture(scope="module")
def silent_server():
    """A TCP port that accepts connections (the kernel completes the handshake) and never
    answers: a database server that hangs, or a firewall that swallows packets."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"postgres://postgres@127.0.0.1:{listener.getsockname()[1]}/crypto"


def run(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CRYPTO_DATABASE_URL": url,
           "CRYPTO_DATABASE_CONNECT_TIMEOUT_SECONDS": CONNECT_TIMEOUT}
    return subprocess.run([str(BIN / "crypto"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=HANG_GUARD_SECONDS)


def assert_one_error_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


BAD_URLS = {
    "a directory that does not exist": ("sqlite:///nonexistent-dir/x.db", "nonexistent-dir"),
    "an unknown scheme": ("foo://bar", "Unknown DB scheme: foo"),
    "a refused connection": ("postgres://postgres@127.0.0.1:1/x", "Connect call failed"),
}
COMMANDS = {
    "migrate": ("migrate",),
    "seed": ("seed",),
    "audit": ("audit",),
    "prices import": ("prices", "import", "markets.json"),
    "prices sync": ("prices", "sync", "--once", "--url", "http://127.0.0.1:1/api/v3"),
    "serve": ("serve", "--port", "0"),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("url, reason", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_bad_database_url_is_one_error_line_and_exit_1(command, url, reason, tmp_path):
    (tmp_path / "markets.json").write_text(json.dumps([]))
    result = run(*command, url=url, cwd=tmp_path)
    assert_one_error_line(result, f"error: cannot open database {url}: ", reason)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(
        command, silent_server, tmp_path):
    (tmp_path / "markets.json").write_text(json.dumps([]))
    result = run(*command, url=silent_server, cwd=tmp_path)
    assert_one_error_line(result, f"error: cannot open database {silent_server}: ",
                          f"no answer within {CONNECT_TIMEOUT}s")


def test_a_password_in_the_url_is_not_printed(tmp_path):
    result = run("migrate", url="postgres://me:s3cret@127.0.0.1:1/x", cwd=tmp_path)
    assert_one_error_line(result, "cannot open database postgres://me:***@127.0.0.1:1/x")
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [("audit",), ("seed", "--if-empty"), ("seed",)],
                         ids=["audit", "seed --if-empty", "seed"])
def test_commands_on_an_existing_database_never_create_one(command, tmp_path):
    result = run(*command, url="sqlite://./crypto.db", cwd=tmp_path)
    assert_one_error_line(result, "cannot open database sqlite://./crypto.db: no such file",
                          "run `crypto migrate`")
    assert list(tmp_path.iterdir()) == []


def test_audit_of_a_database_without_tables_asks_for_migrate_and_creates_none(tmp_path):
    (tmp_path / "crypto.db").touch()
    result = run("audit", url="sqlite://./crypto.db", cwd=tmp_path)
    assert_one_error_line(result, "database sqlite://./crypto.db has ",
                          "unapplied migrations (models.0001_initial",
                          "run `crypto migrate`")
    tables = sqlite3.connect(tmp_path / "crypto.db").execute(
        "SELECT name FROM sqlite_master").fetchall()
    assert tables == []  # not even the migrations' bookkeeping table


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CRYPTO_TEST_POSTGRES_URL")
def test_audit_of_an_empty_postgres_database_asks_for_migrate(tmp_path):
    base = POSTGRES_URL.rpartition("/")[0]
    name = f"crypto_empty_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        result = run("audit", url=f"{base}/{name}", cwd=tmp_path)
        seeded = run("seed", "--if-empty", url=f"{base}/{name}", cwd=tmp_path)
    finally:
        postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for refused in (result, seeded):
        assert_one_error_line(refused, "unapplied migrations", "run `crypto migrate`")


def test_migrate_then_audit_work_on_a_new_file(tmp_path):
    url = "sqlite://./crypto.db"
    assert run("migrate", url=url, cwd=tmp_path).returncode == 0
    audited = run("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 0, audited.stderr
    assert "ledger is consistent" in audited.stdout
