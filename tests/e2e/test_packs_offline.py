"""The sites' handbook, end to end, with no network at all (issue 11's proof).

The test process moves into a network namespace of its own with only loopback (tests/support/offline.py),
then builds everything a site has and starts the appliance there, so the appliance, the `st2` CLI, pip and
git see no network: a mirror made with pyrepo from wheels built here, and three packs, each a git repository
(tests/support/pack_repos.py):

  offreq    a python action importing a requirement of requirements.txt (a wheel of the mirror); tags
            v1.0.0, v2.0.0 (the requirement's next version) and v3.0.0 (a requirement not in the mirror)
  offsense  a polling sensor dispatching offsense.tick, and a rule whose action writes a datastore key
  offdeps   depends on offreq (pack.yaml `dependencies`); a config.schema.yaml and an action reading it

Then, as the handbook does: `st2 run packs.install packs=file:///...,file:///... env='{"PIP_NO_INDEX": "yes",
"PIP_FIND_LINKS": "file:///<mirror>"}'` with offsense and offdeps installs all three (offreq as offdeps'
dependency); the action runs in its virtualenv, the sensor's tick fires the rule; `st2 pack config offdeps`
(answered on a pseudo-terminal) writes the config its action reads; `st2-run-pack-tests -p <installed pack>`
passes on each pack's own tests; offreq at v2.0.0 upgrades it, at v3.0.0 fails with one line and leaves
v2.0.0 as it was; `st2 pack remove` removes the files, virtualenvs, registration and the sensor's process.
The other bad sources and removing a system pack are tests/e2e/test_packs_install_cli.py's, on both wirings.

One appliance, embedded wiring. Needs root (a network namespace): without it the test skips, with CI=true
it fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Iterator

import pytest
import yaml
from e2e_harness import (
    BIN,
    Appliance,
    actions_of,
    answer_prompts,
    ok,
    probe,
    processes,
    refused,
    registered,
    require_prompts,
    running_appliance,
    unavailable,
    wait_until,
)

from tests.support.offline import Unavailable, network_is_cut, no_network
from tests.support.pack_repos import PackRepo, build_wheel, offline_env, probe_action, pyrepo_mirror

pytestmark = pytest.mark.e2e

INSTALL_TIMEOUT = 240.0  # a bound only: installing the three packs takes about 20 s on two cores
RUN_PACK_TESTS = os.path.join(BIN, "st2-run-pack-tests")
HELPER = "offreq_helper"  # offreq's requirement: VALUE is "one" in its 1.0 wheel, "two" in 2.0
MISSING = "not_in_the_mirror==1.0"
NETWORK_SOURCE = "https://git.example.invalid/site/offnet.git"  # a git server the site cannot reach

OFFREQ_TEST = f"""import {HELPER}
from probe import Probe
from st2tests.base import BaseActionTestCase


class ProbeTestCase(BaseActionTestCase):
    action_cls = Probe

    def test_the_value_comes_from_the_requirement_in_the_test_virtualenv(self):
        result = self.get_action_instance().run()
        self.assertEqual(result["value"], {HELPER}.VALUE)
        self.assertIn("st2-pack-tests-virtualenvs", result["prefix"])
"""

OFFSENSE = {
    "sensors/ticker.yaml": """class_name: TickSensor
entry_point: ticker.py
description: Dispatches offsense.tick at each poll, counting them.
poll_interval: 4
trigger_types:
  - name: tick
    description: One poll of the tick sensor.
    payload_schema:
      type: object
      properties:
        count:
          type: integer
""",
    "sensors/ticker.py": """from st2reactor.sensor.base import PollingSensor


class TickSensor(PollingSensor):
    def setup(self):
        self.count = 0
        self.set_poll_interval(0.5)  # below the 4 s a sensor's metadata may ask for

    def poll(self):
        self.count += 1
        self.sensor_service.dispatch("offsense.tick", {"count": self.count})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
""",
    "rules/on_second_tick.yaml": """name: on_second_tick
pack: offsense
description: The second tick is recorded in the datastore.
enabled: true
trigger:
  type: offsense.tick
criteria:
  trigger.count:
    type: equals
    pattern: 2
action:
  ref: offsense.record
  parameters:
    count: "{{ trigger.count }}"
