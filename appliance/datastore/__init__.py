"""The datastore's pieces: its crypto key and ciphertext format (crypto.py)."""
