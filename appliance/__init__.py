"""The appliance: a StackStorm-compatible automation platform for HPC clusters."""

__version__ = "0.1.0"