""",
    "actions/record.yaml": """name: record
runner_type: python-script
entry_point: record.py
description: Writes the tick it is given to the datastore key offsense_tick.
parameters:
  count:
    type: integer
    required: true
""",
    "actions/record.py": """from st2common.runners.base_action import Action


class Record(Action):
    def run(self, count):
        self.action_service.set_value("offsense_tick", f"tick {count}", local=False)
        return count
""",
    "tests/test_offsense.py": """from record import Record
from st2tests.base import BaseActionTestCase, BaseSensorTestCase
from ticker import TickSensor


class TickSensorTestCase(BaseSensorTestCase):
    sensor_cls = TickSensor

    def test_each_poll_dispatches_a_tick(self):
        sensor = self.get_sensor_instance()
        sensor.setup()
        sensor.poll()
        sensor.poll()
        self.assertTriggerDispatched(trigger="offsense.tick", payload={"count": 2})


class RecordTestCase(BaseActionTestCase):
    action_cls = Record

    def test_the_tick_goes_to_the_datastore(self):
        action = self.get_action_instance()
        self.assertEqual(action.run(count=2), 2)
        self.assertEqual(action.action_service.get_value("offsense_tick", local=False), "tick 2")
""",
}

OFFDEPS = {
    "config.schema.yaml": """greeting:
  type: string
  description: What greet says.
  required: true
times:
  type: integer
  description: How many times greet says it.
  default: 2
""",
    "actions/greet.yaml": """name: greet
runner_type: python-script
entry_point: greet.py
description: Says the configured greeting the configured number of times.
""",
    "actions/greet.py": """from st2common.runners.base_action import Action


class Greet(Action):
    def run(self):
        return " ".join([self.config["greeting"]] * self.config["times"])
""",
    "tests/test_greet.py": """from greet import Greet
from st2tests.base import BaseActionTestCase


class GreetTestCase(BaseActionTestCase):
    action_cls = Greet

    def test_the_config_says_what_and_how_often(self):
        self.assertEqual(self.get_action_instance(config={"greeting": "hi", "times": 3}).run(), "hi hi hi")
""",
}

CONFIG_DIALOG = [
    (r"^greeting: $", "hello"),
    (r"^times \(integer\) \[2\]: $", "3"),
    (r"preview the config in an editor before saving\? \[y\]: $", "n"),
    (r"Do you want me to save it\? \[y\]: $", "y"),
]


@dataclass
class Site:
    appliance: Appliance
    mirror: str
    repos: dict[str, PackRepo]
    scratch: str
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[step] = round(time.monotonic() - started, 1)


def make_repos(root: str) -> dict[str, PackRepo]:
    offreq = PackRepo(os.path.join(root, "offreq"), "offreq")
    offreq.commit("1.0.0", {**probe_action(HELPER), "requirements.txt": f"{HELPER}==1.0\n",
                            "tests/test_probe.py": OFFREQ_TEST})
    offreq.commit("2.0.0", {"requirements.txt": f"{HELPER}==2.0\n"})
    offreq.commit("3.0.0", {"requirements.txt": f"{HELPER}==2.0\n{MISSING}\n"})
    offsense = PackRepo(os.path.join(root, "offsense"), "offsense")
    offsense.commit("1.0.0", OFFSENSE)
    offdeps = PackRepo(os.path.join(root, "offdeps"), "offdeps")
    offdeps.commit("1.0.0", OFFDEPS, manifest={"dependencies": [f"{offreq.url}=1.0.0"]})
    return {"offreq": offreq, "offsense": offsense, "offdeps": offdeps}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """The site, built and started in a network namespace with nothing but loopback; the test runs in it."""
    require_prompts()
    if not os.access(RUN_PACK_TESTS, os.X_OK):
        unavailable(f"{RUN_PACK_TESTS} is not installed (make install)")
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(no_network())
        except Unavailable as exc:
            unavailable(str(exc))
        assert network_is_cut(), "the namespace should have loopback only and no route out"
        root = str(tmp_path_factory.mktemp("offline-site"))
        wheels, mirror = os.path.join(root, "wheels"), os.path.join(root, "py_repo")
        built = [build_wheel(wheels, HELPER, "1.0", "VALUE = 'one'\n"),
                 build_wheel(wheels, HELPER, "2.0", "VALUE = 'two'\n")]
        assert pyrepo_mirror(mirror, built) == sorted(os.path.basename(path) for path in built)
        assert os.path.isfile(os.path.join(mirror, "simple", HELPER.replace("_", "-"), "index.html"))
        repos = make_repos(os.path.join(root, "srv", "packs"))
        appliance = stack.enter_context(running_appliance("offline"))
        same = os.readlink(f"/proc/{appliance.supervisor_pid()}/ns/net") == os.readlink("/proc/thread-self/ns/net")
        assert same, "the appliance should run in the test's network namespace"
        made = Site(appliance, mirror, repos, root)
        yield made
        print(f"\noffline proof timings (s): {made.timings}")


def install(site: Site, *specs: str) -> subprocess.CompletedProcess:
    """The handbook's command: `st2 run packs.install packs=<specs> env=<the mirror>`."""
    return site.appliance.st2("run", "packs.install", f"packs={','.join(specs)}", f"env={offline_env(site.mirror)}",
                              timeout=INSTALL_TIMEOUT)


