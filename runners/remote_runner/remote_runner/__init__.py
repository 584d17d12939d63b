"""StackStorm's remote shell runners (remote-shell-cmd, remote-shell-script) over OpenSSH and ClusterShell."""
