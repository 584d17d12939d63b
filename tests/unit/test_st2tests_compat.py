"""st2tests as packs import it (appliance/compat/st2tests): the pack test base classes and the in-memory
action, sensor and datastore services behave as StackStorm 3.9's, and the alias format strings read as
StackStorm reads them. The modules are imported from appliance/compat, as st2-run-pack-tests hands them."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import unittest.mock

import pytest

from appliance.pack_env import COMPAT_PATH

COMPAT_ROOTS = ("st2tests", "st2common", "st2reactor", "st2actions")


@pytest.fixture(scope="module", autouse=True)
def compat_on_path():
    """appliance/compat first on sys.path for this module only; its modules are forgotten afterwards."""
    sys.path.insert(0, COMPAT_PATH)
    yield
    sys.path.remove(COMPAT_PATH)
    for name in [name for name in sys.modules if name.split(".")[0] in COMPAT_ROOTS]:
        del sys.modules[name]


def set_up(base: type, **attributes) -> unittest.TestCase:
    """An instance of a test case class deriving from `base`, after its setUp."""
    case = type("Case", (base,), {"runTest": lambda self: None, **attributes})()
    case.setUp()
    return case


def load_test_module(path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect.getfile() of its classes looks there, as for any imported module
    spec.loader.exec_module(module)
    return module


# -- actions and the datastore ---------------------------------------------------------------------
def test_action_case_hands_the_action_its_config_and_an_in_memory_service():
    from st2common.runners.base_action import Action
    from st2tests.base import BaseActionTestCase
    from st2tests.mocks.action import MockActionService

    class Counter(Action):
        def run(self, step=1):
            total = int(self.action_service.get_value("total") or 0) + step
            self.action_service.set_value("total", total)
            return total

    case = set_up(BaseActionTestCase, action_cls=Counter)
    assert isinstance(case.action_service, MockActionService)
    assert (case.action_service._action_wrapper._pack, case.action_service._action_wrapper._class_name) == \
        ("tests", "Counter")
    action = case.get_action_instance(config={"region": "north"})
    assert action.config == {"region": "north"} and action.action_service is case.action_service
    assert [action.run(), action.run(step=2)] == [1, 3]
    assert case.action_service.datastore_service.get_value("Counter:total", local=False) is None
    assert case.action_service.get_value("tests.Counter:total", local=False) == 3

    class OldStyle(Action):  # a constructor from before action_service existed
        def __init__(self, config):
            super().__init__(config)

        def run(self):
            return self.action_service.get_user_info()["username"]

    old = set_up(BaseActionTestCase, action_cls=OldStyle)
    assert old.get_action_instance().run() == "admin"


def test_mock_datastore_keys_are_local_to_the_pack_and_class():
    from st2tests.mocks.action import MockActionService, MockActionWrapper

    service = MockActionService(MockActionWrapper(pack="mypack", class_name="Sync"))
    assert service.set_value("cursor", 41) is True
    assert service.set_value("shared", "x", local=False) is True
    assert service.get_value("cursor") == 41  # kept as given, as StackStorm's mock keeps it
    assert service.get_value("mypack.Sync:cursor", local=False) == 41
    assert service.get_value("shared") is None and service.get_value("shared", local=False) == "x"
    assert [item.name for item in service.list_values()] == ["mypack.Sync:cursor"]
    assert [item.name for item in service.list_values(local=False)] == ["mypack.Sync:cursor", "shared"]
    assert [item.name for item in service.list_values(local=False, prefix="sh")] == ["shared"]
    assert service.list_values(prefix="nothing") == []
    service.set_value("token", "s3cret", encrypt=True, ttl=60)
    token = service.list_values(prefix="tok")[0]
    assert (token.value, token.secret, token.ttl) == ("s3cret", True, 60)
    assert service.get_value("token", decrypt=True) == "s3cret"
    service._logger.warning.assert_called_once_with("MockDatastoreService is not able to expire keys based on ttl.")
    assert [item.name for item in service.list_values(limit=1, offset=1)] == ["mypack.Sync:token"]
    assert service.delete_value("cursor") is True and service.delete_value("cursor") is False
    for call in (lambda: service.get_value("cursor", scope="user"),
                 lambda: service.set_value("cursor", 1, scope="st2kv.user"),
                 lambda: service.delete_value("cursor", scope="user")):
        with pytest.raises(ValueError, match="Scope .* is unsupported."):
            call()
    info = service.get_user_info()
    assert info["username"] == "admin" and info["rbac"]["is_admin"] is True


# -- sensors ---------------------------------------------------------------------------------------
def test_sensor_case_records_dispatches():
    from st2common.models.api.trace import TraceContext
    from st2reactor.sensor.base import PollingSensor
    from st2tests.base import BaseSensorTestCase

    class Watcher(PollingSensor):
        def setup(self):
            self.log = self.sensor_service.get_logger("watcher")

        def poll(self):
            self.sensor_service.dispatch(trigger="mypack.seen", payload={"n": 1}, trace_tag="t-1")
            self.sensor_service.dispatch_with_context("mypack.other", {"n": 2}, TraceContext(id_="abc"))
            self.log.info("polled")

        def run(self):
            pass

        def cleanup(self):
            pass

        def add_trigger(self, trigger):
            pass

        def update_trigger(self, trigger):
            pass

        def remove_trigger(self, trigger):
            pass

    case = set_up(BaseSensorTestCase, sensor_cls=Watcher)
    sensor = case.get_sensor_instance(config={"a": 1}, poll_interval=7)
    assert (sensor.config, sensor.get_poll_interval(), sensor.sensor_service) == ({"a": 1}, 7, case.sensor_service)
    assert case.get_sensor_instance(config={}).get_poll_interval() == 5  # nothing passed for them
    sensor.setup()
    sensor.poll()
    assert case.get_dispatched_triggers()[0] == {"trigger": "mypack.seen", "payload": {"n": 1},
                                                 "trace_context": TraceContext(trace_tag="t-1")}
    assert case.get_last_dispatched_trigger()["trace_context"].id_ == "abc"
    assert case.assertTriggerDispatched("mypack.seen") is True
    assert case.assertTriggerDispatched("mypack.seen", payload={"n": 1}, trace_context=TraceContext(trace_tag="t-1"))
    for trigger, payload in (("mypack.missing", None), ("mypack.seen", {"n": 2})):
        with pytest.raises(AssertionError, match=f'Trigger "{trigger}" hasn\'t been dispatched'):
            case.assertTriggerDispatched(trigger, payload=payload)
    case.sensor_service.get_logger("any").info.assert_called_once_with("polled")
    case.sensor_service.set_value("seen", 2)
    assert case.sensor_service.list_values()[0].name == "tests.Watcher:seen"


# -- action aliases ---------------------------------------------------------------------------------
@pytest.mark.parametrize("alias_format, command, expected", [
    ("", "", {}),
    ("", 'a=one b="two words" c=\'three\' d={"k": "v"}', {"a": "one", "b": "two words", "c": "three",
                                                        "d": '{"k": "v"}'}),
    ("restart {{service}} on {{hosts}}", "restart slurmd on node[1-4]", {"service": "slurmd", "hosts": "node[1-4]"}),
    ("restart {{service}} on {{hosts}}", 'restart "slurm daemon" on node1', {"service": "slurm daemon",
                                                                             "hosts": "node1"}),
    ("show {{ item }} now", 'show {"a": [1, 2]} now', {"item": '{"a": [1, 2]}'}),
    ("drain {{ nodes }} {{ reason=maintenance }}", "drain node1", {"nodes": "node1", "reason": "maintenance"}),
    ("drain {{ nodes }} {{ reason=maintenance }}", "drain node1 disk", {"nodes": "node1", "reason": "disk"}),
    ("ping {{ host = 'local host' }}", "ping", {"host": "local host"}),
    ("run {{ p={{ st2kv.system.x }} }}", "run", {"p": "{{ st2kv.system.x }}"}),
    ("deploy {{ app }}", "deploy web version=2 notes='quick fix'", {"app": "web", "version": "2",
                                                                    "notes": "quick fix"}),
    (r"^\s*ticket (?P<key>[A-Z]+-[0-9]+)", "ticket OPS-12", {"key": "OPS-12"}),  # a format is a regular expression
])
def test_alias_format_strings(alias_format, command, expected):
    from st2common.models.utils.action_alias_utils import extract_parameters

    assert extract_parameters(alias_format, command) == expected


@pytest.mark.parametrize("alias_format, command, message", [
    ("restart {{service}}", "reboot slurmd", 'Command "reboot slurmd" doesn\'t match format string '
                                             '"restart {{service}}"'),
    ("restart {{service}}", "please restart slurmd", "doesn't match"),  # the whole command must match
    (r"^\s*ticket (?P<key>[A-Z]+-[0-9]+)", "ticket OPS-12 please", "doesn't match"),  # $ added: no end anchor
    (r"ticket (?P<key>[A-Z]+-[0-9]+)$", "my ticket OPS-12", "doesn't match"),
    ("skip {{a}} more {{b}}", None, 'Command "" doesn\'t match'),
])
def test_alias_format_mismatches(alias_format, command, message):
    from st2common.exceptions.content import ParseException
    from st2common.models.utils.action_alias_utils import extract_parameters

    with pytest.raises(ParseException, match=re.escape(message)):
        extract_parameters(alias_format, command)


@pytest.fixture
def alias_pack(tmp_path):
    """A pack with two aliases and a test module of BaseActionAliasTestCase and fixture reads."""
    pack = tmp_path / "chatpack"
    (pack / "aliases").mkdir(parents=True)
    (pack / "tests" / "fixtures").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: chatpack\nref: chatpack\nversion: 0.1.0\n")
    (pack / "aliases" / "restart.yaml").write_text(textwrap.dedent("""\
        name: restart
        action_ref: chatpack.restart
        formats:
          - "restart {{ service }}"
          - display: "restart <service> on <nodes>"
            representation:
              - "restart {{ service }} on {{ nodes }}"
              - "bounce {{ service }} on {{ nodes }}"
        """))
    (pack / "aliases" / "broad.yml").write_text('name: broad\naction_ref: chatpack.any\nformats: ["{{ anything }}"]\n')
    (pack / "tests" / "fixtures" / "hosts.txt").write_text("node1\nnode2\n")
    (pack / "tests" / "test_chat.py").write_text(textwrap.dedent("""\
        from st2tests.base import BaseActionAliasTestCase
        from st2tests.pack_resource import BasePackResourceTestCase

        class RestartAlias(BaseActionAliasTestCase):
            action_alias_name = "restart"
            def runTest(self):
                pass

        class Fixtures(BasePackResourceTestCase):
            def runTest(self):
                pass
        """))
    return pack


def test_alias_case_reads_the_pack_aliases(alias_pack):
    module = load_test_module(alias_pack / "tests" / "test_chat.py", "test_chat_alias_case")
    case = module.RestartAlias()
    case.setUp()
    alias = case.action_alias_db
    assert (alias.ref, alias.action_ref) == ("chatpack.restart", "chatpack.restart")
    assert alias.get_format_strings() == ["restart {{ service }}", "restart {{ service }} on {{ nodes }}",
                                          "bounce {{ service }} on {{ nodes }}"]
    case.assertCommandMatchesExactlyOneFormatString(alias.get_format_strings(), "bounce slurmd on n[1-2]")
    with pytest.raises(AssertionError, match='Command "reboot now" didn\'t match any of the provided format strings'):
        case.assertCommandMatchesExactlyOneFormatString(alias.get_format_strings(), "reboot now")
    # a parameter takes all the text the format leaves it: "slurmd on n1" is a service for the first format
    with pytest.raises(AssertionError, match="matched multiple format strings: restart {{ service }}, restart {{ "):
        case.assertCommandMatchesExactlyOneFormatString(alias.get_format_strings(), "restart slurmd on n1")
    case.assertExtractedParametersMatch("bounce {{ service }} on {{ nodes }}", "bounce slurmd on n1",
                                        {"service": "slurmd", "nodes": "n1"})
    mismatch = "didn't match the provided parameters: {'service': 'slurmd', 'nodes': 'n1'} != "
    with pytest.raises(AssertionError, match=mismatch):
        case.assertExtractedParametersMatch("bounce {{ service }} on {{ nodes }}", "bounce slurmd on n1",
                                            {"service": "slurmd", "nodes": "n2"})
    with pytest.raises(ValueError, match='Format string "{{ x }}" is not available on the alias "restart"'):
        case.assertExtractedParametersMatch("{{ x }}", "anything", {"x": "anything"})

    module.RestartAlias.action_alias_name = "absent"
    with pytest.raises(ValueError, match='Alias with name "absent" not found'):
        module.RestartAlias().setUp()
    module.RestartAlias.action_alias_name = None
    with pytest.raises(ValueError, match='"action_alias_name" class attribute needs to be provided'):
        module.RestartAlias().setUp()
    assert module.Fixtures().get_fixture_content("hosts.txt") == "node1\nnode2\n"


def test_an_alias_of_another_pack_is_refused(alias_pack):
    (alias_pack / "aliases" / "stray.yaml").write_text("name: stray\npack: otherpack\naction_ref: x.y\n")
    module = load_test_module(alias_pack / "tests" / "test_chat.py", "test_chat_stray")
    with pytest.raises(ValueError, match='in pack "chatpack" but field "pack" is different: otherpack'):
        module.RestartAlias().setUp()


# -- what the modules need -------------------------------------------------------------------------
def test_st2tests_imports_with_the_standard_library_and_pyyaml_only():
    """No mongoengine, oslo.config, eventlet or appliance: pack virtualenvs may hold none of them."""
    probe = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {COMPAT_PATH!r})
        before = set(sys.modules)
        import st2tests.base, st2tests.mocks.action, st2tests.mocks.sensor, st2tests.mocks.datastore
        import st2tests.pack_resource
        from st2tests.base import BaseActionTestCase, BaseSensorTestCase, BaseActionAliasTestCase
        roots = {{name.split(".")[0] for name in set(sys.modules) - before}}
        print(sorted(roots & {{"mongoengine", "oslo_config", "eventlet", "appliance", "st2client", "mock"}}))
        """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={"PATH": os.defpath})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_mock_fallback_is_unittest_mock():
    had_submodule = "mock.mock" in sys.modules
    module = load_test_module(os.path.join(COMPAT_PATH, "fallback", "mock.py"), "mock_fallback_probe")
    try:
        assert module.patch is unittest.mock.patch and module.MagicMock is unittest.mock.MagicMock
        assert module.mock is unittest.mock and "call" in module.__all__
        assert sys.modules["mock.mock"] is unittest.mock or had_submodule
    finally:
        if not had_submodule:
            sys.modules.pop("mock.mock", None)
