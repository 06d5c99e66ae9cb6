"""Local data that survives a restart: a versioned JSON snapshot in the data directory
(`make dev` uses `.devdata/`; `DEV_DATA` names another; unset for `python -m devstack`, which
then keeps everything in moto's memory as before).

What is kept: every item of every table the template declares (Scan, DynamoDB JSON: the
ledger, the projection table with its APPLIED# markers, revocations, the notifier's idempotency
records), and the people of every user pool (read from moto's backend objects, since no API
returns a password): username, `sub`, password, status, enabled flag, attributes, groups, MFA
flags, plus the pool's issued tokens, so a signed-in browser stays signed in. The pool and app
client ids are kept too, and given again to the pool and client the template creates after a
restart, so the issuer, the audience and every token stay valid.

Consistency with the stream consumers: a snapshot is taken while the pollers' DeliveryGate is
paused (no batch in flight), so the summaries, markers and idempotency records it reads match
the pollers' checkpoints. Ledger items whose stream records a consumer had not been handed yet
(the checkpoint is behind them, and its filter would pass them) are listed as `pending`.

Restoring, after the template's resources exist and BEFORE any poller starts: the people
first, then every table item except the pending ones, then the pollers are told to start
after the last stream record those writes produced (so restored items are neither projected
nor mailed again, as a table restored from a backup has an empty stream), and finally the
pending items are written again: they reach both consumers, whose markers and idempotency
records make a second delivery harmless. Nothing is mailed twice and nothing logged before
the stop goes unmailed.

Snapshots are written atomically (temporary file + rename, mode 0600: it holds passwords)
every few seconds while something changed, and once more on a graceful stop, after the API
stopped taking requests and the pollers drained.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devstack.cognito import USER_POOL, USER_POOL_CLIENT
from devstack.files import write_atomically
from devstack.pollers import (
    DeliveryGate,
    PollerGroup,
    lambda_record,
    moto_iterator_janitor,
    sequence_of,
    stream_settings,
)
from devstack.template import StackInfo

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "scc-payments-devstack-data"
SNAPSHOT_VERSION = 1
SNAPSHOT_FILE = "snapshot.json"
LOCK_FILE = ".lock"
MAIL_SUBDIR = "mail"
SMTP_SUBDIR = "smtp"
# Periodic snapshots: at most this often while something changed, and a full check (scan,
# compare, write if different) at least this often even when nothing seemed to change.
SNAPSHOT_INTERVAL_SECONDS = 2.0
SNAPSHOT_CHECK_SECONDS = 30.0
# How long a snapshot waits for a batch in flight before it tries again later.
PAUSE_TIMEOUT_SECONDS = 5.0
FINAL_PAUSE_TIMEOUT_SECONDS = 10.0
_BATCH_WRITE_LIMIT = 25
_GET_RECORDS_LIMIT = 1000


class DataError(RuntimeError):
    """The data directory cannot be used; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# The data directory
# ---------------------------------------------------------------------------------------------


