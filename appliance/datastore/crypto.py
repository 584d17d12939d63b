"""StackStorm's symmetric crypto, byte for byte, so a value encrypted at a StackStorm site decrypts
here and the reverse (st2common/util/crypto.py keeps keyczar's layout).

Key file (`[keyvalue] encryption_key_path`, JSON):
  {"hmacKey": {"hmacKeyString": <urlsafe b64, no padding>, "size": 256},
   "aesKeyString": <urlsafe b64, no padding>, "mode": "CBC", "size": 256}
Ciphertext: upper-case hex of  b"00000" + IV(16) + AES-CBC(PKCS#7 padded UTF-8) + HMAC-SHA1(20),
the MAC covering everything before it, header included as found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from appliance.private_files import private_dir

_HEADER = b"00000"
_IV = 16
_MAC = 20


class CryptoError(ValueError):
    """A key file or a ciphertext is unusable; the message says which and why, never the secret."""


@dataclass(frozen=True)
class CryptoKey:
    aes: bytes
    hmac: bytes


def _b64decode(text: str) -> bytes:
    text = "".join(str(text).split())
    if len(text) % 4 == 1:
        raise CryptoError("invalid base64 key string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_key(path: str) -> CryptoKey:
    """The key in a StackStorm key file."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("mode", "CBC") != "CBC":
            raise CryptoError(f"{path}: unsupported mode {data.get('mode')!r} (only CBC)")
        key = CryptoKey(_b64decode(data["aesKeyString"]), _b64decode(data["hmacKey"]["hmacKeyString"]))
    except OSError as exc:
        raise CryptoError(f"Crypto key not found in {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise CryptoError(f"{path}: not a StackStorm crypto key file ({type(exc).__name__})") from None
    if len(key.aes) not in (16, 24, 32):
        raise CryptoError(f"{path}: the AES key must be 128, 192 or 256 bits")
    return key


def create_key_file(path: str) -> bool:
    """Write a new 256-bit key file (mode 0600, in a 0700 folder) unless one exists; True if written.
    O_EXCL makes concurrent first starts agree on one key."""
    private_dir(os.path.dirname(os.path.abspath(path)))
    document = {"hmacKey": {"hmacKeyString": _b64encode(os.urandom(32)), "size": 256},
                "aesKeyString": _b64encode(os.urandom(32)), "mode": "CBC", "size": 256}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    return True


def encrypt(key: CryptoKey, plaintext: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    iv = os.urandom(_IV)
    encryptor = Cipher(algorithms.AES(key.aes), modes.CBC(iv)).encryptor()
    message = _HEADER + iv + encryptor.update(data) + encryptor.finalize()
    signature = hmac.new(key.hmac, message, hashlib.sha1).digest()
    return (message + signature).hex().upper()


def decrypt(key: CryptoKey, ciphertext: str) -> str:
    try:
        raw = bytes.fromhex(ciphertext)
    except (ValueError, TypeError):
        raise CryptoError("the value is not hex ciphertext") from None
    body = raw[len(_HEADER):]
    if len(body) < _IV + _MAC or (len(body) - _IV - _MAC) % 16:
        raise CryptoError("the ciphertext is too short or truncated")
    expected = hmac.new(key.hmac, raw[:-_MAC], hashlib.sha1).digest()
    if not hmac.compare_digest(expected, raw[-_MAC:]):
        raise CryptoError("the ciphertext does not verify with this key (wrong key or corrupted value)")
    decryptor = Cipher(algorithms.AES(key.aes), modes.CBC(body[:_IV])).decryptor()
    padded = decryptor.update(body[_IV:-_MAC]) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except ValueError:
        raise CryptoError("the ciphertext decrypts to invalid padding or text") from None
