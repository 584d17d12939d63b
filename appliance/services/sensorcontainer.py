"""st2sensorcontainer: runs each enabled sensor of the registered packs in a child process of its own.

Every second the container re-reads the sensor types and the triggers of their trigger types: a
sensor enabled or registered starts, one disabled, deleted or changed stops (and a changed one starts
again), and each running sensor is told of its triggers' changes (add/update/remove_trigger). A
sensor that exits with an error is restarted after a pause that doubles with each quick failure
(StackStorm gives up after two); one that ends cleanly (exit code 0) is not. Spawn and exit are
announced with the core.st2.sensor.process_spawn/process_exit triggers.

Only the holder of the leader lock runs sensors (see appliance/coordination), so two containers
never run the same sensor twice; a standby takes over when the leader goes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

from appliance.coordination import leader_lock
from appliance.models import PACKS, SENSOR_TYPES, TRIGGERS
from appliance.pack_env import PackConfigError, interpreter, pack_config, python_path
from appliance.parameters import ParameterError
from appliance.process import Backoff
from appliance.sensors.process import SensorProcess
from appliance.services.base import Service, run_service
from appliance.triggers import DispatchError

LOG = logging.getLogger(__name__)
RELOAD_SECONDS = 1.0
SENSOR_USER = "sensors_container"  # the user of the sensors' service tokens, as StackStorm's
STABLE_SECONDS = 10.0  # up this long, a sensor's restart pause starts again from the shortest (StackStorm's)
LONGEST_PAUSE = 60.0


class CannotStart(Exception):
    """The sensor cannot be started as registered; the message says why."""


@dataclass
class Sensor:
    """What the container knows of one sensor: its document, its process, and its restart pause."""

    doc: dict
    process: Optional[SensorProcess] = None
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, LONGEST_PAUSE, STABLE_SECONDS))
    start_after: float = 0.0
    done: bool = False  # ended cleanly: not restarted until the sensor changes
    token: str = field(default="", repr=False)


def _of_types(doc: dict, by_type: dict[str, list[dict]]) -> list[dict]:
    """The triggers of the sensor's trigger types."""
    return [trigger for ref in doc.get("trigger_types") or () for trigger in by_type.get(ref, [])]


def _definition(doc: dict) -> tuple:
    """What makes a running sensor stale when it changes."""
    return (doc.get("entry_point"), doc.get("poll_interval"), tuple(doc.get("trigger_types") or ()),
            doc.get("artifact_uri"))