class DataDir:
    """`<path>/snapshot.json`, the mail the stack writes (`mail/`, `smtp/`) and a lock that
    keeps a second stack from using the same directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_handle: int | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.path / SNAPSHOT_FILE

    @property
    def mail_dir(self) -> Path:
        return self.path / MAIL_SUBDIR

    @property
    def smtp_dir(self) -> Path:
        return self.path / SMTP_SUBDIR

    def lock(self) -> None:
        """Hold the directory for this process (released by `unlock` or when it exits)."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(handle, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(handle)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DataError(
                    f"another local stack (pid {owner}) is using {self.path}; stop it first, "
                    "or give this one its own DEV_DATA directory"
                ) from None
            raise
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)
        self._lock_handle = handle

    def unlock(self) -> None:
        handle, self._lock_handle = self._lock_handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                os.close(handle)  # closing releases the flock

    def reset(self) -> list[str]:
        """RESET=1: forget the snapshot and the mail kept here. Only what the local stack
        writes is removed (the snapshot, the files directly in mail/ and smtp/)."""
        removed: list[str] = []
        if self.snapshot_path.is_file():
            self.snapshot_path.unlink()
            removed.append(SNAPSHOT_FILE)
        for folder in (self.mail_dir, self.smtp_dir):
            if folder.is_dir() and not folder.is_symlink():
                files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
                for path in files:
                    path.unlink()
                if files:
                    removed.append(f"{len(files)} file(s) in {folder.name}/")
        return removed

    def load(self) -> dict[str, Any] | None:
        """The snapshot (None when there is none yet); DataError when it cannot be used."""
        try:
            raw = self.snapshot_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            snapshot = json.loads(raw)
        except ValueError as exc:
            raise DataError(
                f"{self.snapshot_path} is not readable JSON ({exc}); start with RESET=1 to "
                "discard it (make dev RESET=1)"
            ) from None
        check_snapshot(snapshot, self.snapshot_path)
        return dict(snapshot)

    def write(self, snapshot: Mapping[str, Any]) -> None:
        """Atomically: readers (and a restart after kill -9) see the old or the new file."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(snapshot, separators=(",", ":"), sort_keys=True).encode("utf-8")
        write_atomically(self.snapshot_path, data, durable=True)


def check_snapshot(snapshot: Any, where: Path | str) -> None:
    """Refuse a snapshot this code cannot read, naming RESET=1."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        raise DataError(
            f"{where} is not a local stack snapshot; move it away, or start with RESET=1 to "
            "discard it (make dev RESET=1)"
        )
    version = snapshot.get("version")
    if version != SNAPSHOT_VERSION:
        raise DataError(
            f"{where} is a snapshot of version {version!r}; this local stack reads version "
            f"{SNAPSHOT_VERSION} only. Start with RESET=1 to discard it and start clean "
            "(make dev RESET=1)"
        )


# ---------------------------------------------------------------------------------------------
# DynamoDB JSON (what Scan returns) <-> JSON text
# ---------------------------------------------------------------------------------------------


def encode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level attribute value as JSON (binary as base64)."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(v)).decode("ascii") for v in inner]}
    if kind == "M":
        return {"M": {k: encode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [encode_value(v) for v in inner]}
    return {kind: inner}


def decode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: decode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [decode_value(v) for v in inner]}
    return {kind: inner}


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: encode_value(value) for name, value in item.items()}


def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: decode_value(value) for name, value in item.items()}


