"""A real Kubernetes control plane for tests, without a cluster: built from Go modules.

- :func:`fetch` builds etcd, ``kube-apiserver``, ``kube-controller-manager``,
  ``kube-scheduler`` and kwok with the machine's Go from the recipes in
  ``deploy/testing/kube/`` (one ``go.mod``/``go.sum`` per program group) into a cache folder
  (``~/.cache/pachstream/kube-<version>/``), once per machine, at the lowest CPU priority; a
  cache that is complete is used without running Go at all.
- :class:`KubeControlPlane` runs them on free loopback ports, their data and logs under a
  folder of ours: etcd, then the apiserver (TLS from a CA made here with ``openssl``, static
  tokens, RBAC, a service-account signing key), then the controller manager and the scheduler,
  and kwok, which plays the kubelet of one fake Node so that scheduled pods turn Running. It is
  ready when ``/readyz`` answers ``ok``, the fake Node is Ready and the controller manager has
  made the ``default`` ServiceAccount; it stops every process it started by PID (SIGTERM, then
  SIGKILL). ``kubeconfig_path`` (and the same as a dict, ``kubeconfig``) names an admin user
  that kubernetes-asyncio loads.

Where Go or openssl is missing, or the build fails, :class:`KubeUnavailable` says which in one
line; the test fixtures turn it into a skip, never a failure.

``python -m pachstream.testing.kube fetch`` fills the cache (``make kube-bins``);
``python -m pachstream.testing.kube serve`` runs a control plane until Ctrl-C and prints its
kubeconfig.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from pachstream.errors import KubeUnavailable, StackError
from pachstream.stack.servers import Server, set_parent_death_signal, stop_process, tail

__all__ = [
    "ETCD_VERSION",
    "KUBE_VERSION",
    "KWOK_VERSION",
    "KubeBinaries",
    "KubeControlPlane",
    "KubeUnavailable",
    "default_cache",
    "fetch",
]

KUBE_VERSION = "1.37.2"
"""Version of ``k8s.io/kubernetes`` whose apiserver, controller manager and scheduler run."""

ETCD_VERSION = "3.7.3"
"""Version of ``go.etcd.io/etcd/server/v3`` (Kubernetes 1.37 is tested on etcd 3.7)."""

KWOK_VERSION = "0.8.0"
"""Version of ``sigs.k8s.io/kwok``, the fake kubelet."""

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "testing" / "kube"
"""The build recipes: one Go module per program group, in the repository."""

NODE_NAME = "kwok-node-0"
"""The fake Node that kwok keeps Ready."""

SERVICE_CIDR = "10.0.0.0/24"
"""ClusterIPs are only written into objects: nothing routes to them."""

_MARKER = "built.json"
"""Written last by a build: its presence, with the recipe's hash, marks a complete cache."""


@dataclasses.dataclass(frozen=True)
class _Program:
    binary: str
    package: str
    recipe: str
    ldflags: tuple[str, ...] = ()


def _kube_ldflags() -> tuple[str, ...]:
    # What Kubernetes' hack/lib/version.sh stamps, so that /version tells the real release.
    major, minor, _ = KUBE_VERSION.split(".")
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion=v{KUBE_VERSION}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate=1970-01-01T00:00:00Z",
        ]
    return tuple(flags)


_PROGRAMS = (
    _Program("etcd", "go.etcd.io/etcd/server/v3", "etcd"),
    _Program(
        "kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "kubernetes", _kube_ldflags()
    ),
    _Program(
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kubernetes",
        _kube_ldflags(),
    ),
    _Program(
        "kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", "kubernetes", _kube_ldflags()
    ),
    _Program("kwok", "sigs.k8s.io/kwok/cmd/kwok", "kwok"),
)

_KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)
"""kwok's own stages, as ``kwokctl`` sets them up: Nodes turn Ready and keep a Lease; pods
turn Running, complete when their containers are all done, and go when deleted."""


