"""The S3 gateway with clients no one here wrote: aws-cli (cp, sync, ls, multipart over 16 MB)
and boto3 (every operation), signed with AWS Signature V4; an upload starts a pipeline; bad
requests get S3 errors and the gateway goes on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import os
import shutil
import sys
from pathlib import Path

import aiohttp
import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from yarl import URL

from pachstream.ingest.gateway import GATEWAY_DESCRIPTION, S3Gateway
from pachstream.service import State
from pachstream.stack._servers import free_port, port_answers
from pachstream.testing_services import RunningStack

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
    await gw.gateway._settle(gw.gateway._branches["raw@master"])
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
