"""The datastore: its keys (keys.py: `st2 key ...`, `{{ st2kv... }}`) and its crypto (crypto.py)."""
