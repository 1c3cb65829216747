"""Configuration: the only module that reads ``os.environ``.

Every process builds one frozen :class:`Settings` at its entry point and passes pieces down.
Addresses come, in order, from environment variables, then from the data folder's
``stack.json`` written by ``pachstream up``; a command that finds neither says so.

Variables:
    PACHSTREAM_HOME             data folder (default ``./.pachstream``)
    PACHSTREAM_IMAGES           image store folder (default ``$PACHSTREAM_HOME/images``)
    PACHSTREAM_NAMESPACE        prefix of topics, Postgres schema and S3 keys (default ``ps``)
    PACHSTREAM_KAFKA_BOOTSTRAP  ``host:port[,host:port]`` of a Kafka-protocol broker
    PACHSTREAM_POSTGRES_DSN     ``postgresql://...`` (unset: ``up`` starts an embedded
                                PostgreSQL on 127.0.0.1, its password kept in
                                ``$PACHSTREAM_HOME/postgres.password``)
    PACHSTREAM_S3_ENDPOINT      ``http://host:port`` of an S3-compatible store
    PACHSTREAM_S3_BUCKET        bucket for content and manifests (default ``pachstream``)
    PACHSTREAM_S3_ACCESS_KEY, PACHSTREAM_S3_SECRET_KEY, PACHSTREAM_S3_REGION
    PACHSTREAM_S3_FILER_SOCKET  the embedded SeaweedFS filer's unix socket (set by the stack)
    PACHSTREAM_KAFKA_PARTITIONS partitions of the keyed topics pachstream creates (default 2)
    PACHSTREAM_KAFKA_STORAGE    Tansu storage for an embedded broker: ``s3`` (default) or ``memory``
    PACHSTREAM_INGEST_POLICY    ingest records per commit: ``N/Ts`` and ``repo=N/Ts``
                                (default 1000/5s)
    PACHSTREAM_NOTIFY           S3 bucket notifications:
                                ``topic=T,repo=R[,branch,prefix,endpoint,...]``
    PACHSTREAM_GATEWAY_ADDRESS  ``host:port`` the S3 gateway listens on (default 127.0.0.1:1600;
                                ``pachstream up`` picks a free port and records it)
    PACHSTREAM_GATEWAY_CORS_ORIGINS
                                web pages that may call the S3 gateway from a browser:
                                comma-separated origins (``https://app.example``) or ``*``;
                                unset: any origin when requests are signed, none otherwise
    PACHSTREAM_GATEWAY_ACCESS_KEY, PACHSTREAM_GATEWAY_SECRET_KEY
                                when set, every S3 gateway request must be signed with them
                                (AWS Signature V4); unset, the gateway takes unsigned requests
                                and starts only on a loopback address
    PACHSTREAM_CONSOLE_ADDRESS  ``host:port`` the web console listens on (default
                                127.0.0.1:1700; ``pachstream up`` picks a free loopback port);
                                an address that is not loopback needs PACHSTREAM_CONSOLE_TOKEN
    PACHSTREAM_CONSOLE_TOKEN    the secret a browser gives once to use the console (required
                                when the console listens beyond loopback)
    PACHSTREAM_METRICS_ADDRESS  ``host:port`` where this one process serves ``GET /metrics``
                                (unset: none; ``pachstream up`` gives each processor a free
                                loopback port); never passed on to child processes
    PACHSTREAM_OPENLINEAGE      where the OpenLineage exporter sends events (unset: no exporter);
                                see :func:`pachstream.config.parse_target`
    PACHSTREAM_WORKERS          where ``pachstream run workers`` runs the workers: ``local``
                                (default; one process per shard on this machine) or
                                ``kubernetes`` (one StatefulSet per pipeline; the Kubernetes
                                connection is the pod's service account, else ``$KUBECONFIG``
                                or ``~/.kube/config``)
    PACHSTREAM_KUBE_NAMESPACE   Kubernetes namespace of the worker StatefulSets (default
                                ``default``)
    PACHSTREAM_KUBE_IMAGE       the pachstream image the worker pods run as their sidecar (and
                                take the agent's static busybox from); required with
                                ``PACHSTREAM_WORKERS=kubernetes``

The three configuration strings (ingest policy, notify, OpenLineage) are parsed here, at once
(:mod:`pachstream.config`), so a bad one fails whatever reads the environment first, ``up``
included, with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson

from pachstream.config import (
    CommitPolicy,
    NotifyConfig,
    Target,
    parse_notify_config,
    parse_policies,
    parse_target,
)
from pachstream.errors import ConfigError, InvalidInput
from pachstream.security import is_loopback, redacted_repr

STACK_FILE = "stack.json"
_NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_KUBE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _kube_name(env: Mapping[str, str], variable: str, default: str, what: str) -> str:
    """A Kubernetes name (a DNS label) from ``variable``, or ConfigError saying what fits."""
    value = env.get(variable) or default
    if not _KUBE_NAME_RE.match(value):
        raise ConfigError(
            f"{variable}={value!r} is invalid; give {what}: 1-63 lowercase letters, digits or "
            "'-', starting and ending with a letter or digit"
        )
    return value


def _count(env: Mapping[str, str], variable: str, default: int, most: int, what: str) -> int:
    """A whole number from 1 to ``most`` from ``variable``, or ConfigError saying what fits."""
    value = env.get(variable, str(default))
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= most:
        raise ConfigError(f"{variable}={value!r} is invalid; give {what}, 1 to {most}")
    return int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    """Where the broker is."""

    bootstrap: str
    """Comma-separated ``host:port`` list."""
    replication: int = 1
    """Replication factor of the topics pachstream creates (``PACHSTREAM_KAFKA_REPLICATION``;
    3 on a production cluster of three or more brokers)."""
    partitions: int = 2
    """Partitions of the keyed topics pachstream creates: requests, events, ingest
    (``PACHSTREAM_KAFKA_PARTITIONS``). Each processor reads every partition of its topics, so
    more buy no parallelism today, and every caught-up reader asks after each one in every
    fetch: at 8, a job's hops were ~12 % slower and the embedded broker spent half as much
    CPU again as at 2 (measured, ``bench latency``'s chain, 4 runs each). Topics already
    created keep their count (readers ask the broker)."""


@redacted_repr
@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresSettings:
    """Where the query side lives."""

    dsn: str
    """A libpq URI."""


@redacted_repr
@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectStoreSettings:
    """Where content, packs and manifests are stored."""

    endpoint: str
    """``http://host:port`` of the S3 API."""
    bucket: str = "pachstream"
    """Bucket holding every object of every namespace."""
    access_key: str = "pachstream"
    """Access key id (SeaweedFS accepts any by default)."""
    secret_key: str = "pachstream"
    """Secret access key."""
    region: str = "us-east-1"
    """Signing region."""
    filer_socket: str = ""
    """The unix socket of the embedded SeaweedFS's filer (its own HTTP API, no S3 layer), or
    empty. The stack's own objects (keys under a namespace) are read and written there: a
    small PUT takes ~0.8 ms against ~7 through SeaweedFS's S3 gateway. Set only by the
    embedded stack, for the embedded store; listings and anything else go through S3."""


@redacted_repr
@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a pachstream process needs to reach its servers."""

    home: Path
    """Data folder of the embedded stack."""
    namespace: str
    """Prefix of topic names, the Postgres schema and S3 keys: lets tests and tenants share
    one set of servers without seeing each other."""
    kafka: KafkaSettings | None
    """None when neither the environment nor ``stack.json`` names a broker."""
    postgres: PostgresSettings | None
    """None when neither the environment nor ``stack.json`` names a database."""
    s3: ObjectStoreSettings | None
    """None when neither the environment nor ``stack.json`` names an object store."""
    kafka_storage: str = "s3"
    """Storage of an embedded Tansu broker: ``s3`` (durable) or ``memory``."""
    ingest_policy: str | None = None
    """``PACHSTREAM_INGEST_POLICY``: when ingest records become commits, e.g.
    ``1000/5s,logs=100/0.5s`` (see :func:`pachstream.config.parse_policies`)."""
    notify: str | None = None
    """``PACHSTREAM_NOTIFY``: the topic of an S3 bucket's event notifications and where its
    objects go, e.g. ``topic=s3-events,repo=raw,endpoint=http://minio:9000``."""
    gateway_address: str | None = None
    """``PACHSTREAM_GATEWAY_ADDRESS``: ``host:port`` of the S3 gateway (None: the default)."""
    gateway_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(access key, secret key) pairs the S3 gateway accepts; empty: unsigned requests pass."""
    gateway_cors_origins: tuple[str, ...] | None = None
    """``PACHSTREAM_GATEWAY_CORS_ORIGINS``, parsed: origins (or ``*``) that browsers may call
    the S3 gateway from; None: the gateway's default."""
    console_address: str | None = None
    """``PACHSTREAM_CONSOLE_ADDRESS``: ``host:port`` of the web console (None: the default)."""
    console_token: str | None = None
    """``PACHSTREAM_CONSOLE_TOKEN``: the console's access token (None: loopback only)."""
    metrics_address: str | None = None
    """``PACHSTREAM_METRICS_ADDRESS``: ``host:port`` of this process's ``/metrics`` (None: no
    metrics server). Not in :meth:`child_env`: two processes cannot share one port."""
    openlineage: str | None = None
    """``PACHSTREAM_OPENLINEAGE`` as given: where OpenLineage events go; None runs no
    exporter."""
    images: Path | None = None
    """``PACHSTREAM_IMAGES``: folder of the local image store; None: ``<home>/images``
    (see :attr:`images_dir`)."""
    workers: str = "local"
    """``PACHSTREAM_WORKERS``: ``local`` (processes here) or ``kubernetes`` (StatefulSets)."""
    kube_namespace: str = "default"
    """``PACHSTREAM_KUBE_NAMESPACE``: Kubernetes namespace of the worker StatefulSets."""
    kube_image: str | None = None
    """``PACHSTREAM_KUBE_IMAGE``: the pachstream image of the worker pods' sidecar; set
    whenever :attr:`workers` is ``kubernetes``."""
    kube_secret: str = "pachstream-secrets"
    """``PACHSTREAM_KUBE_SECRET``: the Secret (in :attr:`kube_namespace`) whose keys are the
    worker pods' credential variables; ``deploy render``'s by default."""

    @property
    def images_dir(self) -> Path:
        """Folder of the local image store (:mod:`pachstream.images`)."""
        return self.images if self.images is not None else self.home / "images"

    def ingest_policies(self) -> tuple[CommitPolicy, dict[str, CommitPolicy]]:
        """``PACHSTREAM_INGEST_POLICY`` parsed: the default policy and the per-repo ones."""
        return parse_policies(self.ingest_policy)

    def notify_config(self) -> NotifyConfig | None:
        """``PACHSTREAM_NOTIFY`` parsed; None when unset."""
        return parse_notify_config(self.notify)

    def openlineage_target(self) -> Target | None:
        """``PACHSTREAM_OPENLINEAGE`` parsed; None when unset (no exporter runs)."""
        return parse_target(self.openlineage) if self.openlineage else None

    def check_config(self) -> None:
        """Parse the three configuration strings, or raise the ConfigError naming the variable.

        :meth:`from_env` calls it; a ``Settings`` built by hand (tests) may call it too.

        Raises:
            ConfigError: the variable, the bad value and the accepted forms.

        """
        try:
            self.ingest_policies()
            self.notify_config()
            self.openlineage_target()
        except InvalidInput as exc:
            raise ConfigError(exc.message) from exc

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, stack_file: bool = True
    ) -> Settings:
        """Build settings from the environment, filling gaps from ``$PACHSTREAM_HOME/stack.json``
        (unless ``stack_file`` is false: ``up`` asks which servers the user named).
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("PACHSTREAM_HOME", ".pachstream")).expanduser().absolute()
        images = env.get("PACHSTREAM_IMAGES") or None
        if images is not None and Path(images).expanduser().exists():
            if not Path(images).expanduser().is_dir():
                raise ConfigError(
                    f"PACHSTREAM_IMAGES={images!r} is not a directory; name a folder for the "
                    "image store (it is created when absent) "
                    "or unset it for $PACHSTREAM_HOME/images"
                )
        namespace = env.get("PACHSTREAM_NAMESPACE", "ps")
        if not _NAMESPACE_RE.match(namespace):
            raise ConfigError(
                f"PACHSTREAM_NAMESPACE={namespace!r} is invalid; use 1-31 lowercase letters, "
                "digits or '_', starting with a letter"
            )
        storage = env.get("PACHSTREAM_KAFKA_STORAGE", "s3")
        if storage not in ("s3", "memory"):
            raise ConfigError(
                f"PACHSTREAM_KAFKA_STORAGE={storage!r} is invalid; use 's3' or 'memory'"
            )
        recorded = read_stack_file(home) if stack_file else {}
        bootstrap = env.get("PACHSTREAM_KAFKA_BOOTSTRAP") or recorded.get("kafka_bootstrap")
        dsn = env.get("PACHSTREAM_POSTGRES_DSN") or recorded.get("postgres_dsn")
        endpoint = env.get("PACHSTREAM_S3_ENDPOINT") or recorded.get("s3_endpoint")
        s3 = None
        # The stack's filer serves only the stack's own store: never beside an endpoint named
        # in the environment that is not the one the stack recorded.
        filer = (
            recorded.get("s3_filer_socket", "") if endpoint == recorded.get("s3_endpoint") else ""
        )
        if endpoint:
            if not endpoint.startswith(("http://", "https://")):
                raise ConfigError(
                    f"PACHSTREAM_S3_ENDPOINT={endpoint!r} is invalid; give a URL like "
                    "http://127.0.0.1:8333"
                )
            s3 = ObjectStoreSettings(
                endpoint=endpoint,
                bucket=env.get("PACHSTREAM_S3_BUCKET", recorded.get("s3_bucket", "pachstream")),
                access_key=env.get("PACHSTREAM_S3_ACCESS_KEY", "pachstream"),
                secret_key=env.get("PACHSTREAM_S3_SECRET_KEY", "pachstream"),
                region=env.get("PACHSTREAM_S3_REGION", "us-east-1"),
                filer_socket=env.get("PACHSTREAM_S3_FILER_SOCKET") or filer,
            )
        access, secret = (
            env.get("PACHSTREAM_GATEWAY_ACCESS_KEY"),
            env.get("PACHSTREAM_GATEWAY_SECRET_KEY"),
        )
        if bool(access) != bool(secret):
            raise ConfigError(
                "set both PACHSTREAM_GATEWAY_ACCESS_KEY and PACHSTREAM_GATEWAY_SECRET_KEY "
                "(or neither, for a gateway that takes unsigned requests)"
            )
        gateway = env.get("PACHSTREAM_GATEWAY_ADDRESS") or recorded.get("s3_gateway") or None
        if gateway is not None:
            gateway = gateway.removeprefix("http://")
            parse_host_port(gateway, "PACHSTREAM_GATEWAY_ADDRESS", "127.0.0.1:1600")
        replication = _count(
            env,
            "PACHSTREAM_KAFKA_REPLICATION",
            1,
            32,
            "the replication factor of pachstream's topics (3 on a production cluster)",
        )
        partitions = _count(
            env,
            "PACHSTREAM_KAFKA_PARTITIONS",
            2,
            1024,
            "the partitions of pachstream's keyed topics (requests, events, ingest)",
        )
        workers = env.get("PACHSTREAM_WORKERS") or "local"
        if workers not in ("local", "kubernetes"):
            raise ConfigError(
                f"PACHSTREAM_WORKERS={workers!r} is invalid; use 'local' (processes on this "
                "machine) or 'kubernetes' (StatefulSets)"
            )
        kube_namespace = _kube_name(
            env, "PACHSTREAM_KUBE_NAMESPACE", "default", "a Kubernetes namespace"
        )
        kube_image = (env.get("PACHSTREAM_KUBE_IMAGE") or "").strip() or None
        if workers == "kubernetes" and kube_image is None:
            raise ConfigError(
                "PACHSTREAM_WORKERS=kubernetes needs PACHSTREAM_KUBE_IMAGE, the pachstream image "
                "the worker pods run (e.g. registry.example/pachstream:0.1); set it, or use "
                "PACHSTREAM_WORKERS=local"
            )
        kube_secret = _kube_name(
            env, "PACHSTREAM_KUBE_SECRET", "pachstream-secrets", "the name of a Secret"
        )
        cors = env.get("PACHSTREAM_GATEWAY_CORS_ORIGINS")
        console = env.get("PACHSTREAM_CONSOLE_ADDRESS") or None
        console_token = env.get("PACHSTREAM_CONSOLE_TOKEN") or None
        if console is not None:
            check_console_address(console, console_token)
        metrics = env.get("PACHSTREAM_METRICS_ADDRESS") or None
        if metrics is not None:
            parse_host_port(metrics, "PACHSTREAM_METRICS_ADDRESS", "127.0.0.1:9464")
        settings = cls(
            metrics_address=metrics,
            console_address=console,
            console_token=console_token,
            home=home,
            images=None if images is None else Path(images).expanduser().absolute(),
            gateway_address=gateway,
            gateway_cors_origins=None if cors is None else parse_cors_origins(cors),
            gateway_keys=((access, secret),) if access and secret else (),
            namespace=namespace,
            kafka=(
                KafkaSettings(
                    bootstrap=bootstrap,
                    replication=replication,
                    partitions=partitions,
                )
                if bootstrap
                else None
            ),
            postgres=PostgresSettings(dsn=dsn) if dsn else None,
            s3=s3,
            kafka_storage=storage,
            openlineage=env.get("PACHSTREAM_OPENLINEAGE") or None,
            ingest_policy=env.get("PACHSTREAM_INGEST_POLICY") or None,
            notify=env.get("PACHSTREAM_NOTIFY") or None,
            workers=workers,
            kube_namespace=kube_namespace,
            kube_image=kube_image,
            kube_secret=kube_secret,
        )
        settings.check_config()
        return settings

    def secrets(self) -> tuple[str, ...]:
        """The secret values these settings hold, for :func:`pachstream.security.redact`:
        the gateway's secret keys, the object store's secret key (unless it is the embedded
        store's public default), the passwords of the Postgres DSN and the OpenLineage URL,
        the notification bucket's secret key and the console's token.
        """
        found = [secret for _, secret in self.gateway_keys]
        if self.s3 is not None and self.s3.secret_key != "pachstream":  # the public default
            found.append(self.s3.secret_key)
        for url in (self.postgres.dsn if self.postgres else None, self.openlineage):
            password = urlsplit(url).password if url and "://" in url else None
            if password:
                found.extend({password, unquote(password)})
        notify = self.notify_config()
        if notify is not None and notify.secret_key:
            found.append(notify.secret_key)
        if self.console_token:
            found.append(self.console_token)
        return tuple(s for s in found if s)

    def with_namespace(self, namespace: str) -> Settings:
        """The same servers under another namespace (tests give each test its own)."""
        return replace(self, namespace=namespace)

    def require(self) -> tuple[KafkaSettings, PostgresSettings, ObjectStoreSettings]:
        """The three server addresses, or a ConfigError that says how to get them."""
        missing = [
            name
            for name, value in (
                ("PACHSTREAM_KAFKA_BOOTSTRAP", self.kafka),
                ("PACHSTREAM_POSTGRES_DSN", self.postgres),
                ("PACHSTREAM_S3_ENDPOINT", self.s3),
            )
            if value is None
        ]
        if missing:
            raise ConfigError(
                f"no running stack found in {self.home} and {', '.join(missing)} not set; "
                "run 'pachstream up --detach' first (or set PACHSTREAM_HOME to the stack's folder)"
            )
        assert self.kafka and self.postgres and self.s3
        return self.kafka, self.postgres, self.s3

    def child_env(self) -> dict[str, str]:
        """Environment variables that make a child process see these same servers."""
        out = {"PACHSTREAM_HOME": str(self.home), "PACHSTREAM_NAMESPACE": self.namespace}
        if self.images is not None:
            out["PACHSTREAM_IMAGES"] = str(self.images)
        if self.openlineage:
            out["PACHSTREAM_OPENLINEAGE"] = self.openlineage
        if self.ingest_policy:
            out["PACHSTREAM_INGEST_POLICY"] = self.ingest_policy
        if self.notify:
            out["PACHSTREAM_NOTIFY"] = self.notify
        if self.workers != "local":
            out["PACHSTREAM_WORKERS"] = self.workers
            out["PACHSTREAM_KUBE_NAMESPACE"] = self.kube_namespace
        if self.kube_image:
            out["PACHSTREAM_KUBE_IMAGE"] = self.kube_image
        if self.kube_secret != "pachstream-secrets":
            out["PACHSTREAM_KUBE_SECRET"] = self.kube_secret
        if self.gateway_address:
            out["PACHSTREAM_GATEWAY_ADDRESS"] = self.gateway_address
        if self.console_address:
            out["PACHSTREAM_CONSOLE_ADDRESS"] = self.console_address
        if self.console_token:
            out["PACHSTREAM_CONSOLE_TOKEN"] = self.console_token
        if self.gateway_cors_origins is not None:
            out["PACHSTREAM_GATEWAY_CORS_ORIGINS"] = ",".join(self.gateway_cors_origins)
        for access, secret in self.gateway_keys[:1]:
            out.update(PACHSTREAM_GATEWAY_ACCESS_KEY=access, PACHSTREAM_GATEWAY_SECRET_KEY=secret)
        if self.kafka:
            out["PACHSTREAM_KAFKA_BOOTSTRAP"] = self.kafka.bootstrap
            out["PACHSTREAM_KAFKA_REPLICATION"] = str(self.kafka.replication)
            out["PACHSTREAM_KAFKA_PARTITIONS"] = str(self.kafka.partitions)
        if self.postgres:
            out["PACHSTREAM_POSTGRES_DSN"] = self.postgres.dsn
        if self.s3:
            out.update(
                PACHSTREAM_S3_ENDPOINT=self.s3.endpoint,
                PACHSTREAM_S3_BUCKET=self.s3.bucket,
                PACHSTREAM_S3_ACCESS_KEY=self.s3.access_key,
                PACHSTREAM_S3_SECRET_KEY=self.s3.secret_key,
                PACHSTREAM_S3_REGION=self.s3.region,
            )
            if self.s3.filer_socket:
                out["PACHSTREAM_S3_FILER_SOCKET"] = self.s3.filer_socket
        return out


def read_stack_file(home: Path) -> dict[str, str]:
    """The addresses ``pachstream up`` recorded, or an empty dict when there are none."""
    path = home / STACK_FILE
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); delete it and run 'pachstream up'"
        ) from exc
    addresses = data.get("addresses", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in addresses.items() if isinstance(v, str)}


def parse_host_port(address: str, variable: str, example: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (either after an optional ``http://``) as (host, port),
    the host without brackets; port 0 asks for any free port.

    Pure; every ``PACHSTREAM_*_ADDRESS`` is read through it, so all take the same forms.

    Raises:
        ConfigError: Not ``host:port`` with a port from 0 to 65535, or an IPv6 host without
            brackets (``::1:80`` reads two ways); the message names ``variable``, the value
            and ``example``.

    """
    host, colon, port = address.removeprefix("http://").rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
        good_host = _is_ipv6(host)
    else:
        good_host = bool(host) and not any(c in host for c in ":[]/@ ")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    good_port = port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535
    if not (colon and good_host and good_port):
        unbracketed_v6 = not bracketed and host.count(":") > 1
        v6 = " (an IPv6 host goes in brackets: [::1]:port)" if unbracketed_v6 else ""
        raise ConfigError(
            f"{variable}={address!r} is invalid; give host:port with a port from 0 to 65535 "
            f"(0: any free port){v6}, e.g. {example}",
            variable=variable,
            value=address,
        )
    return host, int(port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def join_host_port(host: str, port: int) -> str:
    """``host:port`` from :func:`parse_host_port`'s parts, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_console_address(address: str, token: str | None) -> tuple[str, int]:
    """``PACHSTREAM_CONSOLE_ADDRESS`` as (host, port), or the ConfigError saying what is wrong:
    not ``host:port``, or an address beyond loopback without ``PACHSTREAM_CONSOLE_TOKEN``.
    """
    host, port = parse_host_port(address, "PACHSTREAM_CONSOLE_ADDRESS", "127.0.0.1:1700")
    if not is_loopback(host) and not token:  # a host name may resolve anywhere
        raise ConfigError(
            f"PACHSTREAM_CONSOLE_ADDRESS={address!r} is not a loopback address, so anyone who "
            "reaches it could stop pipelines; set PACHSTREAM_CONSOLE_TOKEN to a long random "
            "secret (browsers give it once at /login), or listen on 127.0.0.1"
        )
    return host, port


def parse_cors_origins(text: str) -> tuple[str, ...]:
    """Origins from ``PACHSTREAM_GATEWAY_CORS_ORIGINS``: comma-separated, ``*`` for any.

    Raises:
        ConfigError: An origin is neither ``*`` nor ``scheme://host[:port]``.
    """
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise ConfigError(
                f"PACHSTREAM_GATEWAY_CORS_ORIGINS: origin '{origin}' is not scheme://host[:port] "
                "(for example https://app.example) or '*'"
            )
    return origins
