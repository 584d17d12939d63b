"""The sensor container over a real store and bus, with real child processes: the pack virtualenv's
Python, trigger changes reaching add/update/remove_trigger, dispatch checks, crash and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from appliance.models import TRIGGER_INSTANCES, TRIGGERS
from appliance.services.sensorcontainer import SensorContainerService

SENSOR_PY = '''
import sys
from st2reactor.sensor.base import Sensor


class Echo(Sensor):
    """Dispatches what happens to it; exits with code 3 when a trigger named 'crash' arrives."""

    def setup(self):
        self.sensor_service.dispatch("demo.event", {"what": "setup", "python": sys.executable,
                                                    "config": self.config.get("greeting", "")})

    def run(self):
        import time
        while True:
            time.sleep(0.05)

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        if trigger["name"] == "crash":
            import os
            os._exit(3)
        self.sensor_service.dispatch("demo.event", {"what": "add " + trigger["name"]})

    def update_trigger(self, trigger):
        self.sensor_service.dispatch("demo.event", {"what": "update " + trigger["name"]})

    def remove_trigger(self, trigger):
        self.sensor_service.dispatch("demo.event", {"what": "remove " + trigger["name"]})
        self.sensor_service.dispatch("demo.event", {"what": 42})  # not a string: dropped
'''

SENSOR_YAML = """class_name: Echo
entry_point: echo.py
trigger_types:
  - name: event
    payload_schema: {type: object, properties: {what: {type: string}}}
  - name: watched
    parameters_schema: {type: object, properties: {path: {type: string}}}
"""


@pytest.fixture
def container(make_ctx, tmp_path):
    pack = tmp_path / "packs" / "demo"
    (pack / "sensors").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: demo\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    (pack / "sensors" / "echo.yaml").write_text(SENSOR_YAML)
    (pack / "sensors" / "echo.py").write_text(SENSOR_PY)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "demo.yaml").write_text("greeting: hello\n")
    ctx = make_ctx()
    ctx.registrar.register(types=("sensors",))
    service = SensorContainerService(ctx)
    yield service
    service.stop()


def events(service: SensorContainerService) -> list:
    docs = service.ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": "demo.event"})
    return [doc["payload"] for doc in sorted(docs, key=lambda doc: doc["occurrence_time"])]


def tick_until(service: SensorContainerService, predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        service.tick(leader=True)
        if predicate():
            return True
        time.sleep(0.1)
    return False


def whats(service: SensorContainerService) -> list:
    return [payload["what"] for payload in events(service)]


def test_a_sensor_runs_with_its_packs_virtualenv_and_config(container, tmp_path):
    venv = tmp_path / "virtualenvs" / "demo"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert tick_until(container, lambda: "setup" in whats(container))
    setup = events(container)[0]
    assert setup["python"] == str(venv / "bin" / "python") and setup["config"] == "hello"
    spawn = container.ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": "core.st2.sensor.process_spawn"})
    assert [doc["payload"]["id"] for doc in spawn] == ["Echo"]
    assert "token" not in " ".join(doc["payload"]["cmd"] for doc in spawn)


def test_trigger_changes_reach_the_sensor_and_bad_payloads_are_dropped(container):
    triggers = container.ctx.store.collection(TRIGGERS)
    assert tick_until(container, lambda: "add event" in whats(container))  # its parameterless type's trigger
    doc = triggers.insert({"id": "t1", "ref": "demo.w1", "uid": "trigger:demo:w1:x", "name": "w1", "pack": "demo",
                           "type": "demo.watched", "parameters": {"path": "/a"}})
    assert tick_until(container, lambda: "add w1" in whats(container))
    triggers.update(doc["id"], set_fields={"parameters": {"path": "/b"}})
    assert tick_until(container, lambda: "update w1" in whats(container))
    triggers.delete(doc["id"])
    assert tick_until(container, lambda: "remove w1" in whats(container))
    time.sleep(0.5)
    container.tick(leader=True)
    assert 42 not in whats(container)  # the payload broke the type's schema


def test_a_crashed_sensor_is_restarted_and_a_standby_runs_nothing(container):
    assert tick_until(container, lambda: "setup" in whats(container))
    first = container.sensors["demo.Echo"].process.pid
    container.ctx.store.collection(TRIGGERS).insert({"id": "t2", "ref": "demo.crash", "uid": "trigger:demo:crash:x",
                                                     "name": "crash", "pack": "demo", "type": "demo.watched",
                                                     "parameters": {}})
    exits = container.ctx.store.collection(TRIGGER_INSTANCES)
    assert tick_until(container, lambda: exits.find_one({"trigger": "core.st2.sensor.process_exit"}) is not None)
    assert exits.find_one({"trigger": "core.st2.sensor.process_exit"})["payload"]["exit_code"] == 3
    container.ctx.store.collection(TRIGGERS).delete("t2")
    assert tick_until(container, lambda: (container.sensors["demo.Echo"].process or None) is not None
                      and container.sensors["demo.Echo"].process.pid != first)
    second = container.sensors["demo.Echo"].process.pid
    container.tick(leader=False)  # lost the leader lock: it stops its sensors
    assert container.sensors == {}
    assert not os.path.exists(f"/proc/{second}") or open(f"/proc/{second}/stat").read().split()[2] == "Z"
