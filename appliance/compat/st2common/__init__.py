"""The slice of StackStorm's st2common that pack code imports (Action, its helpers, the datastore)."""

__version__ = "3.9.0"
