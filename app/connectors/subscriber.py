"""The sensor subscriber: one process (`flask --app app sensors subscribe`) takes readings off the broker.

Like the scheduler, one runner at a time: the process holds a PostgreSQL advisory lock on a connection
of its own for as long as it runs; a second one waits for the lock (a standby) and connects to the broker
only once it has it, so two never share the broker session. Messages arrive with QoS 1 on a persistent
session (clean_session off): the broker keeps what is published while the subscriber is away. Each
batch (up to `batch_max` messages or `batch_wait_s` seconds) is stored in one transaction and only then
acknowledged (manual acks), so a crash loses nothing. A malformed message is stored as a reject (counted
by /metrics) and logged; a batch that fails for another reason is retried one message at a time, and a
message that still fails is rejected, so one bad message never stops the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.cases import intake
from app.connectors import runner, sensors
from app.db import AppDatabase
from app.scheduler import LOCK_KEY

SUBSCRIBER_LOCK = LOCK_KEY + 20  # one subscriber across every host
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Broker:
    """Host, port and credentials of an mqtt:// URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> Broker:
        """mqtt://user:password@host:port (mqtts:// for TLS)."""
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883),
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, tls)

    def client(self, client_id: str, clean: bool = True, manual_ack: bool = False) -> mqtt.Client:
        """A paho client for this broker (not connected yet)."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                             protocol=mqtt.MQTTv311, manual_ack=manual_ack)
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        return client


@dataclass
class Totals:
    """What the subscriber did since it started."""

    messages: int = 0
    readings: int = 0
    rejected: int = 0
    opened: int = 0
    batches: int = 0


class Subscriber:
    """Readings from the broker into the database; `run(stop)` until `stop` is set."""

    def __init__(self, database: AppDatabase, url: str, settings: intake.IntakeSettings,
                 client_id: str = "nanhui-sensors", batch_max: int = 500, batch_wait_s: float = 0.05) -> None:
        self.database, self.broker, self.settings = database, Broker.from_url(url), settings
        self.client_id, self.batch_max, self.batch_wait_s = client_id, batch_max, batch_wait_s
        self.inbox: queue.Queue[tuple[mqtt.MQTTMessage, datetime]] = queue.Queue()  # with its arrival
        self.totals = Totals()
        self.connected = threading.Event()
        self.locked = threading.Event()
        self._last_arrival: datetime | None = None

    # -- the broker --------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode,
                    _properties: object) -> None:
        if reason.is_failure:
            log.error("the broker refused the subscriber: %s", reason)
            return
        client.subscribe(sensors.SUBSCRIPTION, qos=1)
        self.connected.set()
        log.info("subscribed to %s on %s:%s", sensors.SUBSCRIPTION, self.broker.host, self.broker.port)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode,
                       _properties: object) -> None:
        self.connected.clear()
        log.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        now = datetime.now(UTC)
        if self._last_arrival is not None and now <= self._last_arrival:
            now = self._last_arrival + timedelta(microseconds=1)  # distinct: (sensor, time) is unique
        self._last_arrival = now
        self.inbox.put((message, now))

    def run(self, stop: threading.Event) -> None:
        """Hold the lock, subscribe, store batches until stopped."""
        with runner.holding(self.database, SUBSCRIBER_LOCK, stop, "sensor subscriber") as lock:
            if lock is None:
                return
            self.locked.set()
            self._warm()
            try:
                self._serve(stop)
            finally:
                self.locked.clear()

    def _warm(self) -> None:
        """Build the ownership index before the first breach needs it (a second or two on a cold process)."""
        from app.errors import DomainError
        from app.territory import caches

        try:
            with self.database.transaction() as session:
                sensors.gateway_user(session)  # made once (a password hash takes a moment), not at the first breach
                caches.ownership(session)
        except (SQLAlchemyError, DomainError):  # no boundaries yet: the first breach builds it
            log.info("ownership index not built at start", exc_info=True)

    def _serve(self, stop: threading.Event) -> None:
        client = self.broker.client(self.client_id, clean=False, manual_ack=True)
        client.on_connect, client.on_disconnect, client.on_message = (self._on_connect, self._on_disconnect,
                                                                      self._on_message)
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()
        try:
            while not stop.is_set():
                batch = self._next_batch(stop)
                if batch:
                    self._handle(batch, stop)
                    for message, _ in batch:
                        if message.qos > 0:
                            client.ack(message.mid, message.qos)
        finally:
            client.disconnect()
            client.loop_stop()

    def _next_batch(self, stop: threading.Event) -> list[tuple[mqtt.MQTTMessage, datetime]]:
        try:
            first = self.inbox.get(timeout=0.5)
        except queue.Empty:
            return []
        batch, deadline = [first], time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max and not stop.is_set():
            try:
                batch.append(self.inbox.get(timeout=max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                break
        return batch

    # -- storing -----------------------------------------------------------------------------

    def _handle(self, batch: list[tuple[mqtt.MQTTMessage, datetime]], stop: threading.Event) -> None:
        """Store a batch; while the database is away, wait and try again (the messages stay unacknowledged)."""
        while not stop.is_set():
            try:
                self._store(batch)
                return
            except SQLAlchemyError:
                log.warning("the database refused a batch of %s readings; retrying", len(batch), exc_info=True)
                if not self._database_up():
                    stop.wait(1.0)
                    continue
                self._one_by_one(batch)
                return
            except Exception:  # a bug on one message must not stop the others: try them alone
                log.exception("a batch of %s sensor messages failed; storing them one by one", len(batch))
                self._one_by_one(batch)
                return

    def _database_up(self) -> bool:
        try:
            with self.database.engine.connect() as conn:
                conn.scalar(select(1))
            return True
        except SQLAlchemyError:
            return False

    def _store(self, batch: list[tuple[mqtt.MQTTMessage, datetime]]) -> None:
        with self.database.transaction() as session:
            readings = []
            for message, arrived in batch:
                try:
                    readings.append(sensors.parse(message.topic, message.payload, arrived))
                except sensors.Malformed as exc:
                    sensors.reject(session, message.topic, str(exc), message.payload)
                    self.totals.rejected += 1
            done = sensors.store(session, readings, self.settings, received_at=datetime.now(UTC))
        self.totals.messages += len(batch)
        self.totals.batches += 1
        self.totals.readings += done.readings
        self.totals.rejected += done.rejected
        self.totals.opened += len(done.opened)
        for case_id in done.opened:
            log.info("sensor breach: case %s opened", case_id)

    def _one_by_one(self, batch: list[tuple[mqtt.MQTTMessage, datetime]]) -> None:
        for message, arrived in batch:
            try:
                self._store([(message, arrived)])
            except Exception as exc:  # the message is kept as a reject; the subscriber goes on
                log.exception("sensor message on %s could not be stored", message.topic)
                with self.database.transaction() as session:
                    sensors.reject(session, message.topic, f"internal error: {exc.__class__.__name__}",
                                   message.payload)
                self.totals.rejected += 1
