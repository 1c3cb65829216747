"""The S3 gateway with clients no one here wrote: aws-cli (cp, sync, ls, multipart over 16 MB)
and boto3 (every operation), signed with AWS Signature V4; an upload starts a pipeline; bad
requests get S3 errors and the gateway goes on."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import datetime
import gzip
import hashlib
import logging
import os
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from awscrt import checksums as awscrt_checksums
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from yarl import URL

from pachstream.gateway import GATEWAY_DESCRIPTION, S3Gateway
from pachstream.service import State
from pachstream.stack.servers import free_port, port_answers
from pachstream.testing.services import RunningStack

AK, SK = "gwtest", "gwtest-secret-key"
AWS = str(Path(sys.executable).with_name("aws"))

ROWS = """
pipeline: {name: rows}
input: {pfs: {repo: raw, glob: "/*"}}
transform:
  cmd:
    - sh
    - -c
    - 'for f in /pfs/raw/*; do [ -f "$f" ] && wc -l < "$f" > /pfs/out/${f##*/}.rows; done; true'
"""


@dataclasses.dataclass
class Gw:
    stack: RunningStack
    gateway: S3Gateway
    home: Path

    @property
    def endpoint(self) -> str:
        return self.gateway.endpoint

    async def aws(self, *args: str, secret: str = SK) -> tuple[int, str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "AWS_ACCESS_KEY_ID": AK,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        proc = await asyncio.create_subprocess_exec(
            AWS, "--endpoint-url", self.endpoint, *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def ok(self, *args: str) -> str:
        rc, out, err = await self.aws(*args)
        assert rc == 0, f"aws {' '.join(args)}: rc={rc}\n{err}"
        return out

    def boto(self, secret: str = SK):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AK,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                signature_version="s3v4",
            ),
        )


@pytest.fixture
async def gw(settings, tmp_path: Path):
    settings = dataclasses.replace(settings, gateway_keys=((AK, SK),), ingest_policy="1000/3s")
    async with RunningStack(settings) as stack:
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            yield Gw(stack, gateway, tmp_path)
        finally:
            assert gateway.state is State.RUNNING, "the gateway stopped serving"
            await gateway.stop()


needs_sandbox = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)


@needs_sandbox
async def test_aws_cp_starts_the_pipeline_and_sync_makes_few_commits(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    await c.create_pipeline(ROWS)
    data = gw.home / "data.csv"
    data.write_bytes(b"a,b\n1,2\n3,4\n")

    await gw.ok("s3", "cp", str(data), "s3://master.raw/data.csv")
    head = await c.inspect_commit("raw@master")
    jobs = await c.flush("raw", head.id, timeout_s=180)
    assert [j.state for j in jobs] == ["success"]
    assert (await c.get_file("rows@master", "/data.csv.rows")).strip() == b"3"
    assert "master.raw" in await gw.ok("s3", "ls")
    assert "data.csv" in await gw.ok("s3", "ls", "s3://master.raw/")

    # aws s3 sync of 1,000 files: a few commits (not 1,000), hence a few jobs.
    folder = gw.home / "many"
    for i in range(1000):
        (folder / f"d{i % 10}").mkdir(parents=True, exist_ok=True)
        (folder / f"d{i % 10}" / f"f{i:04d}.txt").write_bytes(b"x\n" * (i % 5 + 1))
    before = len(await c.list_commit("raw@master"))
    jobs_before = len(await c.list_job("rows"))
    await gw.ok("s3", "sync", str(folder), "s3://master.raw/many/")
    await gw.gateway.settle("raw@master")
    head = await c.inspect_commit("raw@master")
    commits = len(await c.list_commit("raw@master")) - before
    print(f"aws s3 sync of 1,000 files → {commits} commits")
    assert 1 <= commits <= 10, commits
    assert head.file_count == 1001
    listed = (await gw.ok("s3", "ls", "--recursive", "s3://master.raw/many/")).splitlines()
    assert len(listed) == 1000
    await c.flush("raw", head.id, timeout_s=300)
    new_jobs = len(await c.list_job("rows")) - jobs_before
    print(f"… and {new_jobs} jobs")
    assert 1 <= new_jobs <= commits
    # A second sync finds nothing to do.
    assert (await gw.ok("s3", "sync", str(folder), "s3://master.raw/many/")).strip() == ""
    assert len(await c.list_commit("raw@master")) - before == commits


async def test_aws_multipart_over_16mb_and_ranged_download(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    big = gw.home / "big.bin"
    content = os.urandom(20 * 1024 * 1024 + 123)
    big.write_bytes(content)
    await gw.ok("s3", "cp", str(big), "s3://master.raw/blobs/big.bin")
    assert (
        hashlib.sha256(await c.get_file("raw@master", "/blobs/big.bin")).digest()
        == hashlib.sha256(content).digest()
    )
    back = gw.home / "back.bin"
    await gw.ok("s3", "cp", "s3://master.raw/blobs/big.bin", str(back))  # ranged GETs in parallel
    assert back.read_bytes() == content
    # No upload is left behind.
    rc, out, err = await gw.aws("s3api", "list-multipart-uploads", "--bucket", "master.raw")
    assert rc == 0, err
    assert "UploadId" not in out


async def test_boto3_operations(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")

    def run() -> dict:
        s3 = gw.boto()
        out: dict = {}
        s3.put_object(Bucket="master.raw", Key="a/one.txt", Body=b"0123456789")
        s3.put_object(Bucket="master.raw", Key="a/two.txt", Body=b"two")
        s3.put_object(Bucket="master.raw", Key="b/three & four é.txt", Body=b"three")
        s3.put_object(Bucket="master.raw", Key="top.txt", Body=b"top")
        out["get"] = s3.get_object(Bucket="master.raw", Key="a/one.txt")["Body"].read()
        out["range"] = s3.get_object(Bucket="master.raw", Key="a/one.txt", Range="bytes=2-4")[
            "Body"
        ].read()
        out["suffix"] = s3.get_object(Bucket="master.raw", Key="a/one.txt", Range="bytes=-3")[
            "Body"
        ].read()
        head = s3.head_object(Bucket="master.raw", Key="a/one.txt")
        out["head"] = (head["ContentLength"], head["ETag"])
        page = s3.list_objects_v2(Bucket="master.raw", Delimiter="/")
        out["top"] = (
            [o["Key"] for o in page.get("Contents", [])],
            [p["Prefix"] for p in page["CommonPrefixes"]],
        )
        keys = []
        for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket="master.raw", PaginationConfig={"PageSize": 2}
        ):
            keys += [o["Key"] for o in p.get("Contents", [])]
        out["paged"] = keys
        out["v1"] = [
            o["Key"] for o in s3.list_objects(Bucket="master.raw", Prefix="b/")["Contents"]
        ]
        s3.copy_object(
            Bucket="master.raw",
            Key="copy.txt",
            CopySource={"Bucket": "master.raw", "Key": "a/two.txt"},
        )
        out["copy"] = s3.get_object(Bucket="master.raw", Key="copy.txt")["Body"].read()
        s3.delete_object(Bucket="master.raw", Key="top.txt")
        s3.delete_object(Bucket="master.raw", Key="never-was.txt")  # S3: no error
        res = s3.delete_objects(
            Bucket="master.raw", Delete={"Objects": [{"Key": "a/two.txt"}, {"Key": "copy.txt"}]}
        )
        out["deleted"] = sorted(d["Key"] for d in res["Deleted"])
        out["after_delete"] = [
            o["Key"] for o in s3.list_objects_v2(Bucket="master.raw")["Contents"]
        ]
        # Multipart by hand: create, two parts, list, complete; another aborted.
        mp = s3.create_multipart_upload(Bucket="master.raw", Key="mp.bin")
        p1, p2 = os.urandom(5 * 1024 * 1024), b"tail"
        e1 = s3.upload_part(
            Bucket="master.raw", Key="mp.bin", UploadId=mp["UploadId"], PartNumber=1, Body=p1
        )["ETag"]
        e2 = s3.upload_part(
            Bucket="master.raw", Key="mp.bin", UploadId=mp["UploadId"], PartNumber=2, Body=p2
        )["ETag"]
        out["parts"] = [
            p["PartNumber"]
            for p in s3.list_parts(Bucket="master.raw", Key="mp.bin", UploadId=mp["UploadId"])[
                "Parts"
            ]
        ]
        parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate((e1, e2), 1)]
        s3.complete_multipart_upload(
            Bucket="master.raw",
            Key="mp.bin",
            UploadId=mp["UploadId"],
            MultipartUpload={"Parts": parts},
        )
        out["mp"] = s3.get_object(Bucket="master.raw", Key="mp.bin")["Body"].read() == p1 + p2
        ab = s3.create_multipart_upload(Bucket="master.raw", Key="gone.bin")
        s3.abort_multipart_upload(Bucket="master.raw", Key="gone.bin", UploadId=ab["UploadId"])
        try:
            s3.list_parts(Bucket="master.raw", Key="gone.bin", UploadId=ab["UploadId"])
            out["aborted"] = "still there"
        except ClientError as err:
            out["aborted"] = err.response["Error"]["Code"]
        # A presigned GET, fetched by a plain HTTP client.
        out["presigned"] = s3.generate_presigned_url(
            "get_object", Params={"Bucket": "master.raw", "Key": "a/one.txt"}, ExpiresIn=60
        )
        out["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.create_bucket(Bucket="dev.fresh")
        out["fresh"] = s3.list_objects_v2(Bucket="dev.fresh")["KeyCount"]
        return out

    out = await asyncio.to_thread(run)
    assert out["get"] == b"0123456789"
    assert out["range"] == b"234"
    assert out["suffix"] == b"789"
    assert (
        out["head"][0] == 10
        and out["head"][1].strip('"') == hashlib.sha256(b"0123456789").hexdigest()
    )
    assert out["top"] == (["top.txt"], ["a/", "b/"])
    assert out["paged"] == ["a/one.txt", "a/two.txt", "b/three & four é.txt", "top.txt"]
    assert out["v1"] == ["b/three & four é.txt"]
    assert out["copy"] == b"two"
    assert out["deleted"] == ["a/two.txt", "copy.txt"]
    assert out["after_delete"] == ["a/one.txt", "b/three & four é.txt"]
    assert out["parts"] == [1, 2]
    assert out["mp"] is True
    assert out["aborted"] == "NoSuchUpload"
    assert "master.raw" in out["buckets"]
    assert out["fresh"] == 0
    assert await c.get_file("raw@master", "/b/three & four é.txt") == b"three"
    async with aiohttp.ClientSession() as http, http.get(URL(out["presigned"], encoded=True)) as r:
        assert r.status == 200 and await r.read() == b"0123456789"

    # A commit bucket reads that commit, whatever the branch does next; it takes no writes.
    first = (await c.list_commit("raw@master"))[-1]  # the oldest: only a/one.txt
    s3 = gw.boto()
    keys = await asyncio.to_thread(
        lambda: [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=f"{first.id}.master.raw").get("Contents", [])
        ]
    )
    assert keys == ["a/one.txt"]
    with pytest.raises(ClientError) as err:
        await asyncio.to_thread(s3.put_object, Bucket=f"{first.id}.master.raw", Key="x", Body=b"x")
    assert err.value.response["Error"]["Code"] == "MethodNotAllowed"
    with pytest.raises(ClientError) as err:
        await asyncio.to_thread(s3.delete_object, Bucket=f"{first.id}.master.raw", Key="a/one.txt")
    assert err.value.response["Error"]["Code"] == "MethodNotAllowed"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _signed(
    method: str, url: str, body: bytes = b"", secret: str = SK, headers: dict | None = None
):
    """Headers of a request signed by botocore's SigV4 signer, for bodies boto3 would not send."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(AK, secret), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


