"""StackStorm's local shell runners: a command line (local-shell-cmd) or a pack script (local-shell-script)."""
