"""StackStorm's orquesta runner: Orquesta workflows (appliance/workflows), run by st2workflowengine."""