def key_text(item: Mapping[str, Any], key_names: tuple[str, ...]) -> str:
    """One item's key as canonical text (the same for a scanned item and a stream record)."""
    return json.dumps({name: encode_value(item[name]) for name in key_names}, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Cognito: moto's user pool objects <-> JSON
# ---------------------------------------------------------------------------------------------


def _cognito_backend(account_id: str, region: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[account_id][region]


def _copied(read: Callable[[], Any]) -> Any:
    """moto's server threads may change a dict while it is copied: try again."""
    for _ in range(20):
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration"
            time.sleep(0.01)
    return read()


def _moment(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _parse_moment(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def capture_user(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "sub": user.id,
        "password": user.password,
        "status": str(getattr(user.status, "value", user.status)),
        "enabled": bool(user.enabled),
        "attributes": [
            {"Name": str(a["Name"]), "Value": str(a["Value"])} for a in list(user.attributes)
        ],
        "groups": sorted(group.group_name for group in list(user.groups)),
        "mfa": {
            "sms": bool(user.sms_mfa_enabled),
            "software_token": bool(user.software_token_mfa_enabled),
            "token_verified": bool(user.token_verified),
            "preferred": user.preferred_mfa_setting,
        },
        "created": _moment(user.create_date),
        "modified": _moment(user.last_modified_date),
    }


def capture_pool(pool: Any, client_ids: Mapping[str, str]) -> dict[str, Any]:
    """One pool's people, its clients (by logical id) and its issued tokens."""
    clients = {}
    for logical_id, client_id in client_ids.items():
        client = pool.clients.get(client_id)
        if client is not None:
            clients[logical_id] = {
                "id": client.id,
                "name": client.extended_config.get("ClientName"),
                "secret": client.secret if client.generate_secret else None,
            }
    users = _copied(lambda: list(pool.users.values()))
    return {
        "id": pool.id,
        "name": pool.name,
        "clients": clients,
        "users": [capture_user(user) for user in users],
        "tokens": {
            "refresh": _copied(lambda: {k: _list(v) for k, v in pool.refresh_tokens.items()}),
            "access": _copied(lambda: {k: _list(v) for k, v in pool.access_tokens.items()}),
            "id": _copied(lambda: {k: _list(v) for k, v in pool.id_tokens.items()}),
        },
    }


def _list(value: Any) -> list[str] | None:
    return None if value is None else [str(part) for part in value]


def _cognito_logical_ids(info: StackInfo) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(pool logical id -> pool id, pool logical id -> {client logical id -> client id})."""
    cognito = info.cognito
    if cognito is None:
        return {}, {}
    pools = {k: v.ref for k, v in cognito.provisioned.items() if v.resource_type == USER_POOL}
    clients: dict[str, dict[str, str]] = {k: {} for k in pools}
    for logical_id, value in cognito.provisioned.items():
        if value.resource_type != USER_POOL_CLIENT:
            continue
        properties = (info.translated.get("Resources") or {}).get(logical_id, {}).get(
            "Properties"
        ) or {}
        owner = properties.get("UserPoolId")
        pool_logical = owner.get("Ref") if isinstance(owner, dict) else None
        if pool_logical in clients:
            clients[pool_logical][logical_id] = value.ref
    return pools, clients


@contextlib.contextmanager
def stable_cognito_ids(snapshot: Mapping[str, Any] | None) -> Iterator[None]:
    """While active, a user pool (by name) or app client (by pool and client name) that the
    snapshot knows is created with the id it had before, so issuer, audience and the tokens
    people hold stay valid. moto must run in this process (devstack's ThreadedMotoServer)."""
    pools = ((snapshot or {}).get("cognito") or {}).get("pools") or {}
    pool_ids = {p["name"]: p["id"] for p in pools.values() if p.get("name") and p.get("id")}
    client_ids = {
        (p.get("name"), c["name"]): c
        for p in pools.values()
        for c in (p.get("clients") or {}).values()
        if c.get("name") and c.get("id")
    }
    if not pool_ids:
        yield
        return
    from moto.cognitoidp import models

    backend_class = models.CognitoIdpBackend
    original_pool = backend_class.__dict__["create_user_pool"]
    original_client = backend_class.__dict__["create_user_pool_client"]

    def create_user_pool(self: Any, name: str, extended_config: dict[str, Any]) -> Any:
        pool = original_pool(self, name, extended_config)
        wanted = pool_ids.get(name)
        if wanted and wanted != pool.id and wanted not in self.user_pools:
            del self.user_pools[pool.id]
            pool.arn = pool.arn.rsplit("/", 1)[0] + "/" + wanted
            pool.id = wanted
            self.user_pools[wanted] = pool
        return pool

    def create_user_pool_client(
        self: Any, user_pool_id: str, generate_secret: bool, extended_config: dict[str, Any]
    ) -> Any:
        client = original_client(self, user_pool_id, generate_secret, extended_config)
        pool = self.user_pools[user_pool_id]
        wanted = client_ids.get((pool.name, (extended_config or {}).get("ClientName")))
        if wanted and wanted["id"] != client.id and wanted["id"] not in pool.clients:
            del pool.clients[client.id]
            client.id = wanted["id"]
            if wanted.get("secret"):
                client.secret = wanted["secret"]
            pool.clients[client.id] = client
        return client

    setattr(backend_class, "create_user_pool", create_user_pool)  # noqa: B010 - a patch
    setattr(backend_class, "create_user_pool_client", create_user_pool_client)  # noqa: B010
    try:
        yield
    finally:
        setattr(backend_class, "create_user_pool", original_pool)  # noqa: B010
        setattr(backend_class, "create_user_pool_client", original_client)  # noqa: B010


@dataclass
class RestoredPeople:
    """What restoring the user pools did: the people by e-mail (lower case) -> password."""

    passwords: dict[str, str] = field(default_factory=dict)
    users: int = 0


def restore_cognito(snapshot: Mapping[str, Any], info: StackInfo) -> RestoredPeople:
    """Put the snapshot's people (and tokens) into the pools the template just created. A
    person the template created again (the first admin, the demo crew member) is replaced by
    their kept self (same `sub`, password, status and groups)."""
    from moto.cognitoidp import models

    restored = RestoredPeople()
    kept_pools = (snapshot.get("cognito") or {}).get("pools") or {}
    pool_ids, _ = _cognito_logical_ids(info)
    backend = _cognito_backend(info.account_id, info.region)
    for logical_id, kept in kept_pools.items():
        pool_id = pool_ids.get(logical_id)
        pool = backend.user_pools.get(pool_id) if pool_id else None
        if pool is None:
            log.warning(
                "kept user pool %s is not in the template any more: its people are not restored",
                logical_id,
            )
            continue
        if kept.get("id") != pool.id:
            log.warning(
                "user pool %s has a new id (%s, was %s): tokens issued before are not valid",
                logical_id,
                pool.id,
                kept.get("id"),
            )
        users = [u for u in kept.get("users") or [] if isinstance(u, dict)]
        _drop_recreated(pool, users)
        for saved in users:
            user = _restore_user(models, pool, saved)
            email = user.attribute_lookup.get("email")
            if email and user.password:
                restored.passwords[str(email).lower()] = str(user.password)
            restored.users += 1
        tokens = kept.get("tokens") or {}
        pool.refresh_tokens.update(
            {k: None if v is None else tuple(v) for k, v in (tokens.get("refresh") or {}).items()}
        )
        pool.access_tokens.update({k: tuple(v) for k, v in (tokens.get("access") or {}).items()})
        pool.id_tokens.update({k: tuple(v) for k, v in (tokens.get("id") or {}).items()})
    return restored


def _drop_recreated(pool: Any, users: list[dict[str, Any]]) -> None:
    usernames = {u.get("username") for u in users}
    emails = {
        str(a.get("Value", "")).lower()
        for u in users
        for a in u.get("attributes") or []
        if a.get("Name") == "email"
    }
    for username, user in list(pool.users.items()):
        email = str(user.attribute_lookup.get("email", "")).lower()
        if username in usernames or (email and email in emails):
            for group in list(user.groups):
                group.users.discard(user)
            del pool.users[username]


def _restore_user(models: Any, pool: Any, saved: Mapping[str, Any]) -> Any:
    attributes = [dict(a) for a in saved.get("attributes") or []]
    user = models.CognitoIdpUser(
        pool.id, saved["username"], saved.get("password"), saved.get("status"), attributes
    )
    user.id = saved.get("sub") or user.id
    user.username = saved["username"]
    user.status = models.UserStatus(saved.get("status") or "CONFIRMED")
    user.enabled = bool(saved.get("enabled", True))
    user.attributes = attributes
    user.attribute_lookup = {a["Name"]: a["Value"] for a in attributes}
    if "sub" not in user.attribute_lookup:
        user.update_attributes([{"Name": "sub", "Value": user.id}])
    mfa = saved.get("mfa") or {}
    user.sms_mfa_enabled = bool(mfa.get("sms"))
    user.software_token_mfa_enabled = bool(mfa.get("software_token"))
    user.token_verified = bool(mfa.get("token_verified"))
    user.preferred_mfa_setting = mfa.get("preferred")
    user.create_date = _parse_moment(saved.get("created")) or user.create_date
    user.last_modified_date = _parse_moment(saved.get("modified")) or user.last_modified_date
    pool.users[user.username] = user
    for name in saved.get("groups") or []:
        group = pool.groups.get(name)
        if group is None:
            log.warning(
                "group %s is not in the template any more: %s not added", name, user.username
            )
            continue
        group.users.add(user)
        user.groups.add(group)
    return user


# ---------------------------------------------------------------------------------------------
# Tables and streams
# ---------------------------------------------------------------------------------------------


def _key_names(dynamodb: Any, table_name: str) -> tuple[str, ...]:
    schema = dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
    ordered = sorted(schema, key=lambda k: 0 if k["KeyType"] == "HASH" else 1)
    return tuple(str(k["AttributeName"]) for k in ordered)


def scan_table(dynamodb: Any, table_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**arguments)
        items.extend(page.get("Items") or [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return items
        arguments["ExclusiveStartKey"] = last


def write_items(dynamodb: Any, table_name: str, items: list[dict[str, Any]]) -> None:
    """BatchWriteItem in 25s, retrying what DynamoDB leaves unprocessed."""
    for start in range(0, len(items), _BATCH_WRITE_LIMIT):
        requests: dict[str, Any] = {
            table_name: [
                {"PutRequest": {"Item": item}} for item in items[start : start + _BATCH_WRITE_LIMIT]
            ]
        }
        for attempt in range(10):
            left = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            if not left:
                break
            requests = left
            time.sleep(0.05 * (attempt + 1))
        else:
            raise DataError(f"could not restore every item of {table_name} (throttled)")


def _stream_arn(dynamodb: Any, table_name: str) -> str | None:
    arn = dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")
    return str(arn) if arn else None


def read_stream(
    streams: Any,
    stream_arn: str,
    shard_id: str,
    after: str | None,
    forget: Callable[[str], None] | None,
) -> Iterator[dict[str, Any]]:
    """Every record of one shard after sequence number `after` (all of them for None)."""
    arguments: dict[str, Any] = {"StreamArn": stream_arn, "ShardId": shard_id}
    if after is None:
        arguments["ShardIteratorType"] = "TRIM_HORIZON"
    else:
        arguments.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
    iterator: str | None = streams.get_shard_iterator(**arguments)["ShardIterator"]
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=_GET_RECORDS_LIMIT)
        if forget is not None:
            forget(iterator)
        records = page.get("Records") or []
        if not records:
            return
        yield from records
        iterator = page.get("NextShardIterator")


def _shards(streams: Any, stream_arn: str) -> list[str]:
    description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    return [str(shard["ShardId"]) for shard in description.get("Shards") or []]


def _sequence(value: str) -> int:
    return int(value) if value.isdigit() else -1


@dataclass
class TableRestore:
    """Restoring the tables: where each poller starts, what is written again afterwards."""

    resume_after: dict[str, dict[str, str]] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # table name -> items
    items: int = 0

    def replay(self, dynamodb: Any) -> int:
        """Write the pending items again (after `resume_after` was taken): their stream
        records reach the consumers, which were not handed them before the stop."""
        count = 0
        for table_name, items in self.pending.items():
            for item in items:
                dynamodb.put_item(TableName=table_name, Item=item)
                count += 1
        return count


def restore_tables(
    snapshot: Mapping[str, Any],
    info: StackInfo,
    dynamodb: Any,
    streams: Any,
    forget: Callable[[str], None] | None = None,
) -> TableRestore:
    """Every kept item back into the template's tables (by logical id), except the pending
    ones; then each stream mapping's start position: after the records those writes made."""
    result = TableRestore()
    kept_tables = snapshot.get("tables") or {}
    pending_keys = {k: set(v) for k, v in (snapshot.get("pending") or {}).items()}
    for logical_id, items in kept_tables.items():
        table_name = info.tables.get(logical_id)
        if table_name is None:
            log.warning("kept table %s is not in the template any more: not restored", logical_id)
            continue
        key_names = _key_names(dynamodb, table_name)
        decoded = [decode_item(item) for item in items]
        later = pending_keys.get(logical_id, set())
        now = [item for item in decoded if key_text(item, key_names) not in later]
        again = [item for item in decoded if key_text(item, key_names) in later]
        write_items(dynamodb, table_name, now)
        if again:
            result.pending[table_name] = again
        result.items += len(decoded)
    mappings = stream_settings(info)
    for table_name in info.tables.values():
        stream_arn = _stream_arn(dynamodb, table_name)
        consumers = [m for m in mappings if m.stream_arn == stream_arn]
        if stream_arn is None or not consumers:
            continue
        for shard_id in _shards(streams, stream_arn):
            last = None
            for record in read_stream(streams, stream_arn, shard_id, None, forget):
                last = sequence_of(record)
            if last:
                for mapping in consumers:
                    result.resume_after.setdefault(mapping.function_logical_id, {})[shard_id] = last
    return result


# ---------------------------------------------------------------------------------------------
# Taking snapshots
# ---------------------------------------------------------------------------------------------


@dataclass
class Snapshotter:
    """Takes and writes the running stack's snapshots (periodically, and once at the end)."""

    data_dir: DataDir
    info: StackInfo
    dynamodb: Any
    streams: Any
    gate: DeliveryGate
    pollers: Callable[[], PollerGroup]
    # e-mail (lower case) -> a password the local stack generated and printed: kept in the
    # snapshot while the person still has it, so the banner can print it again.
    generated_passwords: dict[str, str] = field(default_factory=dict)
    interval: float = SNAPSHOT_INTERVAL_SECONDS
    check_every: float = SNAPSHOT_CHECK_SECONDS
    _last_written: str | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _forget: Callable[[str], None] | None = field(default=None, repr=False)
    writes: int = 0

    def __post_init__(self) -> None:
        self._forget = moto_iterator_janitor(self.info.account_id, self.info.region)

    # --- one snapshot ---------------------------------------------------------------------

    def capture(
        self, *, pause_timeout: float = PAUSE_TIMEOUT_SECONDS, final: bool = False
    ) -> dict[str, Any] | None:
        """The snapshot, read while no batch is in flight; None when a batch did not finish
        within `pause_timeout` (a final snapshot is then taken anyway, with a warning)."""
        with self.gate.paused(pause_timeout) as paused:
            if not paused and not final:
                return None
            if not paused:
                log.warning(
                    "a stream batch is still in flight; its records are kept as pending "
                    "(delivered again after the next start)"
                )
            group = self.pollers()
            positions = group.positions()
            tables: dict[str, list[dict[str, Any]]] = {}
            for logical_id, table_name in sorted(self.info.tables.items()):
                tables[logical_id] = [encode_item(i) for i in scan_table(self.dynamodb, table_name)]
            cognito = self._capture_cognito()
            pending = self._pending(group, positions, tables)
        generated = {
            email: password
            for email, password in self.generated_passwords.items()
            if _has_password(cognito, email, password)
        }
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "stack": {"region": self.info.region, "account_id": self.info.account_id},
            "tables": tables,
            "pending": pending,
            "cognito": cognito,
            "devstack": {"generated_passwords": generated},
        }

    def _capture_cognito(self) -> dict[str, Any]:
        pool_ids, client_ids = _cognito_logical_ids(self.info)
        if not pool_ids:
            return {"pools": {}}
        backend = _cognito_backend(self.info.account_id, self.info.region)
        pools = {}
        for logical_id, pool_id in pool_ids.items():
            pool = backend.user_pools.get(pool_id)
            if pool is not None:
                pools[logical_id] = capture_pool(pool, client_ids.get(logical_id, {}))
        return {"pools": pools}

    def _pending(
        self,
        group: PollerGroup,
        positions: Mapping[str, Mapping[str, str]],
        tables: Mapping[str, list[dict[str, Any]]],
    ) -> dict[str, list[str]]:
        """Keys of kept ledger items some consumer had not been handed yet."""
        pending: dict[str, list[str]] = {}
        for logical_id, table_name in self.info.tables.items():
            stream_arn = _stream_arn(self.dynamodb, table_name)
            consumers = [p for p in group if p.settings.stream_arn == stream_arn]
            if stream_arn is None or not consumers:
                continue
            key_names = _key_names(self.dynamodb, table_name)
            kept = {key_text(decode_item(item), key_names) for item in tables.get(logical_id, [])}
            found: set[str] = set()
            for shard_id in _shards(self.streams, stream_arn):
                marks = [positions.get(p.name, {}).get(shard_id) for p in consumers]
                known = [m for m in marks if m is not None]
                start = min(known, key=_sequence) if len(known) == len(marks) else None
                for record in read_stream(self.streams, stream_arn, shard_id, start, self._forget):
                    if record.get("eventName") != "INSERT":
                        continue
                    sequence = _sequence(sequence_of(record))
                    shaped = lambda_record(record, stream_arn)
                    for poller, mark in zip(consumers, marks, strict=True):
                        behind = mark is None or sequence > _sequence(mark)
                        if behind and poller.filter.matches(shaped):
                            keys = (record.get("dynamodb") or {}).get("Keys") or {}
                            text = key_text(keys, key_names)
                            if text in kept:
                                found.add(text)
                            break
            if found:
                pending[logical_id] = sorted(found)
        return pending

    def save(self, *, final: bool = False, force: bool = False) -> bool | None:
        """Take a snapshot and write it when it differs from the last one written (or `force`).
        True: written; False: nothing changed; None: not taken (a batch did not finish)."""
        with self._lock:
            timeout = FINAL_PAUSE_TIMEOUT_SECONDS if final else PAUSE_TIMEOUT_SECONDS
            snapshot = self.capture(pause_timeout=timeout, final=final)
            if snapshot is None:
                return None
            comparable = json.dumps({**snapshot, "written_at": None}, sort_keys=True)
            if comparable == self._last_written and not force:
                return False
            self.data_dir.write(snapshot)
            self._last_written = comparable
            self.writes += 1
            return True

    # --- periodically ---------------------------------------------------------------------

    def start(self, activity: Callable[[], int]) -> None:
        """Snapshot every `interval` seconds while `activity()` (a counter of writes through
        the API and stream deliveries) moves, and every `check_every` seconds regardless."""
        self._thread = threading.Thread(
            target=self._run, args=(activity,), name="snapshots", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=FINAL_PAUSE_TIMEOUT_SECONDS + 5)

    def _run(self, activity: Callable[[], int]) -> None:
        seen: int | None = None
        last_check = time.monotonic()
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.interval
            now_activity = activity()
            due = time.monotonic() - last_check >= self.check_every
            if now_activity == seen and not due:
                continue
            started = time.monotonic()
            try:
                written = self.save()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("snapshot of the local data failed; trying again")
                continue
            took = time.monotonic() - started
            if written is not None:  # taken (written, or found unchanged)
                seen = now_activity
                last_check = time.monotonic()
            # A big data set: keep snapshots to a small share of the time.
            wait = max(self.interval, 4 * took)


def _has_password(cognito: Mapping[str, Any], email: str, password: str) -> bool:
    for pool in (cognito.get("pools") or {}).values():
        for user in pool.get("users") or []:
            emails = {
                a["Value"].lower() for a in user.get("attributes") or [] if a["Name"] == "email"
            }
            if email.lower() in emails:
                return bool(user.get("password") == password)
    return False


def kept_generated_password(snapshot: Mapping[str, Any] | None, email: str) -> str | None:
    """The password the local stack generated (and printed) for `email` in an earlier run,
    when that person still has it."""
    kept = ((snapshot or {}).get("devstack") or {}).get("generated_passwords") or {}
    value = kept.get(email.strip().lower())
    return str(value) if isinstance(value, str) else None
