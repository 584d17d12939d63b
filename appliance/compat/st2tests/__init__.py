"""StackStorm's st2tests as pack tests import it: `st2tests.base` (BaseActionTestCase, BaseSensorTestCase,
BaseActionAliasTestCase), `st2tests.mocks` (action, sensor and datastore services that keep everything in
memory) and `st2tests.pack_resource`. Only the standard library and PyYAML are needed: StackStorm's database
test cases (DbTestCase and the like, built on mongoengine, oslo.config and eventlet) are not provided.
st2-run-pack-tests puts this folder's parent on PYTHONPATH.
"""

__version__ = "3.9.0"
