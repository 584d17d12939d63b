"""Parameter validation and rendering as `st2 run` users meet them."""

from __future__ import annotations

import pytest

from appliance.parameters import ParameterError, mask_secrets, render, validate_request

RUNNER = {
    "runner_parameters": {
        "cmd": {"type": "string"},
        "timeout": {"type": "integer", "default": 60},
        "sudo": {"type": "boolean", "default": False},
        "sudo_password": {"type": "string", "secret": True},
    }
}
LOCAL = {"parameters": {"cmd": {"type": "string", "required": True}}}
ECHO = {
    "parameters": {
        "message": {"type": "string", "required": True},
        "cmd": {"immutable": True, "default": 'echo "{{message}}"'},
    }
}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "'cmd' is a required property"),
        ({"cmd": "x", "foo": 1}, "Additional properties are not allowed ('foo' was unexpected)"),
        ({"cmd": "x", "timeout": "abc"}, "'abc' is not of type 'integer' (parameter 'timeout')"),
        ({"cmd": 5}, "5 is not of type 'string' (parameter 'cmd')"),
    ],
)
def test_invalid_requests_name_the_problem(given, message):
    with pytest.raises(ParameterError) as caught:
        validate_request(RUNNER, LOCAL, given)
    assert str(caught.value) == message


def test_valid_request_passes():
    validate_request(RUNNER, LOCAL, {"cmd": "echo hi", "timeout": 5})


def test_immutable_parameter_cannot_be_overridden():
    with pytest.raises(ParameterError, match="Override of immutable parameter"):
        validate_request(RUNNER, ECHO, {"message": "hi", "cmd": "rm -rf /"})


def test_defaults_and_templates_render_in_dependency_order():
    runner_values, action_values = render(RUNNER, ECHO, {"message": "hi"}, {"user": "st2admin"})
    assert runner_values == {"cmd": 'echo "hi"', "timeout": 60, "sudo": False}
    assert action_values == {"message": "hi"}


def test_action_context_is_available_to_templates():
    runner_values, _ = render(RUNNER, LOCAL, {"cmd": "echo {{ action_context.user }}"}, {"user": "bob"})
    assert runner_values["cmd"] == "echo bob"


def test_templated_integer_is_cast_to_its_type():
    action = {"parameters": {"cmd": {"type": "string"}, "n": {"type": "integer", "default": 3},
                             "timeout": {"default": "{{ n * 2 }}"}}}
    runner_values, _ = render(RUNNER, action, {"cmd": "true"}, {})
    assert runner_values["timeout"] == 6


def test_cyclic_templates_are_reported():
    action = {"parameters": {"a": {"type": "string", "default": "{{ b }}"},
                             "b": {"type": "string", "default": "{{ a }}"}}}
    with pytest.raises(ParameterError, match="Cyclic"):
        render(RUNNER, action, {}, {})


def test_unknown_template_variable_is_reported():
    with pytest.raises(ParameterError, match="Failed to render parameter 'cmd'"):
        render(RUNNER, LOCAL, {"cmd": "echo {{ nope }}"}, {})


def test_secrets_are_masked():
    masked = mask_secrets({"cmd": "x", "sudo_password": "hunter2"}, RUNNER, LOCAL)
    assert masked == {"cmd": "x", "sudo_password": "********"}


@pytest.mark.parametrize("template", [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ action_context.__class__.__init__.__globals__ }}",
])
def test_templates_cannot_reach_python_internals(template, tmp_path):
    with pytest.raises(ParameterError, match="Failed to render parameter 'cmd'"):
        render(RUNNER, LOCAL, {"cmd": template}, {"user": "bob"})


@pytest.mark.parametrize("template", ["{{ 1/0 }}", "{{ 'a' + 1 }}", "{{ none_such | int }}"])
def test_a_template_that_raises_is_a_parameter_error(template):
    with pytest.raises(ParameterError, match="Failed to render parameter 'cmd'"):
        render(RUNNER, LOCAL, {"cmd": template}, {"user": "bob"})


def test_values_a_rule_rendered_are_not_rendered_again():
    payload_text = "{{ action_context.user }}"  # from a webhook body: data, not a template
    runner_values, _ = render(RUNNER, LOCAL, {"cmd": payload_text}, {"user": "bob", "parameters_rendered": True})
    assert runner_values["cmd"] == payload_text
    runner_values, _ = render(RUNNER, ECHO, {"message": "{{ x }}"}, {"user": "bob", "parameters_rendered": True})
    assert runner_values["cmd"] == 'echo "{{ x }}"'  # the action's own template still renders