@dataclasses.dataclass(frozen=True)
class KubeBinaries:
    """The built programs, and kwok's stages (one YAML stream)."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    kwok_stages: Path

    @classmethod
    def in_cache(cls, cache: Path) -> KubeBinaries:
        """The paths a complete cache holds."""
        bin_ = cache / "bin"
        return cls(
            etcd=bin_ / "etcd",
            kube_apiserver=bin_ / "kube-apiserver",
            kube_controller_manager=bin_ / "kube-controller-manager",
            kube_scheduler=bin_ / "kube-scheduler",
            kwok=bin_ / "kwok",
            kwok_stages=cache / "kwok-stages.yaml",
        )

    def all(self) -> list[Path]:
        """Every path above."""
        return [Path(p) for p in dataclasses.astuple(self)]


def default_cache(version: str = KUBE_VERSION) -> Path:
    """Where the programs of ``version`` are kept between runs (shared by every clone)."""
    return Path.home() / ".cache" / "pachstream" / f"kube-{version}"


def _recipe_hash() -> str | None:
    # The versions are in the go.mod files: a changed recipe means a new build.
    if not RECIPE.is_dir():
        return None
    digest = hashlib.sha256()
    for name in sorted({p.recipe for p in _PROGRAMS}):
        for file in ("go.mod", "go.sum"):
            path = RECIPE / name / file
            if not path.exists():
                return None
            digest.update(f"{name}/{file}\0".encode() + path.read_bytes())
    digest.update(repr(_PROGRAMS).encode())
    return digest.hexdigest()[:16]


def _cached(cache: Path, want: str | None) -> KubeBinaries | None:
    marker = cache / _MARKER
    if not marker.exists():
        return None
    try:
        built = json.loads(marker.read_text())
    except ValueError:
        return None
    # Without the recipe beside the package (an installed wheel), any complete cache will do.
    if want is not None and built.get("recipe") != want:
        return None
    bins = KubeBinaries.in_cache(cache)
    return bins if all(p.exists() for p in bins.all()) else None


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    useful = [
        line
        for line in lines
        if not line.startswith(("#", "go: downloading", "go: finding", "go: extracting"))
    ]
    return (useful or lines or ["no output"])[0][:300]


def _go_env(jobs: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # Two shared cores: one package at a time, one compiler thread; nice 19 on top.
        GOFLAGS=f"-buildvcs=false -p={jobs} -mod=readonly",
        GOMAXPROCS=str(jobs),
        CGO_ENABLED="0",
    )
    return env


def _run_go(
    args: list[str], cwd: Path, log: Path, env: dict[str, str], deadline: float, what: str
) -> str:
    """Run ``go`` at nice 19 in its own process group; its output goes to ``log`` too."""
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []
    with log.open("a") as sink:
        sink.write(f"\n$ (cd {cwd} && {' '.join(args)})\n")
    proc = subprocess.Popen(
        [*nice, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise KubeUnavailable(
            f"building {what} with Go did not finish in time; see {log}; run 'make kube-bins'"
        ) from exc
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    with log.open("a") as sink:
        sink.write(out)
    if proc.returncode != 0:
        raise KubeUnavailable(
            f"building {what} with Go failed (exit {proc.returncode}: {_first_error(out)}); "
            f"see {log}"
        )
    return out


def fetch(
    cache: Path | None = None,
    *,
    build: bool = True,
    timeout_s: float = 7200,
    jobs: int = 1,
    quiet: bool = True,
) -> KubeBinaries:
    """Return the control plane's programs, built with Go into ``cache`` unless they are there.

    A cold build takes tens of minutes on two busy cores (see deploy/testing/kube/README.md),
    so a test session passes ``build=False`` and leaves it to ``make kube-bins``; ``jobs`` is
    how many packages Go compiles at once.

    Raises:
        KubeUnavailable: Go is not installed, the recipe is missing, the build failed, or
            (``build=False``) nothing is built yet.

    """
    cache = cache or default_cache()
    want = _recipe_hash()
    bins = _cached(cache, want)
    if bins is not None:
        return bins
    if not build:
        raise KubeUnavailable(
            f"the test control plane (Kubernetes {KUBE_VERSION}, etcd {ETCD_VERSION}, kwok "
            f"{KWOK_VERSION}) is not built in {cache}; run 'make kube-bins' (Go 1.26+, a cold "
            "build takes 20 to 40 minutes)"
        )
    if want is None:
        raise KubeUnavailable(
            f"{cache} holds no built control plane and its recipe {RECIPE} is missing; "
            "run 'make kube-bins' in a clone of pachstream"
        )
    go = shutil.which("go")
    if go is None:
        raise KubeUnavailable(
            f"Go (go) is not on PATH and {cache} holds no built control plane; "
            "install Go 1.26+ and run 'make kube-bins'"
        )
    cache.mkdir(parents=True, exist_ok=True)
    # Two runs building at once (make kube-bins and a test session) must not mix their files.
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        bins = _cached(cache, want)
        if bins is not None:
            return bins
        deadline = time.monotonic() + timeout_s
        env = _go_env(jobs)
        log = cache / "build.log"
        log.write_text(f"pachstream: building the test control plane (recipe {want})\n")
        staging = cache / "bin.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        src = cache / "src"
        for name in sorted({p.recipe for p in _PROGRAMS}):
            (src / name).mkdir(parents=True, exist_ok=True)
            for file in ("go.mod", "go.sum"):
                shutil.copyfile(RECIPE / name / file, src / name / file)
        for program in _PROGRAMS:
            began = time.monotonic()
            if not quiet:
                print(f"building {program.binary} ({program.package}) ...", flush=True)
            args = [go, "build", "-trimpath", "-ldflags", " ".join(("-s", "-w", *program.ldflags))]
            args += ["-o", str(staging / program.binary), program.package]
            _run_go(args, src / program.recipe, log, env, deadline, program.binary)
            took = time.monotonic() - began
            with log.open("a") as sink:
                sink.write(f"pachstream: built {program.binary} in {took:.0f}s\n")
            if not quiet:
                print(f"built {program.binary} in {took:.0f}s", flush=True)
        where = _run_go(
            [go, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
            src / "kwok",
            log,
            env,
            deadline,
            "kwok's stages",
        ).strip()
        stages = "---\n".join(
            (Path(where) / stage).read_text().rstrip("\n") + "\n" for stage in _KWOK_STAGES
        )
        bins = KubeBinaries.in_cache(cache)
        bins.kwok_stages.write_text(stages)
        shutil.rmtree(cache / "bin", ignore_errors=True)
        staging.rename(cache / "bin")
        versions = {"kubernetes": KUBE_VERSION, "etcd": ETCD_VERSION, "kwok": KWOK_VERSION}
        (cache / _MARKER).write_text(json.dumps({"recipe": want, **versions}) + "\n")
    bins = _cached(cache, want)
    if bins is None:
        raise KubeUnavailable(f"Go ran but left no programs in {cache / 'bin'}; see {log}")
    return bins


def _free_ports(count: int) -> list[int]:
    """``count`` different loopback ports, free right now (each bound to port 0 at once)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _openssl(args: list[str], cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise StackError(
            f"openssl {args[0]} failed (exit {done.returncode}): {_first_error(done.stderr)}"
        )


def _pki(folder: Path) -> None:
    """A CA, the apiserver's serving certificate from it, and a service-account key pair.

    P-256 keys: quick to make, and every component accepts them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        ["req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650"]
        + ["-subj", "/CN=pachstream-test-ca"],
        folder,
    )
    _openssl(
        ["req", "-new", *curve, "-keyout", "apiserver.key", "-out", "apiserver.csr"]
        + ["-subj", "/CN=kube-apiserver"],
        folder,
    )
    names = [
        "IP:127.0.0.1",
        "IP:10.0.0.1",  # the ClusterIP of the kubernetes Service, first of SERVICE_CIDR
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
    ]
    (folder / "apiserver.ext").write_text(
        f"subjectAltName={','.join(names)}\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl(
        ["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key"]
        + ["-CAcreateserial", "-days", "3650", "-extfile", "apiserver.ext"]
        + ["-out", "apiserver.crt"],
        folder,
    )
    _openssl(
        ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key"],
        folder,
    )
    _openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], folder)


def _kubeconfig(server: str, ca: Path, user: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "pachstream-test",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _b64(ca.read_bytes()),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "pachstream-test", "context": {"cluster": "pachstream-test", "user": user}}
        ],
        "current-context": "pachstream-test",
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _fake_node(name: str) -> dict[str, Any]:
    # Like kwokctl's node template: the annotation is what kwok's selector manages; no taint,
    # so ordinary pods are scheduled here.
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
        },
    }


class KubeControlPlane:
    """etcd, the apiserver, controllers, scheduler and kwok: ``with KubeControlPlane() as k:``.

    ``build=False``: use built programs only (:func:`fetch`), never start a build. Start it
    from a thread that outlives it (the main thread): its processes get SIGTERM when the
    starting thread ends.

    ``k.kubeconfig_path`` is a kubeconfig file of an admin (``system:masters``) user with a
    static token; ``k.kubeconfig`` is the same as a dict. Least-privilege users are named in
    ``extra_users`` (user name -> groups; RBAC gives them nothing until a test binds a Role),
    each with a kubeconfig of its own in ``k.user_kubeconfigs`` once started.
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        cache: Path | None = None,
        binaries: KubeBinaries | None = None,
        build: bool = True,
        extra_users: dict[str, list[str]] | None = None,
    ) -> None:
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="pachstream-kube-"))
        self._cache = cache
        self._binaries = binaries
        self._build = build
        self._extra_users = dict(extra_users or {})
        self.servers: list[Server] = []
        self.server_url = ""
        """``https://127.0.0.1:PORT`` of the apiserver."""
        self.etcd_url = ""
        self.kubeconfig: dict[str, Any] = {}
        self.kubeconfig_path = self.folder / "admin.kubeconfig"
        self.user_kubeconfigs: dict[str, Path] = {}
        self.node_name = NODE_NAME
        self.started_in_s: float | None = None
        """Seconds from the first process to ready (for the test report)."""
        self._tokens: dict[str, str] = {}
        self._ssl: ssl.SSLContext | None = None

    # -- starting -----------------------------------------------------------------------

    def start(self, timeout_s: float = 240) -> Path:
        """Start everything; return the admin kubeconfig's path once the plane is ready.

        Raises:
            KubeUnavailable: Go, the build or openssl is missing; nothing was started.
            StackError: A component did not start; those started are stopped again.

        """
        if self.servers:
            raise RuntimeError("the control plane is already started")
        try:
            bins = self._binaries or fetch(self._cache, build=self._build)
            if shutil.which("openssl") is None:
                raise KubeUnavailable(
                    "openssl is not on PATH (it makes the test certificates); "
                    "install it (Debian: apt-get install openssl)"
                )
            began = time.monotonic()
            self._start(bins, began + timeout_s)
            self.started_in_s = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self.kubeconfig_path

    def _start(self, bins: KubeBinaries, deadline: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        pki = self.folder / "pki"
        _pki(pki)
        self._ssl = ssl.create_default_context(cafile=str(pki / "ca.crt"))

        users = {
            "pachstream-admin": ["system:masters"],
            "system:kube-controller-manager": [],
            "system:kube-scheduler": [],
            # kwok writes Node and Pod status and Leases as the kubelet would: kwokctl runs
            # it as an admin too.
            "kwok": ["system:masters"],
            **self._extra_users,
        }
        rows = []
        for user, groups in users.items():
            token = secrets.token_hex(16)
            self._tokens[user] = token
            rows.append(f'{token},{user},{user}-uid,"{",".join(groups)}"')
        (pki / "tokens.csv").write_text("\n".join(rows) + "\n")

        # etcd
        client, peer, port = _free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{client}"
        etcd = self._spawn(
            "etcd",
            [
                str(bins.etcd),
                "--name=default",
                f"--data-dir={self.folder / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--log-level=warn",
                # Test data: a lost fsync loses nothing anyone keeps.
                "--unsafe-no-fsync",
                "--quota-backend-bytes=1073741824",
            ],
            client,
        )
        self._wait(etcd, deadline, "answer /health", lambda: self._etcd_healthy())

        # kube-apiserver
        self.server_url = f"https://127.0.0.1:{port}"
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(bins.kube_apiserver),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The reconciler refuses a loopback address for the kubernetes Service's
                # endpoints; no one here reaches the apiserver through that Service.
                "--endpoint-reconciler-type=none",
                f"--secure-port={port}",
                f"--cert-dir={self.folder / 'apiserver'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
            ],
            port,
        )
        self._wait(apiserver, deadline, "answer /readyz with ok", self._apiserver_ready)

        self.kubeconfig = _kubeconfig(
            self.server_url, pki / "ca.crt", "pachstream-admin", self._tokens["pachstream-admin"]
        )
        self.kubeconfig_path.write_text(yaml.safe_dump(self.kubeconfig, sort_keys=False))
        configs = {}
        for user in users:
            path = self.folder / f"{user.replace(':', '-')}.kubeconfig"
            data = _kubeconfig(self.server_url, pki / "ca.crt", user, self._tokens[user])
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            configs[user] = path
        self.user_kubeconfigs = {u: configs[u] for u in self._extra_users}

        # The controllers (StatefulSets, ReplicaSets, namespaces, service accounts, garbage
        # collection...) and the scheduler. Neither serves HTTPS (port 0): health is seen
        # through the API.
        self._spawn(
            "kube-controller-manager",
            [
                str(bins.kube_controller_manager),
                f"--kubeconfig={configs['system:kube-controller-manager']}",
                "--secure-port=0",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allocate-node-cidrs=false",
                "--profiling=false",
                "--v=1",
            ],
            0,
        )
        self._spawn(
            "kube-scheduler",
            [
                str(bins.kube_scheduler),
                f"--kubeconfig={configs['system:kube-scheduler']}",
                "--secure-port=0",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ],
            0,
        )
        kwok_config = self.folder / "kwok.yaml"
        shutil.copyfile(bins.kwok_stages, kwok_config)
        self._spawn(
            "kwok",
            [
                str(bins.kwok),
                f"--kubeconfig={configs['kwok']}",
                f"--config={kwok_config}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
            ],
            0,
        )
        self.request("POST", "/api/v1/nodes", _fake_node(self.node_name))
        for server in self.servers[2:]:
            # Each of these has no port to ask: it must at least still run.
            self._check_alive(server)
        self._wait(apiserver, deadline, f"see Node {self.node_name} Ready", self._node_ready)
        self._wait(
            apiserver,
            deadline,
            "see the controller manager make ServiceAccount default/default",
            lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
        )

    def _spawn(self, name: str, args: list[str], port: int) -> Server:
        log = self.folder / "logs" / f"{name}.log"
        with log.open("ab") as sink:
            # SIGTERM from the kernel if the thread that started it dies: a test process killed
            # with SIGKILL leaves no control plane behind on its ports.
            proc = subprocess.Popen(
                args,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=set_parent_death_signal,
            )
        address = f"127.0.0.1:{port}" if port else ""
        server = Server(name, proc, address, log, port)
        self.servers.append(server)
        return server

    def _check_alive(self, server: Server) -> None:
        if server.process.poll() is not None:
            raise StackError(
                f"{server.name} exited with code {server.process.returncode} while starting; "
                f"see {server.log}:\n{tail(server.log)}"
            )

    def _wait(self, server: Server, deadline: float, what: str, ready: Any) -> None:
        while True:
            for each in self.servers:
                self._check_alive(each)
            try:
                if ready():
                    return
            except (OSError, ValueError, StackError):
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"{server.name} did not {what} in time; see {server.log}:\n{tail(server.log)}"
                )
            time.sleep(0.25)

    # -- asking -------------------------------------------------------------------------

    def _etcd_healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as answer:
            return bool(json.loads(answer.read()).get("health") == "true")

    def _apiserver_ready(self) -> bool:
        req = urllib.request.Request(
            f"{self.server_url}/readyz",
            headers={"Authorization": f"Bearer {self._tokens['pachstream-admin']}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5, context=self._ssl) as answer:
                return bool(answer.read().strip() == b"ok")
        except urllib.error.HTTPError:
            return False  # 500 until every post-start hook has run

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One admin call to the API (JSON in and out); ``StackError`` on an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.server_url}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._tokens['pachstream-admin']}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._ssl) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            said = exc.read().decode(errors="replace")[:300]
            raise StackError(f"{method} {path}: HTTP {exc.code}: {said}", status=exc.code) from exc

    def _exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except StackError as exc:
            if exc.fields.get("status") == 404:
                return False
            raise
        return True

    def _node_ready(self) -> bool:
        node = self.request("GET", f"/api/v1/nodes/{self.node_name}")
        conditions = node.get("status", {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    # -- stopping -----------------------------------------------------------------------

    def stop(self, grace_s: float = 10) -> None:
        """SIGTERM each process, newest first, SIGKILL after ``grace_s``; idempotent."""
        for server in reversed(self.servers):
            stop_process(server.process, signal.SIGTERM, grace_s)
        self.servers.clear()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> KubeControlPlane:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """``fetch``: build the programs into the cache. ``serve``: run a plane until Ctrl-C."""
    command = argv[0] if argv else "fetch"
    try:
        if command == "fetch":
            began = time.monotonic()
            bins = fetch(quiet=False)
            sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in bins.all()[:5])
            print(
                f"Kubernetes {KUBE_VERSION}, etcd {ETCD_VERSION}, kwok {KWOK_VERSION} in "
                f"{default_cache()} ({sizes}; {time.monotonic() - began:.0f}s)"
            )
            return 0
        if command == "serve":

            def interrupt(signum: int, frame: object) -> None:
                raise KeyboardInterrupt  # SIGTERM stops the plane as Ctrl-C does

            signal.signal(signal.SIGTERM, interrupt)
            folder = Path(tempfile.mkdtemp(prefix="pachstream-kube-"))
            with KubeControlPlane(folder) as plane:
                print(
                    f"Kubernetes {KUBE_VERSION} at {plane.server_url}, ready in "
                    f"{plane.started_in_s:.1f}s; KUBECONFIG={plane.kubeconfig_path} "
                    f"(logs: {folder / 'logs'})",
                    flush=True,
                )
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
            shutil.rmtree(folder, ignore_errors=True)
            return 0
    except KubeUnavailable as exc:
        print(f"Kubernetes control plane unavailable: {exc}", file=sys.stderr)
        return 1
    except StackError as exc:
        print(f"Kubernetes control plane did not start: {exc}", file=sys.stderr)
        return 1
    print(f"unknown command {command!r}; use 'fetch' or 'serve'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
