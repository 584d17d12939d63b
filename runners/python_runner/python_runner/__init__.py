"""StackStorm's python-script runner: pack Python actions in their pack's virtualenv.

Kept free of imports: python_runner.wrapper runs inside pack virtualenvs that lack the appliance.
"""
