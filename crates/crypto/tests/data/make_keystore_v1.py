# Regenerates keystore_v1.json: python3 make_keystore_v1.py > keystore_v1.json (needs cryptography >= 44).
# Independent implementation of the documented keystore v1 construction.
import json, struct
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

passphrase = b"tacnode test passphrase"
m, t, p = 64, 1, 1
salt = bytes(range(0xa0, 0xb0))
nonce = bytes(range(0xc0, 0xcc))
signing = bytes(range(0x01, 0x21)); device = bytes(range(0x21, 0x41)); storage = bytes(range(0x41, 0x61))
master = Argon2id(salt=salt, length=32, iterations=t, lanes=p, memory_cost=m).derive(passphrase)
def hk(info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info).derive(master)
key = hk(b"tacnode keystore v1 aes-256-gcm key")
check = hk(b"tacnode keystore v1 passphrase check")
def short(b): return bytes([len(b)]) + b
aad = (b"tacnode keystore" + struct.pack(">I", 1) + short(b"argon2id") + struct.pack(">III", m, t, p)
       + short(salt) + short(b"aes-256-gcm") + nonce + check)
ct = AESGCM(key).encrypt(nonce, signing + device + storage, aad)
doc = {"version": 1,
       "kdf": {"algorithm": "argon2id", "memory_kib": m, "iterations": t, "parallelism": p, "salt": salt.hex()},
       "cipher": {"algorithm": "aes-256-gcm", "nonce": nonce.hex()},
       "passphrase_check": check.hex(), "ciphertext": ct.hex()}
print(json.dumps(doc, separators=(",", ":")))