async def test_bad_requests_get_s3_errors_and_the_gateway_goes_on(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    await c.put_file("raw@master", "/ten.txt", b"0123456789")
    base = gw.endpoint

    async def call(
        method: str,
        path: str,
        body: bytes = b"",
        *,
        sign: bool = True,
        secret: str = SK,
        headers=None,
    ):
        url = base + path
        hdrs = _signed(method, url, body, secret, headers) if sign else dict(headers or {})
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, URL(url, encoded=True), data=body, headers=hdrs) as r,
        ):
            text = await r.text()
            return r.status, text

    def code(text: str) -> str:
        return text.split("<Code>")[1].split("</Code>")[0]

    cases = [
        ("unsigned", ("GET", "/master.raw/ten.txt"), {"sign": False}, 403, "AccessDenied"),
        (
            "wrong secret",
            ("GET", "/master.raw/ten.txt"),
            {"secret": "nope"},
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "bad XML",
            ("POST", "/master.raw?delete", b"<Delete><Object><Key>x</Key>"),
            {},
            400,
            "MalformedXML",
        ),
        (
            "entity XML",
            ("POST", "/master.raw?delete", b'<!DOCTYPE d [<!ENTITY x "y">]><Delete/>'),
            {},
            400,
            "MalformedXML",
        ),
        (
            "range past the end",
            ("GET", "/master.raw/ten.txt"),
            {"headers": {"Range": "bytes=20-"}},
            416,
            "InvalidRange",
        ),
        ("dot-dot key", ("PUT", "/master.raw/a/../b.txt", b"x"), {}, 400, "InvalidArgument"),
        ("no such bucket", ("GET", "/nope.raw/ten.txt"), {}, 404, "NoSuchBucket"),
        ("bad bucket name", ("GET", "/not-a-branch-repo"), {}, 400, "InvalidBucketName"),
        ("no such key", ("GET", "/master.raw/missing.txt"), {}, 404, "NoSuchKey"),
        (
            "no such upload",
            ("PUT", "/master.raw/x.bin?partNumber=1&uploadId=zzz", b"x"),
            {},
            404,
            "NoSuchUpload",
        ),
        (
            "bad part number",
            ("PUT", "/master.raw/x.bin?partNumber=0&uploadId=zzz", b"x"),
            {},
            400,
            "InvalidArgument",
        ),
        (
            "bad MD5",
            ("PUT", "/master.raw/y.txt", b"data"),
            {"headers": {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}},
            400,
            "BadDigest",
        ),
    ]
    for name, args, kw, status, want in cases:
        got_status, text = await call(*args, **kw)
        assert (got_status, code(text) if "<Code>" in text else text) == (status, want), name
        assert "<Message>" in text and len(text.split("<Message>")[1]) > 20, name

    # Signed, but the body is not the one signed.
    url = base + "/master.raw/z.txt"
    hdrs = _signed("PUT", url, b"signed body")
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, data=b"other body", headers=hdrs) as r,
    ):
        assert r.status in (400, 403), await r.text()
    # An expired presigned URL.
    s3 = gw.boto()
    old = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "master.raw", "Key": "ten.txt"}, ExpiresIn=1
    )
    await asyncio.sleep(1.5)
    async with aiohttp.ClientSession() as http, http.get(URL(old, encoded=True)) as r:
        assert r.status == 403 and "<Code>AccessDenied</Code>" in await r.text()
    # aws-cli with a wrong secret says so.
    rc, _, err = await gw.aws("s3", "ls", "s3://master.raw/", secret="wrong")
    assert rc != 0 and "SignatureDoesNotMatch" in err
    # Nothing was written by the bad requests; a good one still works.
    files = [f.path for f in await c.list_file("raw@master", "/")]
    assert files == ["/ten.txt"]
    status, _ = await call("PUT", "/master.raw/after.txt", b"fine")
    assert status == 200
    assert await c.get_file("raw@master", "/after.txt") == b"fine"
    assert gw.gateway.state is State.RUNNING


async def test_a_restarted_gateway_finishes_the_commit_it_left_open(settings):
    async with RunningStack(settings, pipelines=False) as stack:
        c = stack.client
        await c.create_repo("raw")
        # As a gateway that died while holding a commit open leaves it; and a user's commit.
        await c.start_commit("raw@master", GATEWAY_DESCRIPTION)
        await c.put_file("raw@master", "/held.txt", b"held")
        await c.start_commit("raw@mine", "a user's own commit")
        gateway = S3Gateway(settings, port=0)
        await gateway.start()
        try:
            assert (await c.inspect_commit("raw@master")).finished is not None
            assert await c.get_file("raw@master", "/held.txt") == b"held"
            assert (await c.inspect_commit("raw@mine")).finished is None  # not the gateway's
        finally:
            await gateway.stop()


