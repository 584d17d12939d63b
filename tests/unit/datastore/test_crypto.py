"""StackStorm's key file and ciphertext layout, checked against vectors built here independently
with the `cryptography` primitives from the documented layout (not with the appliance's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from appliance.datastore.crypto import CryptoError, create_key_file, decrypt, encrypt, read_key

AES_KEY = bytes(range(32))
HMAC_KEY = bytes(range(100, 132))


def _key_file(tmp_path) -> str:
    path = tmp_path / "datastore_key.json"
    path.write_text(json.dumps({
        "hmacKey": {"hmacKeyString": base64.urlsafe_b64encode(HMAC_KEY).decode().rstrip("="), "size": 256},
        "aesKeyString": base64.urlsafe_b64encode(AES_KEY).decode().rstrip("="), "mode": "CBC", "size": 256}))
    return str(path)


def _stackstorm_encrypt(text: str, iv: bytes, header: bytes = b"00000") -> str:
    data = text.encode()
    pad = 16 - len(data) % 16
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(AES_KEY), modes.CBC(iv)).encryptor()
    message = header + iv + encryptor.update(data) + encryptor.finalize()
    return (message + hmac.new(HMAC_KEY, message, hashlib.sha1).digest()).hex().upper()


def _stackstorm_decrypt(value: str) -> str:
    raw = bytes.fromhex(value)
    assert hmac.compare_digest(hmac.new(HMAC_KEY, raw[:-20], hashlib.sha1).digest(), raw[-20:])
    body = raw[5:]
    decryptor = Cipher(algorithms.AES(AES_KEY), modes.CBC(body[:16])).decryptor()
    plain = decryptor.update(body[16:-20]) + decryptor.finalize()
    return plain[:-plain[-1]].decode()


@pytest.mark.parametrize("text", ["", "hunter2", "x" * 16, "mot de passe é ✓", "a" * 1000])
def test_values_from_a_stackstorm_site_decrypt_here(tmp_path, text):
    key = read_key(_key_file(tmp_path))
    assert decrypt(key, _stackstorm_encrypt(text, os.urandom(16))) == text


def test_a_keyczar_header_is_skipped_but_authenticated(tmp_path):
    key = read_key(_key_file(tmp_path))
    value = _stackstorm_encrypt("old", b"\x00" * 16, header=b"\x00\x12\x34\x56\x78")
    assert decrypt(key, value.lower()) == "old"


def test_values_encrypted_here_decrypt_at_a_stackstorm_site(tmp_path):
    key = read_key(_key_file(tmp_path))
    value = encrypt(key, "s3cret ✓")
    assert value == value.upper() and value.startswith("3030303030")  # hex of the b"00000" header
    assert _stackstorm_decrypt(value) == "s3cret ✓"
    assert encrypt(key, "s3cret ✓") != value  # a fresh IV each time


@pytest.mark.parametrize("damage", [
    lambda v: v[:-2] + ("00" if v[-2:] != "00" else "11"),  # signature
    lambda v: v[:20] + ("A" if v[20] != "A" else "B") + v[21:],  # IV
    lambda v: v[:40],  # truncated
    lambda v: "zz" + v[2:],  # not hex
])
def test_tampered_or_foreign_values_are_refused(tmp_path, damage):
    key = read_key(_key_file(tmp_path))
    with pytest.raises(CryptoError):
        decrypt(key, damage(encrypt(key, "secret")))


def test_a_new_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "datastore_key.json"
    assert create_key_file(str(path)) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    first = path.read_text()
    assert create_key_file(str(path)) is False and path.read_text() == first
    key = read_key(str(path))
    assert len(key.aes) == 32 and len(key.hmac) == 32
    assert decrypt(key, encrypt(key, "round trip")) == "round trip"


def test_missing_or_broken_key_files_are_one_line(tmp_path):
    with pytest.raises(CryptoError, match="Crypto key not found"):
        read_key(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CryptoError, match="not a StackStorm crypto key file"):
        read_key(str(tmp_path / "bad.json"))