def footprint(appliance: Appliance, pack: str) -> dict:
    """Whatever of `pack` exists: its directory, virtualenv, registration and registered content."""
    def listed(resource: str) -> list[str]:
        resp = appliance.api("GET", resource, params={"pack": pack})
        assert resp.status_code == 200, resp.text
        return sorted(item["ref"] for item in resp.json())

    found = {"directory": os.path.isdir(os.path.join(appliance.packs, pack)),
             "virtualenv": os.path.isdir(os.path.join(appliance.base, "virtualenvs", pack)),
             "left aside": os.path.exists(os.path.join(appliance.packs, ".st2-install", pack)),
             "pack": registered(appliance, pack) is not None,
             "config schema": appliance.api("GET", f"config_schemas/{pack}").status_code == 200,
             "actions": sorted(actions_of(appliance, pack)), "sensors": listed("sensortypes"),
             "rules": listed("rules"), "trigger types": listed("triggertypes")}
    return {key: value for key, value in found.items() if value}


def sensor_processes(appliance: Appliance, pack: str) -> list[int]:
    python = os.path.join(appliance.base, "virtualenvs", pack, "bin", "python")
    return [pid for pid, _ppid, argv in processes() if argv[0] == python]


def pack_tests(site: Site, pack: str) -> subprocess.CompletedProcess:
    """st2-run-pack-tests on the installed pack, pip pointed at the mirror as the handbook's variables do."""
    env = site.appliance.env(PIP_NO_INDEX="1", PIP_FIND_LINKS=f"file://{site.mirror}", PIP_CONFIG_FILE=os.devnull,
                             TMPDIR=site.scratch, PYTHONDONTWRITEBYTECODE="1", PYTEST_ADDOPTS="-p no:cacheprovider")
    env.pop("PYTHONPATH", None)
    return subprocess.run([RUN_PACK_TESTS, "-p", os.path.join(site.appliance.packs, pack)], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300, check=False)