async def test_kill_9_mid_upload_loses_no_acknowledged_put(settings):
    """A gateway process killed while PUTs stream into the commit it holds open: every PUT it
    answered is in the repo once a new gateway has started; the rest failed visibly."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env.update(settings.child_env(), PACHSTREAM_GATEWAY_ADDRESS=f"127.0.0.1:{port}")

    async def start_gateway() -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pachstream", "run", "s3gateway", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            if port_answers(port):
                return proc
            await asyncio.sleep(0.1)
        proc.kill()
        raise AssertionError("the gateway did not listen")

    async with RunningStack(settings, pipelines=False) as stack:
        c = stack.client
        await c.create_repo("raw")
        gateway = await start_gateway()
        s3 = boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="k",
            aws_secret_access_key="s", region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          max_pool_connections=16, connect_timeout=2, read_timeout=10),
        )  # fmt: skip
        acked: list[str] = []
        failed: list[str] = []
        keys = iter(f"k/{i:04d}.txt" for i in range(600))

        def worker() -> None:
            for key in keys:
                try:
                    s3.put_object(Bucket="master.raw", Key=key, Body=key.encode())
                    acked.append(key)
                except Exception:  # noqa: BLE001 - the gateway is being killed
                    failed.append(key)

        # Threads of their own: in the default executor they would queue the processors'
        # own executor work behind PUTs that wait for those processors.
        pool = concurrent.futures.ThreadPoolExecutor(16)
        loop = asyncio.get_running_loop()
        uploads = asyncio.gather(*(loop.run_in_executor(pool, worker) for _ in range(16)))
        try:
            while len(acked) < 150:
                await asyncio.sleep(0.01)
            gateway.kill()  # SIGKILL: no graceful finish of the open commit
            await gateway.wait()
            await uploads
        finally:
            if gateway.returncode is None:
                gateway.kill()
            pool.shutdown()
        assert failed, "the kill came too late to cut any upload"
        gateway = await start_gateway()  # finishes the commit the dead one left open
        try:

            async def landed():
                info = await c.inspect_commit("raw@master")
                return info if info.finished is not None else None

            await c._wait_until(landed, "the left-behind commit finished", 60)
            files = {f.path[1:] for f in await c.glob_file("raw@master", "/k/*")}
            ok, bad, got = len(acked), len(failed), len(files)
            print(f"kill -9 after {ok} acked PUTs, {bad} failed: {got} landed")
            assert set(acked) <= files, sorted(set(acked) - files)[:5]
            assert files <= set(acked) | set(failed)
            for key in acked[:: max(1, len(acked) // 20)]:
                assert await c.get_file("raw@master", "/" + key) == key.encode()
        finally:
            gateway.terminate()
            await gateway.wait()


# ----------------------------------------------------------------------------- issue 13


async def _raw(gw: Gw, method: str, path: str, body: bytes = b"", headers=None, sign=True):
    url = gw.endpoint + path
    hdrs = _signed(method, url, body, SK, headers) if sign else dict(headers or {})
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, URL(url, encoded=True), data=body, headers=hdrs) as r,
    ):
        return r.status, dict(r.headers), await r.read()


def _code(body: bytes) -> str:
    text = body.decode()
    return text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else ""


SUB_RESOURCE_REQUESTS = [
    # (method, on the object?, query, body)
    (
        "PUT",
        True,
        "tagging",
        b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
    ),
    ("GET", True, "tagging", b""),
    ("DELETE", True, "tagging", b""),
    ("PUT", True, "acl", b""),
    ("GET", True, "acl", b""),
    ("GET", True, "attributes", b""),
    ("GET", True, "retention", b""),
    ("PUT", True, "retention", b"<Retention/>"),
    ("GET", True, "legal-hold", b""),
    ("PUT", True, "legal-hold", b"<LegalHold/>"),
    ("POST", True, "restore", b"<RestoreRequest/>"),
    ("POST", True, "select&select-type=2", b"<SelectObjectContentRequest/>"),
    ("GET", True, "torrent", b""),
    ("PUT", True, "renameObject", b""),
    ("GET", True, "versionId=3HL4kqtJlcpXroDTDmJ", b""),
    ("DELETE", True, "versionId=3HL4kqtJlcpXroDTDmJ", b""),
    ("PUT", True, "frobnicate", b"junk"),
    ("POST", True, "", b"junk"),
    ("PUT", False, "acl", b""),
    ("GET", False, "acl", b""),
    (
        "PUT",
        False,
        "versioning",
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    ),
    ("GET", False, "versioning", b""),
    ("GET", False, "versions", b""),
    ("PUT", False, "tagging", b"<Tagging/>"),
    ("GET", False, "tagging", b""),
    ("DELETE", False, "tagging", b""),
    ("PUT", False, "cors", b"<CORSConfiguration/>"),
    ("GET", False, "cors", b""),
    ("DELETE", False, "cors", b""),
    ("PUT", False, "policy", b"{}"),
    ("GET", False, "policy", b""),
    ("DELETE", False, "policy", b""),
    ("GET", False, "policyStatus", b""),
    ("PUT", False, "lifecycle", b"<LifecycleConfiguration/>"),
    ("GET", False, "lifecycle", b""),
    ("DELETE", False, "lifecycle", b""),
    ("PUT", False, "website", b"<WebsiteConfiguration/>"),
    ("GET", False, "website", b""),
    ("PUT", False, "replication", b"<ReplicationConfiguration/>"),
    ("GET", False, "replication", b""),
    ("PUT", False, "encryption", b"<ServerSideEncryptionConfiguration/>"),
    ("GET", False, "encryption", b""),
    ("PUT", False, "notification", b"<NotificationConfiguration/>"),
    ("GET", False, "notification", b""),
    ("PUT", False, "object-lock", b"<ObjectLockConfiguration/>"),
    ("GET", False, "object-lock", b""),
    ("PUT", False, "accelerate", b"<AccelerateConfiguration/>"),
    ("GET", False, "analytics", b""),
    ("PUT", False, "inventory&id=x", b"<InventoryConfiguration/>"),
    ("GET", False, "metrics", b""),
    ("PUT", False, "intelligent-tiering&id=x", b"<IntelligentTieringConfiguration/>"),
    ("PUT", False, "ownershipControls", b"<OwnershipControls/>"),
    ("GET", False, "ownershipControls", b""),
    ("PUT", False, "publicAccessBlock", b"<PublicAccessBlockConfiguration/>"),
    ("GET", False, "publicAccessBlock", b""),
    ("PUT", False, "requestPayment", b"<RequestPaymentConfiguration/>"),
    ("PUT", False, "logging", b"<BucketLoggingStatus/>"),
    ("GET", False, "logging", b""),
    ("GET", False, "session", b""),
    ("GET", False, "list-type=3", b""),
    ("POST", False, "", b"junk"),
    ("DELETE", False, "uploads", b""),
    ("PUT", False, "frobnicate", b""),
]


async def test_every_sub_resource_is_implemented_or_refused_and_changes_nothing(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    await c.put_file("raw@master", "/k.txt", b"the bytes")
    await c.put_file("raw@master", "/other.txt", b"other")
    commits = len(await c.list_commit("raw@master"))
    refused, answered = [], []
    for method, on_object, query, body in SUB_RESOURCE_REQUESTS:
        path = "/master.raw" + ("/k.txt" if on_object else "") + (f"?{query}" if query else "")
        status, _, out = await _raw(gw, method, path, body)
        label = f"{method} {path}"
        if status in (200, 204):
            answered.append(label)
            assert method in ("GET", "HEAD"), f"{label}: a write answered {status}"
            assert out == b"" or out.startswith(b"<?xml"), f"{label} returned the object"
        else:
            code = _code(out) if method != "HEAD" else "(head)"
            assert status in (400, 404, 405, 501), (label, status, out)
            refused.append((label, status, code))
            if status == 501 and method != "HEAD":
                assert code == "NotImplemented", label
                assert b"nothing was changed" in out or b"not supported" in out, label
        # Nothing changed: the object, the listing, the commits.
        assert await c.get_file("raw@master", "/k.txt") == b"the bytes", label
        assert [f.path for f in await c.list_file("raw@master", "/")] == ["/k.txt", "/other.txt"]
        assert len(await c.list_commit("raw@master")) == commits, label
        assert [b.name for b in await c.list_branch("raw")] == ["master"], label
    print(f"{len(answered)} answered, {len(refused)} refused")
    assert "GET /master.raw/k.txt?tagging" in answered
    assert "GET /master.raw?versioning" in answered
    # botocore sees the refusals as S3 errors with S3 codes.
    s3 = gw.boto()

    def tag() -> str:
        try:
            s3.put_object_tagging(
                Bucket="master.raw", Key="k.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
            )
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "accepted"

    assert await asyncio.to_thread(tag) == "NotImplemented"
    got = await asyncio.to_thread(s3.get_object_tagging, Bucket="master.raw", Key="k.txt")
    assert got["TagSet"] == []
    with pytest.raises(ClientError) as err:
        await asyncio.to_thread(s3.get_bucket_policy, Bucket="master.raw")
    assert err.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    assert await c.get_file("raw@master", "/k.txt") == b"the bytes"
    # versionId=null is the object itself.
    status, _, out = await _raw(gw, "GET", "/master.raw/k.txt?versionId=null")
    assert (status, out) == (200, b"the bytes")


async def test_conditional_reads_writes_and_copies(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()
    put = await asyncio.to_thread(s3.put_object, Bucket="master.raw", Key="a.txt", Body=b"A")
    etag = put["ETag"]
    head = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="a.txt")
    modified = head["LastModified"]
    # Last-Modified is the commit that last changed the path: a later commit leaves it be.
    await asyncio.sleep(1.1)
    await asyncio.to_thread(s3.put_object, Bucket="master.raw", Key="b.txt", Body=b"B")
    again = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="a.txt")
    assert again["LastModified"] == modified and again["ETag"] == etag
    listed = await asyncio.to_thread(s3.list_objects_v2, Bucket="master.raw")
    times = {o["Key"]: o["LastModified"] for o in listed["Contents"]}
    assert times["a.txt"].replace(microsecond=0) == modified
    assert times["b.txt"] > times["a.txt"]
    stamp = head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]

    async def get(**headers: str) -> int:
        status, _, _ = await _raw(gw, "GET", "/master.raw/a.txt", headers=headers)
        head_status, _, _ = await _raw(gw, "HEAD", "/master.raw/a.txt", headers=headers)
        assert status == head_status, headers
        return status

    assert await get(**{"If-None-Match": etag}) == 304
    assert await get(**{"If-None-Match": '"other"'}) == 200
    assert await get(**{"If-Match": etag}) == 200
    assert await get(**{"If-Match": '"other"'}) == 412
    assert await get(**{"If-Modified-Since": stamp}) == 304
    assert await get(**{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}) == 412
    assert (
        await get(**{"If-Match": etag, "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
        == 200
    )

    new_etag = f'"{hashlib.sha256(b"create-new").hexdigest()}"'

    def conditional_puts() -> dict:
        out = {}
        for name, kw in {
            "create-new": {"Key": "new.txt", "IfNoneMatch": "*"},
            "create-existing": {"Key": "a.txt", "IfNoneMatch": "*"},
            "match": {"Key": "a.txt", "IfMatch": etag},
            "stale-match": {"Key": "a.txt", "IfMatch": etag},  # a.txt changed just before
            "match-missing": {"Key": "gone.txt", "IfMatch": etag},
            # If-None-Match with an ETag (RGW's and RFC 9110's reading; AWS answers 501).
            "none-match-current": {"Key": "new.txt", "IfNoneMatch": new_etag},
            "none-match-other": {"Key": "new.txt", "IfNoneMatch": '"other"'},
        }.items():
            try:
                s3.put_object(Bucket="master.raw", Body=name.encode(), **kw)
                out[name] = "ok"
            except ClientError as err:
                out[name] = err.response["Error"]["Code"]
        return out

    assert await asyncio.to_thread(conditional_puts) == {
        "create-new": "ok",
        "create-existing": "PreconditionFailed",
        "match": "ok",
        "stale-match": "PreconditionFailed",
        "match-missing": "NoSuchKey",
        "none-match-current": "PreconditionFailed",
        "none-match-other": "ok",
    }
    status, _, body = await _raw(gw, "GET", "/master.raw/a.txt")
    assert (status, body) == (200, b"match")
    # Two clients racing to create one key: exactly one wins.
    results = await asyncio.gather(
        *(
            _raw(gw, "PUT", "/master.raw/race.txt", f"r{i}".encode(), {"If-None-Match": "*"})
            for i in range(6)
        )
    )
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] + [412] * 5, statuses
    # Copy-source conditions.
    cur = (await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="a.txt"))["ETag"]

    def copy(**kw) -> str:
        try:
            s3.copy_object(
                Bucket="master.raw", Key="copy.txt",
                CopySource={"Bucket": "master.raw", "Key": "a.txt"}, **kw,
            )  # fmt: skip
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "ok"

    assert await asyncio.to_thread(copy, CopySourceIfMatch='"nope"') == "PreconditionFailed"
    assert await asyncio.to_thread(copy, CopySourceIfNoneMatch=cur) == "PreconditionFailed"
    assert await asyncio.to_thread(copy, CopySourceIfMatch=cur) == "ok"
    status, _, body = await _raw(gw, "GET", "/master.raw/copy.txt")  # reads what it wrote
    assert (status, body) == (200, b"match")


async def test_delete_bucket_and_list_buckets_pages(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()
    for name in ("b1", "b2", "b3", "dev"):
        await asyncio.to_thread(s3.create_bucket, Bucket=f"{name}.raw")
    await asyncio.to_thread(s3.put_object, Bucket="dev.raw", Key="x.txt", Body=b"x")

    def pages(**kw) -> list[list[str]]:
        out, token = [], None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = s3.list_buckets(MaxBuckets=2, **kw, **extra)
            out.append([b["Name"] for b in page["Buckets"]])
            token = page.get("ContinuationToken")
            if not token:
                return out

    assert await asyncio.to_thread(pages) == [["b1.raw", "b2.raw"], ["b3.raw", "dev.raw"]]
    assert await asyncio.to_thread(pages, Prefix="b") == [["b1.raw", "b2.raw"], ["b3.raw"]]

    def delete(bucket: str) -> str:
        try:
            s3.delete_bucket(Bucket=bucket)
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "ok"

    assert await asyncio.to_thread(delete, "dev.raw") == "BucketNotEmpty"
    assert await c.get_file("raw@dev", "/x.txt") == b"x"
    await asyncio.to_thread(s3.delete_object, Bucket="dev.raw", Key="x.txt")
    assert await asyncio.to_thread(delete, "dev.raw") == "ok"
    assert await asyncio.to_thread(delete, "b1.raw") == "ok"  # never had a commit
    assert await asyncio.to_thread(delete, "nope.raw") == "NoSuchBucket"
    names = [b.name for b in await c.list_branch("raw")]
    assert "dev" not in names and "b1" not in names and "b2" in names
    with pytest.raises(ClientError) as err:
        await asyncio.to_thread(s3.head_bucket, Bucket="dev.raw")
    assert err.value.response["Error"]["Code"] in ("404", "NoSuchBucket")


async def test_a_branch_deleted_behind_the_gateway_is_not_made_again_by_a_put(gw: Gw):
    # Once a write to a bucket was applied, the gateway's PUTs skip their bucket check: the
    # commit processor refuses them itself (require_branch) when the branch is gone since.
    # Without that, a PUT that passed the check as the branch went made the branch again.
    c, writer = gw.stack.client, gw.gateway.writer
    await c.create_repo("raw")
    s3 = gw.boto()
    await asyncio.to_thread(s3.create_bucket, Bucket="dev.raw")
    assert not writer.confirmed("raw@dev")
    await asyncio.to_thread(s3.put_object, Bucket="dev.raw", Key="a.txt", Body=b"a")
    assert writer.confirmed("raw@dev")
    await c.delete_branch("raw@dev", force=True)  # another writer: the gateway is not told

    def put(key: str) -> str:
        return _put_outcome(s3, "dev.raw", key)

    assert await asyncio.to_thread(put, "b.txt") == "NoSuchBucket"  # refused by the write
    assert "dev" not in [b.name for b in await c.list_branch("raw")]
    assert not writer.confirmed("raw@dev")
    assert await asyncio.to_thread(put, "c.txt") == "NoSuchBucket"  # by the check again
    await asyncio.to_thread(s3.create_bucket, Bucket="dev.raw")
    assert await asyncio.to_thread(put, "d.txt") == "ok"
    listed = await asyncio.to_thread(s3.list_objects_v2, Bucket="dev.raw")
    assert [o["Key"] for o in listed["Contents"]] == ["d.txt"]
    # A repo's master is a bucket without a branch; a deleted repo is refused all the same.
    await asyncio.to_thread(s3.put_object, Bucket="master.raw", Key="m.txt", Body=b"m")
    assert writer.confirmed("raw@master")
    await c.delete_repo("raw")
    assert await asyncio.to_thread(_put_outcome, s3, "master.raw", "n.txt") == "NoSuchBucket"


def _put_outcome(s3: Any, bucket: str, key: str) -> str:
    """PutObject's outcome: "ok", or the error code."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    except ClientError as err:
        return err.response["Error"]["Code"]
    return "ok"