class SensorContainerService(Service):
    name = "st2sensorcontainer"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.sensor_types = ctx.store.collection(SENSOR_TYPES)
        self.packs = ctx.store.collection(PACKS)
        self.triggers = ctx.store.collection(TRIGGERS)
        self.lock = leader_lock(ctx.config, ctx.store, self.name)
        self.sensors: dict[str, Sensor] = {}  # by ref
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- the loop ---------------------------------------------------------------------------------
    def tick(self, leader: bool) -> None:
        """Bring the running processes in line with the stored sensors and triggers."""
        wanted = {doc["ref"]: doc for doc in self.sensor_types.find({"enabled": True})} if leader else {}
        for ref in list(self.sensors):
            known = self.sensors[ref]
            doc = wanted.get(ref)
            if doc is None or _definition(doc) != _definition(known.doc):
                self._end(self.sensors.pop(ref), "disabled or deleted" if doc is None else "changed")
        triggers = self._triggers_by_type(wanted.values())
        for ref, doc in wanted.items():
            sensor = self.sensors.setdefault(ref, Sensor(doc))
            sensor.doc = doc
            self._supervise(sensor, _of_types(doc, triggers))

    def _supervise(self, sensor: Sensor, triggers: list[dict]) -> None:
        """`triggers`: those of the sensor's trigger types, as the API shows them."""
        if sensor.process is not None:
            code = sensor.process.exit_code()
            if code is None:
                self._sync_triggers(sensor, triggers)
                return
            self._exited(sensor, code)
        if not sensor.done and time.monotonic() >= sensor.start_after:
            self._start(sensor, triggers)

    def _exited(self, sensor: Sensor, code: int) -> None:
        """Restart after an error, with a pause; not after a clean end."""
        uptime = self._gone(sensor, code)
        if code == 0:
            LOG.info("sensor %s ended (exit code 0): not restarted", sensor.doc["ref"])
            sensor.done = True
            return
        pause = sensor.backoff.delay(uptime)
        sensor.start_after = time.monotonic() + pause
        LOG.error("sensor %s exited with code %s after %.0f s: restarting in %.0f s", sensor.doc["ref"], code,
                  uptime, pause)

    def _gone(self, sensor: Sensor, code: int) -> float:
        """Announce the end of the sensor's process, revoke its token; returns how long it ran."""
        uptime = time.monotonic() - sensor.process.started
        sensor.process = None
        self._announce("core.st2.sensor.process_exit", {"id": sensor.doc["name"], "timestamp": int(time.time()),
                                                         "exit_code": code})
        if sensor.token:
            self.ctx.credentials.revoke_token(sensor.token)
            sensor.token = ""
        return uptime

    # -- starting and stopping a sensor -------------------------------------------------------------
    def _locate(self, doc: dict) -> tuple[str, str]:
        """(pack path, sensor file): the file must be inside the pack's sensors/ folder."""
        pack_path = (self.packs.find_one({"ref": doc["pack"]}) or {}).get("path") or ""
        sensors_dir = os.path.realpath(os.path.join(pack_path, "sensors"))
        file_path = os.path.realpath(os.path.join(sensors_dir, doc["entry_point"]))
        if not pack_path or not file_path.startswith(sensors_dir + os.sep):
            raise CannotStart(f"its pack {doc['pack']} is not registered with a path")
        if not os.path.isfile(file_path):
            raise CannotStart(f"its file {file_path} does not exist")
        return pack_path, file_path

    def _start(self, sensor: Sensor, triggers: list[dict]) -> None:
        """Everything that can fail comes before the token is issued, so no failure leaves one alive."""
        doc = sensor.doc
        try:
            pack_path, file_path = self._locate(doc)
            config = pack_config(self.ctx.config.configs_path, doc["pack"], pack_path, self.ctx.keys, SENSOR_USER)
        except (CannotStart, PackConfigError, ParameterError) as exc:
            return self._cannot_start(sensor, str(exc))
        python, venv_bin = interpreter(os.path.join(self.ctx.config.virtualenvs_path, doc["pack"]),
                                       self.ctx.config.get("actionrunner", "python_binary"))
        request = {"pack": doc["pack"], "class_name": doc["name"], "file_path": file_path, "config": config,
                   "poll_interval": doc.get("poll_interval"), "api_url": self.ctx.config.api_url,
                   "log_level": logging.getLevelName(LOG.getEffectiveLevel()),
                   "triggers": triggers}
        token = self.ctx.credentials.issue_token(SENSOR_USER, self.ctx.config.get("auth", "service_token_ttl"),
                                                 {"service": self.name, "sensor_path": file_path,
                                                  "sensor_class": doc["name"]})["token"]
        request["auth_token"] = token
        env = self._environment(pack_path, file_path, venv_bin, token)
        try:
            sensor.process = SensorProcess(doc["ref"], python, env, request, self._dispatch)
        except OSError as exc:
            self.ctx.credentials.revoke_token(token)
            return self._cannot_start(sensor, f"{python} does not start: {exc}")
        sensor.token = token
        LOG.info("sensor %s started (pid %s, %s)", doc["ref"], sensor.process.pid, python)
        self._announce("core.st2.sensor.process_spawn", {"id": doc["name"], "timestamp": int(time.time()),
                                                          "pid": sensor.process.pid,
                                                          "cmd": " ".join(sensor.process.argv)})

    def _environment(self, pack_path: str, file_path: str, venv_bin: Optional[str], token: str) -> dict[str, str]:
        """The container's environment with the pack's import path, and the API URL and token that
        st2client inside a sensor reads (as StackStorm hands them)."""
        env = dict(os.environ)
        if venv_bin:
            env["PATH"] = venv_bin + os.pathsep + env.get("PATH", os.defpath)
        env["PYTHONPATH"] = python_path(pack_path, file_path, bool(venv_bin), env.get("PYTHONPATH", ""))
        env["ST2_API_URL"] = self.ctx.config.api_url
        env["ST2_AUTH_TOKEN"] = token
        return env

    def _cannot_start(self, sensor: Sensor, why: str) -> None:
        """Logged, then tried again after the longest pause (or at once when the sensor changes)."""
        LOG.error("sensor %s cannot start: %s (next try in %.0f s)", sensor.doc["ref"], why, LONGEST_PAUSE)
        sensor.start_after = time.monotonic() + LONGEST_PAUSE

    def _end(self, sensor: Sensor, why: str) -> None:
        if sensor.process is None:
            return
        LOG.info("sensor %s stopping: %s", sensor.doc["ref"], why)
        sensor.process.stop()
        self._gone(sensor, sensor.process.exit_code())

    # -- triggers in and out ---------------------------------------------------------------------------
    def _triggers_by_type(self, sensor_docs: Iterable[dict]) -> dict[str, list[dict]]:
        """The triggers of every running sensor's trigger types, by type: one query a tick for all sensors."""
        types = sorted({ref for doc in sensor_docs for ref in doc.get("trigger_types") or ()})
        found: dict[str, list[dict]] = {}
        for trigger in self.triggers.find({"type": {"$in": types}}) if types else []:
            found.setdefault(trigger["type"], []).append(TRIGGERS.public(trigger))
        return found

    def _sync_triggers(self, sensor: Sensor, triggers: list[dict]) -> None:
        """Tell a running sensor which of its triggers were created, changed or deleted."""
        current = {trigger["id"]: trigger for trigger in triggers}
        told = sensor.process.triggers
        for trigger_id in set(told) - set(current):
            sensor.process.tell("remove", told[trigger_id])
        for trigger_id, trigger in current.items():
            if trigger_id not in told:
                sensor.process.tell("add", trigger)
            elif told[trigger_id] != trigger:
                sensor.process.tell("update", trigger)

    def _dispatch(self, message: dict) -> None:
        """A trigger from a sensor. An invalid one is logged and dropped, as StackStorm does."""
        try:
            self.ctx.triggers.dispatch(message.get("trigger"), message.get("payload"), message.get("trace_context"))
        except DispatchError as exc:
            LOG.error("a sensor's trigger was dropped: %s", exc)

    def _announce(self, trigger: str, payload: dict) -> None:
        try:
            self.ctx.triggers.dispatch(trigger, payload, validate=False)
        except DispatchError as exc:
            LOG.error("%s not dispatched: %s", trigger, exc)

    # -- service ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(self.lock.hold())
            except Exception:
                LOG.exception("sensor container tick failed")
            self._stop.wait(RELOAD_SECONDS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sensors")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sensor in list(self.sensors.values()):
            self._end(sensor, "the container stops")
        self.lock.release()


def main() -> None:
    run_service(SensorContainerService)


if __name__ == "__main__":
    main()
