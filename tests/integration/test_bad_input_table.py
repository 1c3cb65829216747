"""Bad input at every entry point (issue 18): one table, one stack.

Each row of :data:`ROWS` is an entry point (the CLI, the SDK, spec files, ingest records,
bucket notifications, S3 gateway requests), a name, the bad input and what it must get: an
error that names the object or value and the fix, an HTTP status with an S3 error code, or a
dead-letter record with the reason. All rows run against one stack (processors, the ingest
consumer with bucket notifications, the S3 gateway with access keys); after the last row,
:func:`test_after_the_table_every_entry_point_still_serves` shows that each entry point still
takes good input and that what was written before the table is still there, byte for byte.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from pachstream import errors
from pachstream.gateway import S3Gateway
from pachstream.ingest import IngestConsumer
from pachstream.kafka import PartitionReader, Topics
from pachstream.objectstore import S3ObjectStore
from pachstream.service import State
from pachstream.settings import Settings
from pachstream.stack.servers import ensure_buckets
from pachstream.testing.services import RunningStack, run_cli

AK, SK = "badin", "badin-secret-key"
KNOWN = os.urandom(4096)
"""Written before the table through the SDK (``seen@master:/known.bin``) and the gateway
(``master.seen/known-s3.bin``): read back, byte for byte, after it."""
BOMB_LEVELS = 8
"""Levels of ten in the XML and YAML bombs: 10**8 strings once expanded (a 500 MB message)."""
ANSWER_S = {"cli": 30.0, "ingest": 30.0, "notify": 30.0}
"""How long a bad input may take to be refused: a CLI process starts, a record goes through the
broker and the consumer; everything else is answered in a request (5 s, ANSWER_DEFAULT_S)."""
ANSWER_DEFAULT_S = 5.0


# ------------------------------------------------------------------------- what a row expects


@dataclasses.dataclass(frozen=True)
class Refused:
    """An exception of ``cls`` whose message contains every one of ``says``."""

    cls: type[errors.PachstreamError]
    says: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Exit1:
    """``pachstream`` exits 1 with one line ``error: …`` that contains every one of ``says``."""

    says: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class S3:
    """An HTTP status, an S3 error code and a message that contains every one of ``says``."""

    status: int
    code: str
    says: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Dead:
    """A dead-letter record for the input's record whose reason contains every one of
    ``says``."""

    says: tuple[str, ...]


Expect = Refused | Exit1 | S3 | Dead


def refused(cls: type[errors.PachstreamError], *says: str) -> Refused:
    return Refused(cls, says)


def exit1(*says: str) -> Exit1:
    return Exit1(says)


def dead(*says: str) -> Dead:
    return Dead(says)


# --------------------------------------------------------------------------- the bad inputs


@dataclasses.dataclass(frozen=True)
class Argv:
    """A command line (``{tmp}`` is the test's folder, with ``good.txt`` and the specs)."""

    args: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Call:
    """SDK calls on the bed; the last one must raise."""

    run: Callable[[Bed], Awaitable[object]]
    shown: str


@dataclasses.dataclass(frozen=True)
class Spec:
    """A pipeline spec file's text, given to ``create_pipeline``."""

    text: str


@dataclasses.dataclass(frozen=True)
class Rec:
    """A record on the ingest topic."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclasses.dataclass(frozen=True)
class Note:
    """A record on the bucket-notification topic (``BUCKET``: the external bucket's name)."""

    value: bytes


@dataclasses.dataclass(frozen=True)
class Req:
    """An HTTP request to the gateway; ``path`` already percent-encoded.

    ``auth``: ``v4`` (botocore's SigV4 signer), ``none``, ``wrong-secret``, ``unknown-key``,
    ``skewed`` (signed an hour ago), ``expired`` (a presigned URL past its expiry),
    ``other-body`` (signed for another body).
    """

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    auth: str = "v4"


@dataclasses.dataclass(frozen=True)
class Wire:
    """Raw bytes for the gateway's socket, made by ``make`` (see :func:`_wire`)."""

    make: Callable[[Bed], Awaitable[bytes]]
    shown: str


@dataclasses.dataclass(frozen=True)
class Flow:
    """Several gateway requests; ``run`` returns the last answer (status, body)."""

    run: Callable[[Bed], Awaitable[tuple[int, bytes]]]
    shown: str


# ------------------------------------------------------------------------------- the stack


@dataclasses.dataclass
class Bed:
    """One stack for the whole table."""

    settings: Settings
    stack: RunningStack
    gateway: S3Gateway
    ingest: IngestConsumer
    producer: AIOKafkaProducer
    letters: list[dict[str, Any]]
    tmp: Path
    bucket: str
    """The external bucket that the notifications are about."""
    notify_topic: str
    known_commit: str = ""

    @property
    def client(self):  # noqa: ANN201 - the stack's Client
        return self.stack.client


class _Clock:
    """Signs as botocore does, but with its clock moved by ``skew`` (botocore reads the real
    clock inside ``add_auth``)."""

    skew = datetime.timedelta()

    def add_auth(self, request: AWSRequest) -> None:
        signer: Any = self
        now = datetime.datetime.now(datetime.UTC) + self.skew
        request.context["timestamp"] = now.strftime(SIGV4_TIMESTAMP)
        signer._modify_request_before_signing(request)
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        signer._inject_signature_to_request(request, signature)


class _SignedAt(_Clock, S3SigV4Auth):
    """botocore's SigV4 header signer at ``skew`` from now."""

    def __init__(self, credentials: Credentials, skew: datetime.timedelta) -> None:
        super().__init__(credentials, "s3", "us-east-1")
        self.skew = skew


class _PresignedAt(_Clock, S3SigV4QueryAuth):
    """botocore's SigV4 URL presigner at ``skew`` from now."""

    def __init__(self, credentials: Credentials, skew: datetime.timedelta, expires: int) -> None:
        super().__init__(credentials, "s3", "us-east-1", expires=expires)
        self.skew = skew


def _sign(req: Req, url: str) -> tuple[str, dict[str, str]]:
    """The URL and headers of ``req`` as its ``auth`` says to sign it."""
    headers = dict(req.headers)
    if req.auth == "none":
        return url, headers
    body = b"something else" if req.auth == "other-body" else req.body
    aws = AWSRequest(method=req.method, url=url, data=body, headers=headers)
    if req.auth == "expired":
        _PresignedAt(Credentials(AK, SK), datetime.timedelta(hours=-1), 60).add_auth(aws)
        return aws.url, dict(aws.headers.items())
    aws.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    access, secret = {"wrong-secret": (AK, "not-the-secret"), "unknown-key": ("nobody", SK)}.get(
        req.auth, (AK, SK)
    )
    skew = datetime.timedelta(hours=-1 if req.auth == "skewed" else 0)
    _SignedAt(Credentials(access, secret), skew).add_auth(aws)
    return url, dict(aws.headers.items())


async def _http(bed: Bed, req: Req) -> tuple[int, bytes]:
    url, headers = _sign(req, bed.gateway.endpoint + req.path)
    async with (
        aiohttp.ClientSession() as http,
        http.request(req.method, URL(url, encoded=True), data=req.body, headers=headers) as r,
    ):
        return r.status, await r.read()


async def _wire(bed: Bed, data: bytes) -> tuple[int, bytes]:
    """Write ``data`` to the gateway in 64 KB pieces, stopping early if it answers, then close
    the write side and read the answer (status 0: the gateway closed without one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", bed.gateway.port)
    answer = b""
    try:
        for start in range(0, len(data), 65536):
            writer.write(data[start : start + 65536])
            await writer.drain()
            try:  # an answer before the request is whole: the gateway refused it early
                answer = await asyncio.wait_for(reader.read(65536), timeout=0.05)
                break
            except TimeoutError:
                continue
        else:
            writer.write_eof()
        answer += await asyncio.wait_for(reader.read(), timeout=30)
    except ConnectionError:
        pass
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.") else 0
    return status, body


class _DeadLetters:
    """Every dead letter of the namespace, as they come."""

    def __init__(self, settings: Settings, into: list[dict[str, Any]]) -> None:
        kafka, _, _ = settings.require()
        self._reader = PartitionReader(kafka)
        self._topic = Topics(settings.namespace).deadletter
        self._into = into
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._reader.start([self._topic], {})
        self._task = asyncio.create_task(self._run(), name="badin-dead-letters")

    async def _run(self) -> None:
        while True:
            for r in await self._reader.read(timeout_ms=200):
                assert r.value is not None
                self._into.append(orjson.loads(r.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._reader.stop()


@pytest.fixture(scope="module")
async def bed(
    embedded_servers: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bed]:
    settings = embedded_servers.with_namespace("t" + uuid.uuid4().hex[:12])
    kafka, _, s3 = settings.require()
    bucket, topic = "ext-" + uuid.uuid4().hex[:8], "s3-events-" + uuid.uuid4().hex[:8]
    ensure_buckets(s3.endpoint, [bucket])  # SeaweedFS stands in for the notifying bucket
    external = S3ObjectStore(dataclasses.replace(s3, bucket=bucket), "")
    await external.put("there.txt", b"there")
    await external.close()
    settings = dataclasses.replace(
        settings,
        gateway_keys=((AK, SK),),
        ingest_policy="1/0.1s",
        notify=f"topic={topic},repo=seen,prefix=/notified,endpoint={s3.endpoint}",
    )
    tmp = tmp_path_factory.mktemp("badin")
    (tmp / "good.txt").write_bytes(b"good")
    for name, text in SPEC_FILES.items():
        (tmp / name).write_text(text)
    letters: list[dict[str, Any]] = []
    async with RunningStack(settings) as stack:
        gateway = S3Gateway(settings, port=0)
        ingest = IngestConsumer(settings)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, max_request_size=32 * 2**20)
        watcher = _DeadLetters(settings, letters)
        await gateway.start()
        await ingest.start()
        await producer.start()
        await watcher.start()
        b = Bed(settings, stack, gateway, ingest, producer, letters, tmp, bucket, topic)
        try:
            c = stack.client
            await c.create_repo("seen")
            await c.create_repo("specin")  # the good spec's input, after the table
            b.known_commit = await c.put_file("seen@master", "/known.bin", KNOWN)
            status, body = await _http(b, Req("PUT", "/master.seen/known-s3.bin", KNOWN))
            assert status == 200, body
            await gateway.settle("seen@master")
            yield b
        finally:
            await watcher.stop()
            await producer.stop()
            await ingest.stop()
            await gateway.stop()


# ------------------------------------------------------------------------------- the rows


def _chain(levels: int, leaf: str = "x") -> list[str]:
    """YAML anchors of ten aliases each: ``levels`` levels expand to 10**levels leaves."""
    out = [f"&a0 [{', '.join([leaf] * 10)}]"]
    out += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return out


YAML_BOMB = (
    "pipeline: {name: bomb}\ninput: {pfs: {repo: seen, glob: /}}\n"
    f"transform: {{cmd: [{', '.join(_chain(BOMB_LEVELS))}]}}\n"
)
XML_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY l0 "lol">'
    + b"".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">'.encode() for i in range(1, BOMB_LEVELS + 1))
    + f"]>\n<Delete><Object><Key>&l{BOMB_LEVELS};</Key></Object></Delete>".encode()
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>"
)
SPEC_FILES = {
    "spout.yaml": "pipeline: {name: sp}\ntransform: {cmd: [sh]}\nspout: {}\n",
    "deep.json": "[" * 100_000,
}
TEN_MB = 10 * 2**20


async def _upload(bed: Bed, bucket_key: str, part: bytes | None) -> tuple[str, str]:
    """Start a multipart upload (and upload ``part`` as part 1): its id and the part's ETag."""
    status, body = await _http(bed, Req("POST", f"/{bucket_key}?uploads"))
    assert status == 200, body
    upload = body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    if part is None:
        return upload, ""
    url, headers = _sign(
        Req("PUT", f"/{bucket_key}?partNumber=1&uploadId={upload}", part),
        bed.gateway.endpoint + f"/{bucket_key}?partNumber=1&uploadId={upload}",
    )
    async with aiohttp.ClientSession() as http, http.put(url, data=part, headers=headers) as r:
        assert r.status == 200, await r.text()
        return upload, r.headers["ETag"]


def _complete(etag: str) -> bytes:
    return (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>"
        "</Part></CompleteMultipartUpload>"
    ).encode()


async def _deleted_branch_mid_upload(bed: Bed) -> tuple[int, bytes]:
    """A multipart upload to a branch that is deleted between its part and its completion."""
    await bed.client.put_file("seen@doomed", "/first.txt", b"first")
    upload, etag = await _upload(bed, "doomed.seen/big.bin", b"p" * 1024)
    await bed.gateway.settle("seen@doomed")
    await bed.client.delete_branch("seen@doomed")
    done = _complete(etag)
    return await _http(bed, Req("POST", f"/doomed.seen/big.bin?uploadId={upload}", done))


async def _truncated_complete(bed: Bed) -> tuple[int, bytes]:
    """A CompleteMultipartUpload whose XML body is cut short."""
    upload, _ = await _upload(bed, "master.seen/cut.bin", b"part")
    cut = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETa"
    return await _http(bed, Req("POST", f"/master.seen/cut.bin?uploadId={upload}", cut))


async def _truncated_part(bed: Bed) -> tuple[int, bytes]:
    """An UploadPart whose body stops at 100 of the 100,000 bytes its Content-Length says and
    whose client goes away; then the client completes the upload with that part."""
    upload, _ = await _upload(bed, "master.seen/half.bin", None)
    path = f"/master.seen/half.bin?partNumber=1&uploadId={upload}"
    aws = AWSRequest(
        method="PUT",
        url=bed.gateway.endpoint + path,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": "100000"},
    )
    _SignedAt(Credentials(AK, SK), datetime.timedelta()).add_auth(aws)
    head = f"PUT {path} HTTP/1.1\r\nHost: {urlsplit(bed.gateway.endpoint).netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in aws.headers.items() if k.lower() != "host")
    await _wire(bed, head.encode() + b"\r\n" + b"h" * 100)
    etag = '"' + hashlib.md5(b"h" * 100).hexdigest() + '"'  # noqa: S324 - S3's part ETag
    return await _http(
        bed, Req("POST", f"/master.seen/half.bin?uploadId={upload}", _complete(etag))
    )


async def _too_long(bed: Bed) -> bytes:
    return _request_line("/master.seen/" + "k" * TEN_MB)


async def _big_header(bed: Bed) -> bytes:
    return _request_line("/master.seen/known.bin", "X-Big: " + "h" * 65536 + "\r\n")


def _request_line(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: gw\r\n{extra}\r\n".encode()


def _note(*records: object) -> bytes:
    """A bucket notification of AWS's shape."""
    return orjson.dumps({"Records": list(records)})


def _put(key: str) -> bytes:
    """An AWS ObjectCreated:Put notification for ``key`` (URL-encoded) of the bucket."""
    s3 = {"bucket": {"name": "BUCKET"}, "object": {"key": key, "sequencer": "01"}}
    return _note({"eventName": "ObjectCreated:Put", "s3": s3})


def _spec(
    extra: str = "", *, name: str = "p", repo: str = "seen", transform: str = "{cmd: [sh]}"
) -> Spec:
    """A pipeline spec file with ``extra`` lines."""
    return Spec(
        f"pipeline: {{name: {name}}}\ntransform: {transform}\n"
        f"input: {{pfs: {{repo: {repo}, glob: /}}}}\n{extra}\n"
    )


ROWS: list[tuple[str, str, object, Expect]] = [
    # ---------------------------------------------------------------- CLI
    (
        "cli",
        "unknown repo",
        Argv(("list", "file", "ghost@master")),
        exit1("'ghost'", "create repo"),
    ),
    (
        "cli",
        "dot-dot in a path",
        Argv(("put", "file", "seen@master:/a/../b", "-f", "{tmp}/good.txt")),
        exit1("'/a/../b'", "'..'"),
    ),
    (
        "cli",
        "control character in a path",
        Argv(("put", "file", "seen@master:/a\tb", "-f", "{tmp}/good.txt")),
        exit1("U+0009 (TAB)", "remove it"),
    ),
    (
        "cli",
        "missing local file",
        Argv(("put", "file", "seen@master:/x", "-f", "{tmp}/no-such-file")),
        exit1("{tmp}/no-such-file", "-f takes a local file"),
    ),
    (
        "cli",
        "unknown branch",
        Argv(("get", "file", "seen@nobranch:/known.bin")),
        exit1("'nobranch'", "list branch seen"),
    ),
    (
        "cli",
        "unknown commit id",
        Argv(("inspect", "commit", "seen@" + "0" * 32)),
        exit1("0" * 32, "list branch seen"),
    ),
    (
        "cli",
        "bad repo name",
        Argv(
            ("create", "repo", "no spaces"),
        ),
        exit1("'no spaces'", "e.g. 'no_spaces'"),
    ),
    (
        "cli",
        "spec file with an unsupported field",
        Argv(("create", "pipeline", "-f", "{tmp}/spout.yaml")),
        exit1("spout", "ingest topic"),
    ),
    (
        "cli",
        "spec file nested 100,000 deep",
        Argv(("create", "pipeline", "-f", "{tmp}/deep.json")),
        exit1("{tmp}/deep.json", "nests too deep"),
    ),
    # ---------------------------------------------------------------- SDK
    (
        "sdk",
        "put into an unknown repo",
        Call(lambda b: b.client.put_file("ghost@master", "/a", b"x"), "put_file('ghost@master')"),
        refused(errors.RepoNotFound, "'ghost'", "create repo"),
    ),
    (
        "sdk",
        "dot-dot in a path",
        Call(lambda b: b.client.put_file("seen@master", "/a/../b", b"x"), "'/a/../b'"),
        refused(errors.InvalidPath, "'/a/../b'", "'..'"),
    ),
    (
        "sdk",
        "NUL in a path",
        Call(lambda b: b.client.put_file("seen@master", "/a\x00b", b"x"), "'/a\\x00b'"),
        refused(errors.InvalidPath, "U+0000 (NUL)", "remove it"),
    ),
    (
        "sdk",
        "10 MB path",
        Call(lambda b: b.client.put_file("seen@master", "/" + "k" * TEN_MB, b"x"), "'/kkk…'"),
        refused(errors.InvalidPath, "bytes", "shorter"),
    ),
    (
        "sdk",
        "bad repo name",
        Call(lambda b: b.client.create_repo("../etc"), "create_repo('../etc')"),
        refused(errors.InvalidName, "'../etc'", "use only ASCII letters"),
    ),
    (
        "sdk",
        "repo that exists",
        Call(lambda b: b.client.create_repo("seen"), "create_repo('seen')"),
        refused(errors.RepoExists, "'seen'", "choose another name"),
    ),
    (
        "sdk",
        "unknown commit",
        Call(lambda b: b.client.get_file("seen@" + "f" * 32, "/known.bin"), "seen@fff…"),
        refused(errors.NotFound, "f" * 32, "list branch seen"),
    ),
    (
        "sdk",
        "file read of a directory",
        Call(lambda b: _dir_read(b), "get_file('seen@master', '/d')"),
        refused(errors.IsADirectory, "'/d'", "-r"),
    ),
    (
        "sdk",
        "finish with no open commit",
        Call(lambda b: b.client.finish_commit("seen@master"), "finish_commit('seen@master')"),
        refused(errors.NoOpenCommit, "'master'", "start one with"),
    ),
    (
        "sdk",
        "delete of a branch mid-upload",
        Call(lambda b: _sdk_delete_open(b), "start_commit, put_file, delete_branch"),
        refused(errors.Conflict, "'gone'", "finish it", "--force"),
    ),
    (
        "sdk",
        "deleted branch mid-upload",
        Call(lambda b: _sdk_deleted_branch(b), "… delete_branch(force=True), finish_commit"),
        refused(errors.NoOpenCommit, "'gone'", "start commit"),
    ),
    (
        "sdk",
        "ref with ':' for '@'",
        Call(lambda b: b.client.list_file("seen:master"), "list_file('seen:master')"),
        refused(errors.InvalidRef, "did you mean 'seen@master'"),
    ),
    # ---------------------------------------------------------------- spec files
    (
        "spec",
        "unsupported field",
        _spec("spout: {}"),
        refused(errors.InvalidSpec, "'spout'", "ingest topic"),
    ),
    (
        "spec",
        "unknown input repo",
        _spec(repo="ghost"),
        refused(errors.InvalidSpec, "'ghost'", "create it"),
    ),
    (
        "spec",
        "no transform.cmd",
        _spec(transform="{}"),
        refused(errors.InvalidSpec, "'transform.cmd' is missing", "give the command"),
    ),
    (
        "spec",
        "YAML syntax error",
        Spec("pipeline:\n  name: x\ntransform:\n   cmd: x\n  image: y\n"),
        refused(errors.InvalidSpec, "not valid YAML", "line 5", "column 3"),
    ),
    (
        "spec",
        "not an object",
        Spec("[1, 2, 3]"),
        refused(errors.InvalidSpec, "a int", "write each pipeline as an object"),
    ),
    (
        "spec",
        "bad pipeline name",
        _spec(name="'a/b'"),
        refused(errors.InvalidSpec, "'a/b'", "e.g. 'a_b'"),
    ),
    (
        "spec",
        "negative parallelism",
        _spec("parallelism_spec: {constant: -2}"),
        refused(errors.InvalidSpec, "parallelism_spec.constant", "-2", "write digits only"),
    ),
    (
        "spec",
        "YAML alias bomb",
        Spec(YAML_BOMB),
        refused(errors.InvalidSpec, "transform.cmd", "list of strings", "write it like"),
    ),
    (
        "spec",
        "JSON nested 100,000 deep",
        Spec("[" * 100_000),
        refused(errors.InvalidSpec, "JSON", "nests too deep"),
    ),
    # ---------------------------------------------------------------- ingest records
    (
        "ingest",
        "key not repo@branch:/path",
        Rec(b"nonsense", b"x"),
        dead("'nonsense'", "repo@branch:/path", "e.g. raw@master"),
    ),
    (
        "ingest",
        "unknown repo",
        Rec(b"ghost@master:/a.txt", b"x"),
        dead("'ghost'", "create repo ghost"),
    ),
    ("ingest", "dot-dot in the path", Rec(b"seen@master:/a/../b", b"x"), dead("'/a/../b'", "'..'")),
    (
        "ingest",
        "NUL in the path",
        Rec(b"seen@master:/a\x00b", b"x"),
        dead("U+0000 (NUL)", "remove it"),
    ),
    (
        "ingest",
        "10 MB key",
        Rec(b"seen@master:/" + b"k" * TEN_MB, b"x"),
        dead("bytes", "shorter"),
    ),
    (
        "ingest",
        "unknown op",
        Rec(b"seen@master:/a.txt", b"x", (("op", b"upsert"),)),
        dead("'upsert'", "put, append or delete"),
    ),
    (
        "ingest",
        "s3-uri that is no URI",
        Rec(b"seen@master:/a.txt", b"", (("s3-uri", b"http://x/y"),)),
        dead("'http://x/y'", "s3://bucket/key"),
    ),
    (
        "ingest",
        "s3-uri of a missing object",
        Rec(b"seen@master:/a.txt", b"", (("s3-uri", b"s3://pachstream/nowhere/none"),)),
        dead("s3://pachstream/nowhere/none does not exist"),
    ),
    (
        "ingest",
        "s3-uri of a bucket that does not exist",
        Rec(b"seen@master:/a.txt", b"", (("s3-uri", b"s3://no-such-bucket-zz/k"),)),
        dead(
            "s3://no-such-bucket-zz/k could not be read",
            "NoSuchBucket",
            "'no-such-bucket-zz'",
            "PACHSTREAM_S3_ACCESS_KEY",
        ),
    ),
    ("ingest", "no key and no headers", Rec(None, b"x"), dead("headers 'repo' and 'path'")),
    (
        "ingest",
        "header that is not UTF-8",
        Rec(None, b"x", (("repo", b"\xff\xfe"), ("path", b"/a"))),
        dead("header 'repo' is not UTF-8", "encoded as UTF-8"),
    ),
    # ---------------------------------------------------------------- bucket notifications
    ("notify", "not JSON", Note(b"\x00garbage"), dead("not JSON")),
    ("notify", "JSON but no object", Note(b"[1, 2]"), dead("JSON object with 'Records'")),
    (
        "notify",
        "no Records",
        Note(b'{"Event": "s3:Other"}'),
        dead("no 'Records'", "AWS or MinIO shape"),
    ),
    (
        "notify",
        "record without a key",
        Note(_note({"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "BUCKET"}}})),
        dead("Records[0]", "s3.object.key"),
    ),
    ("notify", "dot-dot in the key", Note(_put("a/%2E%2E/b")), dead("'a/../b'", "'..'")),
    ("notify", "NUL in the key", Note(_put("a%00b")), dead("U+0000 (NUL)", "remove it")),
    ("notify", "10 MB key", Note(_put("k" * TEN_MB)), dead("bytes", "shorter")),
    (
        "notify",
        "object not in the bucket",
        Note(_put("never-there")),
        dead("never-there does not exist"),
    ),
    (
        "notify",
        "bucket that does not exist",
        Note(_put("k").replace(b"BUCKET", b"no-such-bucket-zz")),
        dead("s3://no-such-bucket-zz/k could not be read", "NoSuchBucket"),
    ),
    ("notify", "JSON nested 100,000 deep", Note(b"[" * 100_000), dead("not JSON")),
    # ---------------------------------------------------------------- S3 gateway
    (
        "gateway",
        "unsigned",
        Req("GET", "/master.seen/known.bin", auth="none"),
        S3(403, "AccessDenied", ("not signed", "AWS_ACCESS_KEY_ID")),
    ),
    (
        "gateway",
        "wrong signature",
        Req("GET", "/master.seen/known.bin", auth="wrong-secret"),
        S3(403, "SignatureDoesNotMatch", ("'badin'", "check your secret access key")),
    ),
    (
        "gateway",
        "unknown access key",
        Req("GET", "/master.seen/known.bin", auth="unknown-key"),
        S3(403, "InvalidAccessKeyId", ("'nobody'", "use one of the gateway's access keys")),
    ),
    (
        "gateway",
        "expired presigned URL",
        Req("GET", "/master.seen/known.bin", auth="expired"),
        S3(403, "AccessDenied", ("expired", "presign a new URL")),
    ),
    (
        "gateway",
        "date skewed by an hour",
        Req("GET", "/master.seen/known.bin", auth="skewed"),
        S3(403, "RequestTimeTooSkewed", ("fix the clock",)),
    ),
    (
        "gateway",
        "body not the one signed",
        Req("PUT", "/master.seen/z.txt", b"sent", auth="other-body"),
        S3(400, "XAmzContentSHA256Mismatch", ("sha256", "changed or cut in transit")),
    ),
    (
        "gateway",
        "malformed Authorization",
        Req(
            "GET",
            "/master.seen/known.bin",
            headers=(
                ("Authorization", "AWS4-HMAC-SHA256 Nonsense"),
                ("X-Amz-Date", "20260101T000000Z"),
            ),
            auth="none",
        ),
        S3(400, "AuthorizationHeaderMalformed", ("'Nonsense'",)),
    ),
    (
        "gateway",
        "dot-dot in a key",
        Req("PUT", "/master.seen/a/../b.txt", b"x"),
        S3(400, "InvalidArgument", ("'a/../b.txt'", "'..'")),
    ),
    (
        "gateway",
        "NUL in a key",
        Req("PUT", "/master.seen/a%00b", b"x"),
        S3(400, "InvalidArgument", ("U+0000 (NUL)",)),
    ),
    (
        "gateway",
        "2 KB key",
        Req("PUT", "/master.seen/" + "k" * 2048, b"x"),
        S3(400, "KeyTooLongError", ("1024 bytes", "use a shorter key")),
    ),
    (
        "gateway",
        "10 MB key",
        Wire(_too_long, "GET /master.seen/kkk… (10 MB)"),
        S3(400, "", ("Got more than 8190 bytes",)),
    ),
    (
        "gateway",
        "oversize header",
        Wire(_big_header, "X-Big: 64 KB"),
        S3(400, "RequestHeaderSectionTooLarge", ("exceeds the maximum allowed size", "8190")),
    ),
    (
        "gateway",
        "metadata over 2 KB",
        Req("PUT", "/master.seen/meta.txt", b"x", headers=(("x-amz-meta-big", "m" * 3000),)),
        S3(400, "MetadataTooLarge", ("2048", "store larger data in the object")),
    ),
    (
        "gateway",
        "unknown repo",
        Req("GET", "/master.ghost/a.txt"),
        S3(404, "NoSuchBucket", ("'ghost'", "create")),
    ),
    (
        "gateway",
        "XML bomb",
        Req("POST", "/master.seen?delete", XML_BOMB),
        S3(400, "MalformedXML", ("DOCTYPE", "refused")),
    ),
    (
        "gateway",
        "XML external entity",
        Req("POST", "/master.seen?delete", XXE),
        S3(400, "MalformedXML", ("DOCTYPE", "refused")),
    ),
    (
        "gateway",
        "truncated multipart completion",
        Flow(_truncated_complete, "<CompleteMultipartUpload>…cut"),
        S3(400, "MalformedXML", ("not well-formed XML", "send a UTF-8 XML document")),
    ),
    (
        "gateway",
        "truncated part body",
        Flow(_truncated_part, "UploadPart, 100 of 100,000 bytes, client gone; Complete"),
        S3(400, "InvalidPart", ("part 1", "ListParts")),
    ),
    (
        "gateway",
        "deleted branch mid-upload",
        Flow(
            _deleted_branch_mid_upload, "CreateMultipartUpload, UploadPart, delete branch, Complete"
        ),
        S3(404, "NoSuchBucket", ("'doomed'", "create branch seen@doomed")),
    ),
]


async def _dir_read(bed: Bed) -> object:
    await bed.client.put_file("seen@master", "/d/in.txt", b"in")
    return await bed.client.get_file("seen@master", "/d")


async def _sdk_delete_open(bed: Bed) -> object:
    await bed.client.start_commit("seen@gone")
    await bed.client.put_file("seen@gone", "/half.txt", b"half")
    return await bed.client.delete_branch("seen@gone")


async def _sdk_deleted_branch(bed: Bed) -> object:
    await bed.client.delete_branch("seen@gone", force=True)
    return await bed.client.finish_commit("seen@gone")


# ------------------------------------------------------------------------------ the runner


async def _letter_for(bed: Bed, topic: str, partition: int, offset: int) -> dict[str, Any]:
    for _ in range(300):
        for d in bed.letters:
            if (d["topic"], d["partition"], d["offset"]) == (topic, partition, offset):
                return d
        await asyncio.sleep(0.05)
    raise AssertionError(f"no dead letter for {topic}/{partition}@{offset}")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    return lines[0]


async def _run(bed: Bed, bad: object, expect: Expect) -> str:
    """Give ``bad`` to its entry point; what came back (the message to check)."""
    tmp = str(bed.tmp)
    match bad, expect:
        case Argv(args), Exit1():
            code, out, err = await run_cli(bed.settings, *(a.replace("{tmp}", tmp) for a in args))
            assert code == 1, (code, out, err[-2000:])
            return _one_line(err)
        case ((Call() | Spec()), Refused(cls)):
            with pytest.raises(errors.PachstreamError) as caught:
                if isinstance(bad, Spec):
                    await bed.client.create_pipeline(bad.text)
                else:
                    await bad.run(bed)
            assert isinstance(caught.value, cls), repr(caught.value)[:500]
            return caught.value.message
        case ((Rec() | Note()), Dead()):
            if isinstance(bad, Rec):
                topic = Topics(bed.settings.namespace).ingest
                sent = await bed.producer.send_and_wait(
                    topic, bad.value, key=bad.key, headers=list(bad.headers)
                )
            else:
                topic = bed.notify_topic
                sent = await bed.producer.send_and_wait(
                    topic, bad.value.replace(b"BUCKET", bed.bucket.encode())
                )
            letter = await _letter_for(bed, topic, sent.partition, sent.offset)
            return str(letter["reason"])
        case ((Req() | Flow() | Wire()), S3(status, code)):
            if isinstance(bad, Req):
                got, body = await _http(bed, bad)
            elif isinstance(bad, Flow):
                got, body = await bad.run(bed)
            else:
                got, body = await _wire(bed, await bad.make(bed))
            text = body.decode(errors="replace")
            assert got == status, (got, text[:1000])
            if code:
                assert f"<Code>{code}</Code>" in text, text[:1000]
                return text.split("<Message>")[1].split("</Message>")[0]
            return text
    raise AssertionError(f"no way to give {bad!r} and expect {expect!r}")


@pytest.mark.parametrize(
    ("entry", "name", "bad", "expect"), ROWS, ids=[f"{e}: {n}" for e, n, _, _ in ROWS]
)
async def test_bad_input(bed: Bed, entry: str, name: str, bad: object, expect: Expect) -> None:
    start = time.monotonic()
    said = await _run(bed, bad, expect)
    took = time.monotonic() - start
    # Answered at once: a bomb expanded, or a retry loop, shows here as time.
    assert took < ANSWER_S.get(entry, ANSWER_DEFAULT_S), f"answered after {took:.1f}s"
    for needle in expect.says:
        assert needle.replace("{tmp}", str(bed.tmp)) in said, (needle, said[:1000])


def test_the_table_covers_every_entry_point() -> None:
    assert len(ROWS) >= 40
    assert {e for e, *_ in ROWS} == {"cli", "sdk", "spec", "ingest", "notify", "gateway"}
    assert len({(e, n) for e, n, *_ in ROWS}) == len(ROWS)


async def test_after_the_table_every_entry_point_still_serves(bed: Bed) -> None:
    c = bed.client
    # What was written before the table: there, byte for byte.
    assert await c.get_file(f"seen@{bed.known_commit}", "/known.bin") == KNOWN
    status, body = await _http(bed, Req("GET", "/master.seen/known-s3.bin"))
    assert (status, body) == (200, KNOWN)
    # Every entry point takes good input.
    code, out, err = await run_cli(
        bed.settings, "put", "file", "seen@master:/cli.txt", "-f", f"{bed.tmp}/good.txt"
    )
    assert code == 0, err
    await c.put_file("seen@master", "/sdk.txt", b"sdk")
    spec = "pipeline: {name: fine}\ntransform: {cmd: [sh]}\ninput: {pfs: {repo: specin, glob: /}}\n"
    assert await c.create_pipeline(spec) == ["fine"]
    await bed.producer.send_and_wait(
        Topics(bed.settings.namespace).ingest, b"ingested", key=b"seen@master:/ingest.txt"
    )
    external = S3ObjectStore(dataclasses.replace(bed.settings.require()[2], bucket=bed.bucket), "")
    await external.put("after.txt", b"notified")
    await external.close()
    note = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bed.bucket},
                    "object": {"key": "after.txt", "sequencer": "02"},
                },
            }
        ]
    }
    await bed.producer.send_and_wait(bed.notify_topic, orjson.dumps(note))
    status, body = await _http(bed, Req("PUT", "/master.seen/gateway.txt", b"gateway"))
    assert status == 200, body
    await bed.gateway.settle("seen@master")

    async def landed() -> bool | None:
        files = {f.path for f in await c.glob_file("seen@master", "/*")}
        return True if {"/ingest.txt", "/notified"} <= files else None

    await c._wait_until(landed, "the ingested and notified files", 30)
    for path, data in [
        ("/cli.txt", b"good"),
        ("/sdk.txt", b"sdk"),
        ("/ingest.txt", b"ingested"),
        ("/notified/after.txt", b"notified"),
        ("/gateway.txt", b"gateway"),
        ("/known.bin", KNOWN),
        ("/known-s3.bin", KNOWN),
    ]:
        assert await c.get_file("seen@master", path) == data, path
    # Nothing a bad row sent was written.
    files = sorted(f.path for f in await c.glob_file("seen@master", "/**") if f.type == "file")
    assert files == sorted(
        [
            "/cli.txt",
            "/d/in.txt",
            "/gateway.txt",
            "/ingest.txt",
            "/known-s3.bin",
            "/known.bin",
            "/notified/after.txt",
            "/sdk.txt",
        ]
    ), files
    # Every process still runs.
    assert bed.gateway.state is State.RUNNING
    assert bed.ingest.state is State.RUNNING
    assert bed.stack.commits.state is State.RUNNING
    assert bed.stack.lineage.state is State.RUNNING
    assert bed.stack.dispatch.state is State.RUNNING
