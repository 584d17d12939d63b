"""StackStorm's inquirer runner (core.ask)."""
