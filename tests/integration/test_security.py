"""Issue 18, security: the S3 gateway takes unsigned requests on loopback only; the embedded
PostgreSQL listens on loopback and wants its password (a data folder from before passwords
gets one); ``stack.json`` and the password file are 0600; secrets stay out of ``status`` (unless
``--show-secrets``) and out of every log file of a real run."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shutil
import stat
import subprocess
from pathlib import Path

import aiohttp
import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from stack_cli import cli as _cli

from pachstream.errors import ConfigError
from pachstream.gateway import S3Gateway
from pachstream.settings import Settings
from pachstream.stack._secrets import PASSWORD_FILE
from pachstream.stack.servers import (
    _as_pg_user,
    _open_prefixes,
    _open_tree,
    _pg_bin,
    free_port,
    port_answers,
    start_postgres,
    stop_servers,
)
from pachstream.testing.services import RunningStack

AK = "sec-access"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACHSTREAM_", "PG"))}
    return {**env, "PACHSTREAM_HOME": str(home), "PACHSTREAM_KAFKA_STORAGE": "memory", **extra}


def _psql(dsn: str, sql: str) -> subprocess.CompletedProcess[str]:
    # -w: never prompt; no PGPASSWORD and no password file, so only the DSN's password counts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = "/dev/null"
    return subprocess.run(
        [str(_pg_bin() / "psql"), "-w", "-tAc", sql, dsn],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ----------------------------------------------------------------------------- the S3 gateway


@pytest.mark.parametrize("command", [("run", "s3gateway"), ("up", "--detach")])
def test_an_unsigned_gateway_beyond_loopback_does_not_start(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    port = free_port()
    env = _env(tmp_path / "home", PACHSTREAM_GATEWAY_ADDRESS=f"0.0.0.0:{port}")
    refused = _cli(env, *command, timeout=60)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    message = refused.stderr
    assert message.startswith(f"error: the S3 gateway would listen on 0.0.0.0:{port}"), message
    for part in ("not a loopback address", "PACHSTREAM_GATEWAY_SECRET_KEY", "127.0.0.1"):
        assert part in message
    assert not port_answers(port)
    # `up` refused before starting anything.
    assert not (tmp_path / "home" / "stack.json").exists()


async def test_with_keys_the_gateway_serves_beyond_loopback_and_without_on_loopback(
    settings: Settings,
) -> None:
    with pytest.raises(ConfigError, match="0.0.0.0:0"):
        S3Gateway(settings, host="0.0.0.0")
    secret = secrets.token_hex(12)
    keyed = S3Gateway(
        dataclasses.replace(settings, gateway_keys=((AK, secret),)), host="0.0.0.0", port=0
    )
    open_ = S3Gateway(settings, host="127.0.0.1", port=0)
    async with RunningStack(settings, pipelines=False) as stack:
        await stack.client.create_repo("sec")
        await keyed.start()
        await open_.start()
        try:
            # Every interface: reached here through loopback, signed.
            wide = f"http://127.0.0.1:{keyed.port}"

            def signed() -> bytes:
                s3 = boto3.client(
                    "s3",
                    endpoint_url=wide,
                    aws_access_key_id=AK,
                    aws_secret_access_key=secret,
                    region_name="us-east-1",
                    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
                )
                s3.put_object(Bucket="master.sec", Key="a.txt", Body=b"signed")
                body: bytes = s3.get_object(Bucket="master.sec", Key="a.txt")["Body"].read()
                try:
                    boto3.client(
                        "s3",
                        endpoint_url=wide,
                        aws_access_key_id=AK,
                        aws_secret_access_key="wrong-secret",
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
                    ).get_object(Bucket="master.sec", Key="a.txt")
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "SignatureDoesNotMatch"
                else:
                    raise AssertionError("a wrong secret was accepted")
                return body

            assert await asyncio.to_thread(signed) == b"signed"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{wide}/master.sec/a.txt") as unsigned:
                    assert unsigned.status == 403
                # Loopback, no keys: unsigned requests pass.
                url = f"http://127.0.0.1:{open_.port}/master.sec/a.txt"
                async with http.get(url) as plain:
                    assert plain.status == 200 and await plain.read() == b"signed"
        finally:
            await open_.stop()
            await keyed.stop()


# ----------------------------------------------------------------------------- PostgreSQL


def _assert_locked(dsn: str, password: str) -> None:
    """The DSN works; without its password, or with another, the server refuses."""
    assert f":{password}@127.0.0.1:" in dsn
    ok = _psql(dsn, "SHOW listen_addresses")
    assert ok.returncode == 0 and ok.stdout.strip() == "127.0.0.1", ok.stderr
    bare = _psql(dsn.replace(f":{password}@", "@"), "select 1")
    assert bare.returncode != 0 and "no password supplied" in bare.stderr, bare.stderr
    wrong = _psql(dsn.replace(password, "0" * len(password)), "select 1")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr


def test_embedded_postgres_listens_on_loopback_and_wants_its_password(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    pg = start_postgres(tmp_path / "postgres", logs)
    servers = [pg]
    try:
        password = (tmp_path / PASSWORD_FILE).read_text().strip()
        assert len(password) == 32 and _mode(tmp_path / PASSWORD_FILE) == 0o600
        _assert_locked(pg.address, password)
        # A restart (the supervisor's, after a crash) keeps the password.
        stop_servers(servers, 20)
        servers.append(start_postgres(tmp_path / "postgres", logs, pg.port))
        assert servers[0].address == pg.address
        _assert_locked(servers[0].address, password)
        # A data folder deleted and made again: the old password file is not its password.
        stop_servers(servers, 20)
        shutil.rmtree(tmp_path / "postgres")
        servers.append(start_postgres(tmp_path / "postgres", logs))
        again = (tmp_path / PASSWORD_FILE).read_text().strip()
        assert again != password
        _assert_locked(servers[0].address, again)
    finally:
        stop_servers(servers, 20)
    assert password not in (logs / "postgres.log").read_text()


def test_a_data_folder_from_before_passwords_comes_up_with_one(tmp_path: Path) -> None:
    # Initialized as pachstream did before passwords: trust for everyone, no password file.
    pgdata, bindir, drop = tmp_path / "postgres", _pg_bin(), _as_pg_user()
    pgdata.mkdir()
    if drop:
        _open_prefixes(tmp_path)
        _open_tree(bindir.parent)
        os.chown(pgdata, drop["user"], drop["group"])
    init = subprocess.run(
        [str(bindir / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres"],
        capture_output=True,
        text=True,
        **drop,
    )
    assert init.returncode == 0, init.stderr
    assert "trust" in (pgdata / "pg_hba.conf").read_text()
    logs = tmp_path / "logs"
    logs.mkdir()
    servers = [start_postgres(pgdata, logs)]
    try:
        password = (tmp_path / PASSWORD_FILE).read_text().strip()
        _assert_locked(servers[0].address, password)
    finally:
        stop_servers(servers, 20)


# ----------------------------------------------------------------------------- a whole stack


@pytest.mark.slow
def test_a_stack_keeps_its_secrets_out_of_status_and_logs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gateway_secret = secrets.token_hex(16)
    env = _env(home, PACHSTREAM_GATEWAY_ACCESS_KEY=AK, PACHSTREAM_GATEWAY_SECRET_KEY=gateway_secret)
    up = _cli(env, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        assert _mode(home / "stack.json") == 0o600
        assert _mode(home / PASSWORD_FILE) == 0o600
        password = (home / PASSWORD_FILE).read_text().strip()
        dsn = orjson.loads((home / "stack.json").read_bytes())["addresses"]["postgres_dsn"]
        assert f":{password}@" in dsn

        shown = {args: _cli(env, *args) for args in [("status",), ("status", "--json")]}
        for args, result in shown.items():
            assert result.returncode == 0, result.stderr
            assert password not in result.stdout, args
            assert "postgres:***@127.0.0.1" in result.stdout, args
        doc = orjson.loads(shown["status", "--json"].stdout)
        assert doc["addresses"]["s3_secret_key"] == "***"
        full = orjson.loads(_cli(env, "status", "--json", "--show-secrets").stdout)
        assert full["addresses"]["postgres_dsn"] == dsn
        assert full["addresses"]["s3_secret_key"] == "pachstream"  # the embedded store's

        # Some work through the gateway, signed, and one refused request.
        assert _cli(env, "create", "repo", "sec").returncode == 0
        gateway = f"http://{doc['addresses']['s3_gateway']}"
        s3 = boto3.client(
            "s3",
            endpoint_url=gateway,
            aws_access_key_id=AK,
            aws_secret_access_key=gateway_secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        s3.put_object(Bucket="master.sec", Key="k.txt", Body=b"kept")
        got = _cli(env, "get", "file", "sec@master:/k.txt")
        assert got.stdout == "kept", got.stderr
        with pytest.raises(ClientError):
            boto3.client(
                "s3",
                endpoint_url=gateway,
                aws_access_key_id=AK,
                aws_secret_access_key="wrong",
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            ).get_object(Bucket="master.sec", Key="k.txt")
    finally:
        down = _cli(env, "down")
        assert down.returncode == 0, down.stderr
    logs = {p.name for p in (home / "logs").rglob("*") if p.is_file()}
    assert {"supervisor.log", "s3gateway.log", "postgres.log"} <= logs
    # The supervisor lists every component with its address: Postgres's is the DSN.
    assert "postgres:***@127.0.0.1" in (home / "logs" / "supervisor.log").read_text()
    leaks = [
        (str(p.relative_to(home)), name)
        for p in home.rglob("*")
        if p.is_file() and p.name != PASSWORD_FILE
        for name, value in (("postgres password", password), ("gateway secret", gateway_secret))
        if value.encode() in p.read_bytes()
    ]
    assert leaks == []
