"""The milkcheck runner: MilkCheck's CLI in a subprocess, its output read back as a structured result."""