async def test_cors_preflight_and_headers(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    await c.put_file("raw@master", "/k.txt", b"k")
    status, headers, _ = await _raw(
        gw, "OPTIONS", "/master.raw/up.txt", sign=False,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "authorization,x-amz-date,content-type"},
    )  # fmt: skip
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in headers["Access-Control-Allow-Methods"]
    assert "x-amz-date" in headers["Access-Control-Allow-Headers"]
    # The actual request (signed, as the page's SDK sends it) gets the headers, errors too.
    status, headers, _ = await _raw(
        gw, "PUT", "/master.raw/up.txt", b"up", {"Origin": "https://app.example"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in headers["Access-Control-Expose-Headers"]
    status, headers, _ = await _raw(
        gw, "GET", "/master.raw/k.txt", headers={"Origin": "https://app.example"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = await _raw(
        gw, "GET", "/master.raw/missing", headers={"Origin": "https://app.example"}
    )
    assert status == 404 and headers["Access-Control-Allow-Origin"] == "*"
    assert (await _raw(gw, "GET", "/master.raw/up.txt"))[2] == b"up"


async def test_object_metadata_stored_returned_and_copied(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()

    def run() -> dict:
        out: dict = {}
        s3.put_object(
            Bucket="master.raw",
            Key="page.html",
            Body=b"<p>hi</p>",
            ContentType="text/html; charset=utf-8",
            CacheControl="max-age=60",
            ContentDisposition='attachment; filename="p.html"',
            ContentLanguage="fr",
            ContentEncoding="identity",
            Expires="Wed, 21 Oct 2037 07:28:00 GMT",
            Metadata={"Owner": "ana", "run-id": "42"},
        )
        out["head"] = s3.head_object(Bucket="master.raw", Key="page.html")
        out["get"] = s3.get_object(Bucket="master.raw", Key="page.html")
        out["get"]["Body"].read()
        s3.put_object(Bucket="master.raw", Key="plain", Body=b"x")
        out["plain"] = s3.head_object(Bucket="master.raw", Key="plain")
        # COPY (the default) keeps the source's metadata, REPLACE takes the request's.
        src = {"Bucket": "master.raw", "Key": "page.html"}
        s3.copy_object(Bucket="master.raw", Key="copy.html", CopySource=src)
        out["copy"] = s3.head_object(Bucket="master.raw", Key="copy.html")
        s3.copy_object(
            Bucket="master.raw",
            Key="replaced.html",
            CopySource=src,
            MetadataDirective="REPLACE",
            ContentType="text/plain",
            Metadata={"new": "yes"},
        )
        out["replaced"] = s3.head_object(Bucket="master.raw", Key="replaced.html")
        # Copying an object onto itself needs REPLACE, as in S3; with it, metadata changes.
        try:
            s3.copy_object(Bucket="master.raw", Key="page.html", CopySource=src)
            out["self"] = "accepted"
        except ClientError as err:
            out["self"] = err.response["Error"]["Code"]
        s3.copy_object(
            Bucket="master.raw",
            Key="page.html",
            CopySource=src,
            MetadataDirective="REPLACE",
            ContentType="text/x-changed",
        )
        out["self_replaced"] = s3.head_object(Bucket="master.raw", Key="page.html")
        # response-* overrides on a presigned (signed) GET.
        out["presigned"] = s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": "master.raw",
                "Key": "plain",
                "ResponseContentType": "application/json",
                "ResponseContentDisposition": "inline",
                "ResponseCacheControl": "no-store",
            },
            ExpiresIn=60,
        )
        try:
            s3.put_object(
                Bucket="master.raw", Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100}
            )
            out["too_large"] = "accepted"
        except ClientError as err:
            out["too_large"] = err.response["Error"]["Code"]
        return out

    out = await asyncio.to_thread(run)
    head = out["head"]
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="p.html"'
    assert head["ContentLanguage"] == "fr"
    assert head["ContentEncoding"] == "identity"
    assert head["ExpiresString"] == "Wed, 21 Oct 2037 07:28:00 GMT"
    # Exactly the user metadata sent: the commit read is a header of its own, not metadata.
    assert head["Metadata"] == {"owner": "ana", "run-id": "42"}
    assert len(head["ResponseMetadata"]["HTTPHeaders"]["x-pachstream-commit"]) == 32
    assert out["get"]["ContentType"] == "text/html; charset=utf-8"
    assert out["get"]["Metadata"]["owner"] == "ana"
    assert out["plain"]["ContentType"] == "binary/octet-stream"
    assert out["plain"]["Metadata"] == {}
    assert out["copy"]["ContentType"] == "text/html; charset=utf-8"
    assert out["copy"]["Metadata"]["run-id"] == "42"
    assert out["replaced"]["ContentType"] == "text/plain"
    assert "CacheControl" not in out["replaced"]
    assert (
        out["replaced"]["Metadata"]["new"] == "yes" and "owner" not in out["replaced"]["Metadata"]
    )
    assert out["self"] == "InvalidRequest"
    assert out["self_replaced"]["ContentType"] == "text/x-changed"
    assert out["too_large"] == "MetadataTooLarge"
    async with aiohttp.ClientSession() as http, http.get(URL(out["presigned"], encoded=True)) as r:
        assert r.status == 200 and await r.read() == b"x"
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["Content-Disposition"] == "inline"
        assert r.headers["Cache-Control"] == "no-store"
    # The tree and the content hash are the bytes' alone: get file and lineage do not change.
    assert await c.get_file("raw@master", "/page.html") == b"<p>hi</p>"
    [info] = [f for f in await c.list_file("raw@master", "/") if f.path == "/page.html"]
    assert info.hash == hashlib.sha256(b"<p>hi</p>").hexdigest()
    # A commit bucket of an older commit holding the same bytes finds the metadata; a file
    # rewritten by put file (other bytes, no metadata) gets the defaults.
    first = (await c.list_commit("raw@master"))[-1]
    old = await asyncio.to_thread(s3.head_object, Bucket=f"{first.id}.master.raw", Key="page.html")
    assert old["ContentType"] == "text/x-changed"  # same bytes, same path: one record
    await c.put_file("raw@master", "/copy.html", b"rewritten")
    after = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="copy.html")
    assert after["ContentType"] == "binary/octet-stream"
    # An anonymous request may not use response-* (S3 honours them on signed requests only).
    status, _, body = await _raw(
        gw, "GET", "/master.raw/plain?response-content-type=text/plain", sign=False
    )
    assert status in (400, 403)

    # aws-cli: --content-type and --metadata on cp, and cp's own guess from the extension.
    data = gw.home / "table.csv"
    data.write_bytes(b"a,b\n")
    await gw.ok(
        "s3", "cp", str(data), "s3://master.raw/t/table.csv",
        "--content-type", "text/csv", "--metadata", "source=cli,batch=7",
        "--cache-control", "no-cache",
    )  # fmt: skip
    await gw.ok("s3", "cp", str(data), "s3://master.raw/t/guessed.csv")
    head = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="t/table.csv")
    assert head["ContentType"] == "text/csv" and head["CacheControl"] == "no-cache"
    assert head["Metadata"]["source"] == "cli" and head["Metadata"]["batch"] == "7"
    out_json = await gw.ok(
        "s3api", "head-object", "--bucket", "master.raw", "--key", "t/guessed.csv"
    )
    assert '"ContentType": "text/csv"' in out_json


