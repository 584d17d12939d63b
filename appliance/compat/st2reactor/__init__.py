"""StackStorm's st2reactor import path for pack sensors (only what sensors import)."""
