"""Every route of st2api and st2auth, in one place (served with and without /v1, see http.py)."""

from __future__ import annotations

import falcon

from appliance import __version__
from appliance.api.http import Authenticate, make_app, respond
from appliance.api.resources import (
    actions,
    configs,
    credentials,
    executions,
    inquiries,
    keys,
    packs,
    rules,
    sensors,
    timers,
    triggers,
    webhooks,
)
from appliance.services.context import Context


class Root:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, {"version": __version__, "docs_url": "https://docs.stackstorm.com/"})


def api_routes(ctx: Context) -> dict[str, object]:
    """Every URI template st2api serves (also under /v1), with its resource."""
    routes: dict[str, object] = {
        "/": Root(),
        "/actions": actions.Actions(ctx),
        "/actions/{ref_or_id}": actions.Action(ctx),
        "/runnertypes": actions.RunnerTypes(ctx),
        "/runnertypes/{name_or_id}": actions.RunnerType(ctx),
        "/packs": packs.Packs(ctx),
        "/packs/register": packs.PackRegister(ctx),
        "/packs/install": packs.PackInstall(ctx),
        "/packs/uninstall": packs.PackUninstall(ctx),
        "/packs/unload": packs.PackUnload(ctx),
        "/packs/index": packs.PackIndex(ctx),
        "/packs/index/search": packs.PackIndexSearch(ctx),
        "/packs/index/health": packs.PackIndexHealth(ctx),
        "/packs/{ref_or_id}": packs.Pack(ctx),
        "/config_schemas": configs.ConfigSchemas(ctx),
        "/config_schemas/{pack_ref}": configs.ConfigSchema(ctx),
        "/configs": configs.Configs(ctx),
        "/configs/{pack_ref}": configs.Config(ctx),
        "/executions": executions.Executions(ctx),
        "/executions/{execution_id}": executions.Execution(ctx),
        "/executions/{execution_id}/output": executions.ExecutionOutput(ctx),
        "/executions/{execution_id}/children": executions.ExecutionChildren(ctx),
        "/executions/{execution_id}/result": executions.ExecutionResult(ctx),
        "/executions/{execution_id}/re_run": executions.ExecutionReRun(ctx),
        "/inquiries": inquiries.Inquiries(ctx),
        "/inquiries/{inquiry_id}": inquiries.Inquiry(ctx),
        "/apikeys": credentials.ApiKeys(ctx),
        "/apikeys/{id_or_key}": credentials.ApiKey(ctx),
        "/user": credentials.User(),
        "/triggertypes": triggers.TriggerTypes(ctx),
        "/triggertypes/{ref_or_id}": triggers.TriggerType(ctx),
        "/triggers": triggers.Triggers(ctx),
        "/triggers/{ref_or_id}": triggers.Trigger(ctx),
        "/triggerinstances": triggers.TriggerInstances(ctx),
        "/triggerinstances/{instance_id}": triggers.TriggerInstance(ctx),
        "/triggerinstances/{instance_id}/re_emit": triggers.TriggerInstanceReEmit(ctx),
        "/sensortypes": sensors.SensorTypes(ctx),
        "/sensortypes/{ref_or_id}": sensors.SensorType(ctx),
        "/timers": timers.Timers(ctx),
        "/timers/{ref_or_id}": timers.Timer(ctx),
        "/keys": keys.Keys(ctx),
        "/keys/{name}": keys.Key(ctx),
        "/rules": rules.Rules(ctx),
        "/rules/views": rules.RuleViews(ctx),
        "/rules/views/{ref_or_id}": rules.RuleView(ctx),
        "/rules/{ref_or_id}": rules.Rule(ctx),
        "/ruletypes": rules.RuleTypes(),
        "/ruletypes/{rule_type}": rules.RuleType(),
        "/ruleenforcements": rules.RuleEnforcements(ctx),
        "/ruleenforcements/{enforcement_id}": rules.RuleEnforcement(ctx),
        "/webhooks": webhooks.Webhooks(ctx),
        "/webhooks/{hook:path}": webhooks.Webhook(ctx),  # a webhook's url may hold slashes
    }
    for path, resource in list(routes.items()):
        if path.startswith("/executions"):
            routes[path.replace("/executions", "/actionexecutions", 1)] = resource
    return routes


def api_app(ctx: Context) -> falcon.App:
    app = make_app(ctx.config, [Authenticate(ctx.credentials, ctx.config)])
    for path, resource in api_routes(ctx).items():
        app.add_route(path, resource)
    return app


def auth_routes(ctx: Context) -> dict[str, object]:
    """Every URI template st2auth serves."""
    return {"/tokens": credentials.Tokens(ctx), "/tokens/validate": credentials.TokenValidation(ctx)}


def auth_app(ctx: Context) -> falcon.App:
    app = make_app(ctx.config, [])
    for path, resource in auth_routes(ctx).items():
        app.add_route(path, resource)
    return app