async def test_checksums_stored_and_returned(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()
    body = b"A" * 1024
    part1, part2 = os.urandom(5 * 1024 * 1024), b"tail of the object"

    def run() -> dict:
        out: dict = {}
        for algorithm in ("CRC32C", "CRC64NVME", "SHA256", "CRC32", "SHA1"):
            put = s3.put_object(
                Bucket="master.raw", Key=f"{algorithm}.bin", Body=body, ChecksumAlgorithm=algorithm
            )
            plain = s3.head_object(Bucket="master.raw", Key=f"{algorithm}.bin")
            head = s3.head_object(
                Bucket="master.raw", Key=f"{algorithm}.bin", ChecksumMode="ENABLED"
            )
            got = s3.get_object(Bucket="master.raw", Key=f"{algorithm}.bin", ChecksumMode="ENABLED")
            got["Body"].read()  # botocore checks the body against the checksum
            out[algorithm] = (
                put.get(f"Checksum{algorithm}"),
                f"Checksum{algorithm}" in plain,
                head.get(f"Checksum{algorithm}"),
                head.get("ChecksumType"),
                got.get(f"Checksum{algorithm}"),
            )
        try:
            s3.put_object(
                Bucket="master.raw", Key="bad", Body=body, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(hashlib.sha256(b"other").digest()),
            )  # fmt: skip
            out["bad"] = "accepted"
        except ClientError as err:
            out["bad"] = err.response["Error"]["Code"]
        # Multipart: COMPOSITE by default, FULL_OBJECT when asked for (CRC types).
        for algorithm, kind in (("CRC32C", None), ("SHA256", None), ("CRC64NVME", None),
                                ("CRC32", "FULL_OBJECT")):  # fmt: skip
            key = f"mp-{algorithm}-{kind}"
            extra = {"ChecksumType": kind} if kind else {}
            mp = s3.create_multipart_upload(
                Bucket="master.raw", Key=key, ChecksumAlgorithm=algorithm, **extra
            )
            parts = []
            for n, data in enumerate((part1, part2), 1):
                r = s3.upload_part(
                    Bucket="master.raw", Key=key, UploadId=mp["UploadId"], PartNumber=n,
                    Body=data, ChecksumAlgorithm=algorithm,
                )  # fmt: skip
                parts.append(
                    {
                        "PartNumber": n,
                        "ETag": r["ETag"],
                        f"Checksum{algorithm}": r[f"Checksum{algorithm}"],
                    }
                )
            done = s3.complete_multipart_upload(
                Bucket="master.raw", Key=key, UploadId=mp["UploadId"],
                MultipartUpload={"Parts": parts},
            )  # fmt: skip
            head = s3.head_object(Bucket="master.raw", Key=key, ChecksumMode="ENABLED")
            got = s3.get_object(Bucket="master.raw", Key=key, ChecksumMode="ENABLED")
            got["Body"].read()
            part = s3.get_object(Bucket="master.raw", Key=key, PartNumber=2, ChecksumMode="ENABLED")
            part_body = part["Body"].read()
            out[key] = (
                mp.get("ChecksumAlgorithm"),
                done.get(f"Checksum{algorithm}"),
                done.get("ChecksumType"),
                head.get(f"Checksum{algorithm}"),
                head.get("ChecksumType"),
                [p[f"Checksum{algorithm}"] for p in parts],
                part_body == part2,
                part.get(f"Checksum{algorithm}"),
            )
        return out

    out = await asyncio.to_thread(run)
    want = {
        "CRC32C": _b64(awscrt_checksums.crc32c(body).to_bytes(4, "big")),
        "CRC64NVME": "Qeh8oXvGiSo=",  # s3-tests' value for 1024 'A's
        "SHA256": "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=",
        "CRC32": _b64(zlib.crc32(body).to_bytes(4, "big")),
        "SHA1": _b64(hashlib.sha1(body).digest()),
    }
    for algorithm, value in want.items():
        assert out[algorithm] == (value, False, value, "FULL_OBJECT", value), algorithm
    assert out["bad"] == "BadDigest"
    # COMPOSITE: the digest of the parts' digests, then -N.
    _, value, kind, head_value, head_kind, part_sums, same, part_sum = out["mp-CRC32C-None"]
    raw = b"".join(base64.b64decode(v) for v in part_sums)
    composite = _b64(awscrt_checksums.crc32c(raw).to_bytes(4, "big")) + "-2"
    assert (value, kind, head_value, head_kind) == (composite, "COMPOSITE", composite, "COMPOSITE")
    assert same and part_sum == part_sums[1]
    _, value, kind, *_ = out["mp-SHA256-None"]
    sha = _b64(
        hashlib.sha256(b"".join(base64.b64decode(v) for v in out["mp-SHA256-None"][5])).digest()
    )
    assert (value, kind) == (sha + "-2", "COMPOSITE")
    # FULL_OBJECT: the CRC of all the bytes, as if uploaded in one piece.
    _, value, kind, head_value, *_ = out["mp-CRC64NVME-None"]
    full = _b64(awscrt_checksums.crc64nvme(part1 + part2).to_bytes(8, "big"))
    assert (value, kind, head_value) == (full, "FULL_OBJECT", full)
    _, value, kind, *_ = out["mp-CRC32-FULL_OBJECT"]
    assert (value, kind) == (_b64(zlib.crc32(part1 + part2).to_bytes(4, "big")), "FULL_OBJECT")
    # The content hash stays the bytes'.
    assert await c.get_file("raw@master", "/mp-CRC32C-None") == part1 + part2


async def test_upload_part_copy_part_number_reads_and_repeated_complete(gw: Gw):
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()
    source = os.urandom(7 * 1024 * 1024)
    middle = os.urandom(5 * 1024 * 1024)
    small = b"0123456789"

    def run() -> dict:
        out: dict = {}
        s3.put_object(Bucket="master.raw", Key="src.bin", Body=source)
        s3.put_object(Bucket="master.raw", Key="small.txt", Body=small)
        mp = s3.create_multipart_upload(Bucket="master.raw", Key="joined.bin", ContentType="a/b")
        uid = mp["UploadId"]
        src = {"Bucket": "master.raw", "Key": "src.bin"}
        r1 = s3.upload_part_copy(
            Bucket="master.raw", Key="joined.bin", UploadId=uid, PartNumber=1, CopySource=src,
            CopySourceRange=f"bytes=1000-{1000 + 5 * 1024 * 1024 - 1}",
        )  # fmt: skip
        r2 = s3.upload_part(
            Bucket="master.raw", Key="joined.bin", UploadId=uid, PartNumber=2, Body=middle
        )
        r3 = s3.upload_part_copy(
            Bucket="master.raw", Key="joined.bin", UploadId=uid, PartNumber=3,
            CopySource={"Bucket": "master.raw", "Key": "small.txt"},
        )  # fmt: skip
        for bad_range, name in (("bytes=0-99999999", "past"), ("0-5", "form")):
            try:
                s3.upload_part_copy(
                    Bucket="master.raw", Key="joined.bin", UploadId=uid, PartNumber=4,
                    CopySource=src, CopySourceRange=bad_range,
                )  # fmt: skip
                out[name] = "accepted"
            except ClientError as err:
                out[name] = err.response["Error"]["Code"]
        parts = [
            {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["ETag"]},
            {"PartNumber": 3, "ETag": r3["CopyPartResult"]["ETag"]},
        ]
        args = {"Bucket": "master.raw", "Key": "joined.bin", "UploadId": uid,
                "MultipartUpload": {"Parts": parts}}  # fmt: skip
        first = s3.complete_multipart_upload(**args)
        again = s3.complete_multipart_upload(**args)  # its answer lost, say: the same answer
        out["complete"] = (first["ETag"], again["ETag"])
        out["whole"] = s3.get_object(Bucket="master.raw", Key="joined.bin")["Body"].read()
        out["ctype"] = s3.head_object(Bucket="master.raw", Key="joined.bin")["ContentType"]
        p3 = s3.get_object(Bucket="master.raw", Key="joined.bin", PartNumber=3)
        out["part3"] = (
            p3["ResponseMetadata"]["HTTPStatusCode"], p3["PartsCount"], p3["ContentLength"],
            p3["ContentRange"], p3["Body"].read(), p3["ETag"],
        )  # fmt: skip
        out["part2"] = s3.get_object(Bucket="master.raw", Key="joined.bin", PartNumber=2)[
            "Body"
        ].read()
        h1 = s3.head_object(Bucket="master.raw", Key="joined.bin", PartNumber=1)
        out["head1"] = (h1["PartsCount"], h1["ContentLength"])
        for key, number in (("joined.bin", 4), ("small.txt", 2)):
            try:
                s3.get_object(Bucket="master.raw", Key=key, PartNumber=number)
                out[f"{key}-{number}"] = "accepted"
            except ClientError as err:
                out[f"{key}-{number}"] = err.response["Error"]["Code"]
        whole = s3.get_object(Bucket="master.raw", Key="small.txt", PartNumber=1)
        out["small1"] = (whole["Body"].read(), whole.get("PartsCount"))
        # Once the key holds another object, a repeated complete is NoSuchUpload.
        s3.put_object(Bucket="master.raw", Key="joined.bin", Body=b"other")
        try:
            s3.complete_multipart_upload(**args)
            out["stale"] = "accepted"
        except ClientError as err:
            out["stale"] = err.response["Error"]["Code"]
        out["uploads"] = s3.list_multipart_uploads(Bucket="master.raw").get("Uploads", [])
        return out

    out = await asyncio.to_thread(run)
    expected = source[1000 : 1000 + 5 * 1024 * 1024] + middle + small
    assert out["whole"] == expected
    assert out["complete"][0] == out["complete"][1]
    assert out["ctype"] == "a/b"
    assert out["part2"] == middle
    status, count, length, crange, data, etag = out["part3"]
    start = 10 * 1024 * 1024
    assert (status, count, length, data) == (206, 3, len(small), small)
    assert crange == f"bytes {start}-{start + len(small) - 1}/{len(expected)}"
    assert etag == out["complete"][0]  # the object's ETag, not the part's
    assert out["head1"] == (3, 5 * 1024 * 1024)
    assert out["past"] == "InvalidRange" and out["form"] == "InvalidArgument"
    assert out["joined.bin-4"] == "InvalidPart" and out["small.txt-2"] == "InvalidPart"
    assert out["small1"] == (small, None)
    assert out["stale"] == "NoSuchUpload"
    assert out["uploads"] == []
    assert await c.get_file("raw@master", "/joined.bin") == b"other"


async def test_conditional_deletes_unsupported_headers_and_utf8_metadata(gw: Gw):
    """S3's conditional deletes (DeleteObject and each DeleteObjects entry): a failing
    condition keeps the object; unsupported headers are refused (501) and write nothing;
    x-amz-meta-* values come back as the bytes sent."""
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()
    for key in ("a", "b", "c", "d", "e"):
        await asyncio.to_thread(s3.put_object, Bucket="master.raw", Key=key, Body=b"12345")
    head = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="a")
    etag, modified = head["ETag"], head["LastModified"]
    stamp = head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]

    async def delete(key: str, **headers: str) -> tuple[int, str]:
        status, _, body = await _raw(gw, "DELETE", f"/master.raw/{key}", headers=headers)
        return status, _code(body)

    assert await delete("a", **{"If-Match": '"other"'}) == (412, "PreconditionFailed")
    assert await delete("a", **{"x-amz-if-match-size": "4"}) == (412, "PreconditionFailed")
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert await delete("a", **{"x-amz-if-match-last-modified-time": old}) == (
        412,
        "PreconditionFailed",
    )
    assert await delete("a", **{"x-amz-if-match-size": "x"}) == (400, "InvalidArgument")
    assert (await _raw(gw, "GET", "/master.raw/a"))[0] == 200  # still there
    both = {"If-Match": etag, "x-amz-if-match-size": "5"}
    assert await delete("a", **both, **{"x-amz-if-match-last-modified-time": stamp}) == (204, "")
    assert (await _raw(gw, "GET", "/master.raw/a"))[0] == 404
    assert await delete("a", **{"If-Match": etag}) == (404, "NoSuchKey")
    assert await delete("a") == (204, "")  # unconditional: no error on a missing key

    answer = await asyncio.to_thread(
        s3.delete_objects,
        Bucket="master.raw",
        Delete={
            "Objects": [
                {"Key": "b", "ETag": '"nope"'},
                {"Key": "c", "Size": 99},
                {"Key": "d", "LastModifiedTime": modified.replace(year=2001)},
                {"Key": "e", "ETag": etag, "Size": 5},
                {"Key": "missing"},
            ]
        },
    )
    assert sorted(d["Key"] for d in answer.get("Deleted", [])) == ["e", "missing"]
    assert {e["Key"]: e["Code"] for e in answer["Errors"]} == dict.fromkeys(
        ("b", "c", "d"), "PreconditionFailed"
    )
    listed = await asyncio.to_thread(s3.list_objects_v2, Bucket="master.raw")
    assert [o["Key"] for o in listed["Contents"]] == ["b", "c", "d"]

    refused = {
        "x-amz-server-side-encryption": "AES256",
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-legal-hold": "ON",
        "x-amz-tagging": "a=b",
        "x-amz-acl": "public-read",
        "x-amz-grant-read": 'id="x"',
        "x-amz-storage-class": "GLACIER",
        "x-amz-website-redirect-location": "/other",
    }
    for name, value in refused.items():
        status, _, body = await _raw(gw, "PUT", "/master.raw/new", b"x", {name: value})
        assert (status, _code(body)) == (501, "NotImplemented"), name
        assert name.encode() in body
        status, _, body = await _raw(
            gw, "PUT", "/master.raw/new", b"", {name: value, "x-amz-copy-source": "/master.raw/b"}
        )
        assert status == 501, name
        status, _, _ = await _raw(gw, "POST", "/master.raw/new?uploads", b"", {name: value})
        assert status == 501, name
    assert (await _raw(gw, "GET", "/master.raw/new"))[0] == 404  # nothing was written
    sse_c = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    assert (await _raw(gw, "GET", "/master.raw/b", headers=sse_c))[0] == 501
    accepted = {"x-amz-acl": "private", "x-amz-storage-class": "STANDARD", "x-amz-tagging": ""}
    assert (await _raw(gw, "PUT", "/master.raw/new", b"x", accepted))[0] == 200

    # boto3 sends the value's UTF-8; the answer carries those bytes, which http.client
    # (under botocore) reads as latin-1.
    status, _, _ = await _raw(
        gw, "PUT", "/master.raw/u", b"x", {"x-amz-meta-meta1": "Hello World\xe9"}
    )
    assert status == 200
    head = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key="u")
    raw = head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-meta1"]
    assert raw.encode("latin-1").decode("utf-8") == "Hello World\xe9"


