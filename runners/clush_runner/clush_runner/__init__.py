"""ClusterShell runners: commands, copies and scripts over node sets, with folded results."""
