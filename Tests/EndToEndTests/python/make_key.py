"""Writes a fresh service-account key file (a new 2048-bit RSA key) for the signing and auth tests.

usage: make_key.py KEY_JSON [TOKEN_URI [PEM_OUT]]
TOKEN_URI goes into the key's token_uri (the stub's /token in auth tests); PEM_OUT receives the
private key alone, for the stub's --verify-key.
"""
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
token_uri = sys.argv[2] if len(sys.argv) > 2 else "https://oauth2.googleapis.com/token"
json.dump(
    {
        "type": "service_account",
        "project_id": "rexstore-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "signer@rexstore-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    },
    open(sys.argv[1], "w"),
)
if len(sys.argv) > 3:
    open(sys.argv[3], "w").write(pem)