def test_the_sites_handbook_with_no_network(site: Site):
    appliance, repos = site.appliance, site.repos
    venv = os.path.join(appliance.base, "virtualenvs", "offreq")

    # Install: two packs named, the third (offreq at v1.0.0) as offdeps' dependency.
    with site.timed("install 3 packs"):
        done = install(site, repos["offsense"].url, repos["offdeps"].url)
    text = done.stdout + done.stderr
    assert done.returncode == 0 and "status: succeeded" in text, text + appliance.log_tail()
    assert {pack: (registered(appliance, pack) or {}).get("version") for pack in repos} == {
        "offreq": "1.0.0", "offsense": "1.0.0", "offdeps": "1.0.0"}, text
    installed = {"directory": True, "virtualenv": True, "pack": True}
    assert {pack: footprint(appliance, pack) for pack in repos} == {
        "offreq": {**installed, "actions": ["probe"]},
        "offsense": {**installed, "actions": ["record"], "sensors": ["offsense.TickSensor"],
                     "rules": ["offsense.on_second_tick"], "trigger types": ["offsense.tick"]},
        "offdeps": {**installed, "actions": ["greet"], "config schema": True}}

    # offreq's action imports its requirement, installed from the mirror into the pack's virtualenv.
    with site.timed("python action"):
        assert probe(appliance, "offreq") == {"value": "one", "prefix": venv}

    # offsense's sensor runs; its second tick fires the rule, whose action writes the datastore.
    with site.timed("sensor and rule"):
        assert wait_until(lambda: sensor_processes(appliance, "offsense"), timeout=30), appliance.log_tail()
        recorded = wait_until(lambda: appliance.api("GET", "keys/offsense_tick").status_code == 200, timeout=30)
        assert recorded, appliance.log_tail()
        assert appliance.api("GET", "keys/offsense_tick").json()["value"] == "tick 2"
        runs = appliance.api("GET", "executions", params={"rule": "offsense.on_second_tick"}).json()
        assert [(run["action"]["ref"], run["status"]) for run in runs] == [("offsense.record", "succeeded")], runs

    # st2 pack config asks for offdeps' schema, saves the config, and offdeps' action reads it.
    with site.timed("pack config"):
        code, output = answer_prompts(appliance, ["pack", "config", "offdeps"], CONFIG_DIALOG)
        assert code == 0 and "Traceback" not in output, output
        with open(os.path.join(appliance.base, "configs", "offdeps.yaml"), encoding="utf-8") as handle:
            assert yaml.safe_load(handle) == {"greeting": "hello", "times": 3}
        execution = appliance.run_completed("offdeps.greet", timeout=60)
        assert (execution["status"], execution["result"]["result"]) == ("succeeded", "hello hello hello"), execution

    # Each installed pack passes its own tests (offreq's requirement from the mirror into the test virtualenv).
    for pack, count in (("offreq", 1), ("offsense", 2), ("offdeps", 1)):
        with site.timed(f"st2-run-pack-tests {pack}"):
            done = pack_tests(site, pack)
        assert done.returncode == 0 and f"{count} passed" in done.stdout, done.stdout + done.stderr

    # Upgrade: offreq at v2.0.0, with the requirement's next version in its virtualenv.
    with site.timed("upgrade"):
        done = install(site, f"{repos['offreq'].url}=2.0.0")
        assert done.returncode == 0 and "status: succeeded" in done.stdout, done.stdout + done.stderr
        assert registered(appliance, "offreq")["version"] == "2.0.0"
        assert probe(appliance, "offreq") == {"value": "two", "prefix": venv}

    # A requirement missing from the mirror: one line naming it, and v2.0.0 is still there as it was.
    with site.timed("requirement not in the mirror"):
        done = install(site, f"{repos['offreq'].url}=3.0.0")
        requirements = os.path.join(appliance.packs, "offreq", "requirements.txt")
        line = f"result: 'Failed to install requirements from \"{requirements}\": No matching distribution found for "
        assert done.returncode == 1 and "status: failed" in done.stdout, done.stdout + done.stderr
        assert f"{line}{MISSING}'\n" in done.stdout, done.stdout + done.stderr
        assert registered(appliance, "offreq")["version"] == "2.0.0"
        with open(os.path.join(appliance.packs, "offreq", "pack.yaml"), encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["version"] == "2.0.0"
        assert probe(appliance, "offreq") == {"value": "two", "prefix": venv}
        assert "left aside" not in footprint(appliance, "offreq")

    # A source out on the network is one clear error, at once: nothing waits on a network that is not there.
    with site.timed("network source"):
        text = refused(appliance.st2("pack", "install", NETWORK_SOURCE, timeout=INSTALL_TIMEOUT))
        assert "Could not resolve host" in text, text
        assert footprint(appliance, "offnet") == {}

    # Remove: files, virtualenvs, registration, the sensor's process; the config file stays (as StackStorm's).
    with site.timed("remove"):
        ok(appliance.st2("pack", "remove", "offdeps", "offsense", "offreq", timeout=INSTALL_TIMEOUT))
        assert {pack: footprint(appliance, pack) for pack in repos} == {pack: {} for pack in repos}
        assert wait_until(lambda: not sensor_processes(appliance, "offsense")), "the sensor still runs"
        assert appliance.api("GET", "configs/offdeps").status_code == 404
        assert os.path.isfile(os.path.join(appliance.base, "configs", "offdeps.yaml"))