class _UnsignedTrailerAuth(S3SigV4Auth):
    """botocore's S3 signer for a body the client frames itself (aws-chunked, CRC32 trailer)."""

    def payload(self, request) -> str:
        return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# (Content-Encoding sent, body sent, framed as aws-chunked?, Content-Encoding stored)
CONTENT_ENCODING_PUTS = [
    # Bodies are the object's bytes, never inflated (a real gzip stream stays compressed).
    ("gzip", gzip.compress(b"compressed"), False, "gzip"),
    ("gzip", b"\x1f\x8b not gzip", False, "gzip"),
    ("deflate, gzip", b"twice", False, "deflate, gzip"),
    # aws-chunked in Content-Encoding with a plain body: the body is stored as sent.
    ("gzip, aws-chunked", b"\x1f\x8b not framed", False, "gzip"),
    ("aws-chunked, gzip", b"5\r\nhello\r\n0\r\n\r\n", False, "gzip"),
    ("aws-chunked", b"plain", False, None),
    ("aws-chunked, aws-chunked", b"", False, None),
    # A STREAMING-* payload hash is what frames a body; aws-chunked is then dropped as well.
    ("gzip,aws-chunked", b"hello world", True, "gzip"),
    ("aws-chunked", b"hello world", True, None),
]


async def test_content_encoding_aws_chunked_frames_a_body_only_with_a_streaming_hash(gw: Gw):
    """s3-tests' test_object_content_encoding_aws_chunked: `Content-Encoding: gzip, aws-chunked`
    on a plain body stores the body as is, with `aws-chunked` removed from the encoding."""
    await gw.stack.client.create_repo("raw")
    s3 = gw.boto()

    def get(key: str) -> tuple[dict, bytes]:
        got = s3.get_object(Bucket="master.raw", Key=key)
        return got, got["Body"].read()

    for i, (sent, body, framed, stored) in enumerate(CONTENT_ENCODING_PUTS):
        key, url = f"enc/{i}", f"{gw.endpoint}/master.raw/enc/{i}"
        if framed:
            crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
            wire = (
                f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n"
                + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
            )  # fmt: skip
            headers = {
                "Content-Encoding": sent,
                "x-amz-decoded-content-length": str(len(body)),
                "x-amz-trailer": "x-amz-checksum-crc32",
            }
            req = AWSRequest(method="PUT", url=url, data=wire, headers=headers)
            _UnsignedTrailerAuth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
            async with (
                aiohttp.ClientSession() as http,
                http.put(URL(url, encoded=True), data=wire, headers=dict(req.headers.items())) as r,
            ):
                assert r.status == 200, (sent, await r.read())
        else:
            await asyncio.to_thread(
                s3.put_object, Bucket="master.raw", Key=key, Body=body, ContentEncoding=sent
            )
        got, data = await asyncio.to_thread(get, key)
        assert data == body, sent
        assert got.get("ContentEncoding") == stored, sent
        head = await asyncio.to_thread(s3.head_object, Bucket="master.raw", Key=key)
        assert head.get("ContentEncoding") == stored, sent


async def test_get_object_attributes_and_list_parts_checksums(gw: Gw):
    """GetObjectAttributes from what the gateway keeps (ETag, size, checksum, parts), ListParts
    with each part's checksum, and a part's GET carrying the object's checksum type."""
    await gw.stack.client.create_repo("raw")
    s3 = gw.boto()
    mib5 = 5 * 1024 * 1024
    bodies = [bytes([65 + n]) * mib5 for n in range(3)] + [b"tail"]
    everything = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

    def sha(data: bytes) -> str:
        return _b64(hashlib.sha256(data).digest())

    def run() -> dict:
        out: dict = {}
        put = s3.put_object(Bucket="master.raw", Key="one", Body=b"foo", ChecksumAlgorithm="SHA256")
        out["one"] = (put, s3.get_object_attributes(
            Bucket="master.raw", Key="one", ObjectAttributes=everything
        ))  # fmt: skip
        mp = s3.create_multipart_upload(Bucket="master.raw", Key="mp", ChecksumAlgorithm="SHA256")
        uid = mp["UploadId"]
        parts = []
        for n, data in enumerate(bodies, 1):
            r = s3.upload_part(
                Bucket="master.raw", Key="mp", UploadId=uid, PartNumber=n, Body=data,
                ChecksumAlgorithm="SHA256",
            )  # fmt: skip
            parts.append(
                {"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}
            )
        out["listed"] = s3.list_parts(Bucket="master.raw", Key="mp", UploadId=uid)
        out["done"] = s3.complete_multipart_upload(
            Bucket="master.raw", Key="mp", UploadId=uid, MultipartUpload={"Parts": parts}
        )
        out["all"] = s3.get_object_attributes(
            Bucket="master.raw", Key="mp", ObjectAttributes=everything
        )
        out["page"] = s3.get_object_attributes(
            Bucket="master.raw", Key="mp", ObjectAttributes=["ObjectParts", "ObjectSize"],
            MaxParts=1, PartNumberMarker=2,
        )  # fmt: skip
        part = s3.get_object(Bucket="master.raw", Key="mp", PartNumber=2, ChecksumMode="ENABLED")
        out["part"] = (part.get("ChecksumSHA256"), part.get("ChecksumType"), part["Body"].read())
        for name, kwargs in (
            ("missing", {"Key": "nope", "ObjectAttributes": ["ETag"]}),
            ("unknown", {"Key": "one", "ObjectAttributes": ["Owner"]}),
        ):
            try:
                s3.get_object_attributes(Bucket="master.raw", **kwargs)
                out[name] = "accepted"
            except ClientError as err:
                out[name] = err.response["Error"]["Code"]
        return out

    out = await asyncio.to_thread(run)
    put, one = out["one"]
    assert one["ETag"] == put["ETag"].strip('"') and one["ObjectSize"] == 3
    assert one["StorageClass"] == "STANDARD" and "ObjectParts" not in one
    assert one["Checksum"] == {"ChecksumSHA256": sha(b"foo"), "ChecksumType": "FULL_OBJECT"}
    assert isinstance(one["LastModified"], datetime.datetime)

    listed = out["listed"]
    assert listed["ChecksumAlgorithm"] == "SHA256" and listed["ChecksumType"] == "COMPOSITE"
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [sha(b) for b in bodies]

    whole = out["all"]
    assert whole["ETag"] == out["done"]["ETag"].strip('"')
    assert whole["ObjectSize"] == sum(map(len, bodies))
    assert whole["Checksum"] == {
        "ChecksumSHA256": out["done"]["ChecksumSHA256"],
        "ChecksumType": "COMPOSITE",
    }
    assert whole["Checksum"]["ChecksumSHA256"].endswith("-4")
    objparts = whole["ObjectParts"]
    assert objparts["TotalPartsCount"] == 4 and objparts["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in objparts["Parts"]] == [
        (n, len(b), sha(b)) for n, b in enumerate(bodies, 1)
    ]
    page = out["page"]["ObjectParts"]
    assert (page["PartNumberMarker"], page["MaxParts"], page["IsTruncated"]) == (2, 1, True)
    assert page["NextPartNumberMarker"] == 3 and [p["PartNumber"] for p in page["Parts"]] == [3]
    assert "ETag" not in out["page"]

    assert out["part"] == (sha(bodies[1]), "COMPOSITE", bodies[1])
    assert out["missing"] == "NoSuchKey"
    assert out["unknown"] == "InvalidArgument"
    # Without the header: S3's InvalidArgument, not the object's bytes.
    status, _, body = await _raw(gw, "GET", "/master.raw/one?attributes")
    assert (status, _code(body)) == (400, "InvalidArgument")


async def test_recreated_bucket_100_continue_and_malformed_checksums(
    gw: Gw, caplog: pytest.LogCaptureFixture
):
    """From the s3-tests findings: CreateBucket of an own bucket is us-east-1's 200 (409 with
    another region's LocationConstraint); an unsigned upload that asks 100-continue is refused
    before its body; a malformed x-amz-checksum-* is BadDigest."""
    c = gw.stack.client
    await c.create_repo("raw")
    s3 = gw.boto()

    def run() -> dict:
        out: dict = {}
        s3.create_bucket(Bucket="dev.raw")
        s3.put_object(Bucket="dev.raw", Key="kept", Body=b"x")
        out["again"] = s3.create_bucket(Bucket="dev.raw")["ResponseMetadata"]["HTTPStatusCode"]
        out["listed"] = [o["Key"] for o in s3.list_objects_v2(Bucket="dev.raw")["Contents"]]
        try:
            s3.create_bucket(
                Bucket="dev.raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
            )
            out["elsewhere"] = "accepted"
        except ClientError as err:
            out["elsewhere"] = err.response["Error"]["Code"]
        try:
            s3.put_object(Bucket="dev.raw", Key="k", Body=b"x", ChecksumSHA256="bad")
            out["malformed"] = "accepted"
        except ClientError as err:
            out["malformed"] = err.response["Error"]["Code"]
        return out

    out = await asyncio.to_thread(run)
    assert out == {
        "again": 200,
        "listed": ["kept"],
        "elsewhere": "BucketAlreadyOwnedByYou",
        "malformed": "BadDigest",
    }

    host, port = gw.endpoint.removeprefix("http://").rsplit(":", 1)

    async def first_line(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(request)
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()

    head = (
        "PUT /dev.raw/up HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\n"
        "Expect: 100-continue\r\n{auth}\r\n"
    )
    unsigned = head.format(host=f"{host}:{port}", auth="").encode()
    assert (await first_line(unsigned)).startswith(b"HTTP/1.1 403")
    hdrs = _signed("PUT", f"{gw.endpoint}/dev.raw/up", b"abc")
    auth = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host")
    signed = head.format(host=f"{host}:{port}", auth=auth).encode()
    assert (await first_line(signed)).startswith(b"HTTP/1.1 100")
    assert (await _raw(gw, "GET", "/dev.raw/up"))[0] == 404  # nothing was written
    # CreateBucket without any body or Content-Length (curl -X PUT).
    hdrs = _signed("PUT", f"{gw.endpoint}/bare.raw")
    auth = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host")
    bare = f"PUT /bare.raw HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n"
    assert (await first_line(bare.encode())).startswith(b"HTTP/1.1 200")
    assert "bare" in [b.name for b in await c.list_branch("raw")]

    # A client that hangs up during a GET body is no gateway failure: nothing logged as an
    # error, and the gateway goes on.
    big = os.urandom(8 * 1024 * 1024)
    await asyncio.to_thread(s3.put_object, Bucket="dev.raw", Key="big", Body=big)
    hdrs = _signed("GET", f"{gw.endpoint}/dev.raw/big")
    auth = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host")
    with caplog.at_level(logging.DEBUG, logger="pachstream.s3gateway"):
        for _ in range(3):
            get = f"GET /dev.raw/big HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n"
            assert (await first_line(get.encode())).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert (await _raw(gw, "GET", "/dev.raw/big"))[2] == big
