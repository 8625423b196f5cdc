"""Writes a fresh service-account key file (a new 2048-bit RSA key) for the signing tests."""
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
json.dump(
    {
        "type": "service_account",
        "project_id": "rexstore-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "signer@rexstore-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    },
    open(sys.argv[1], "w"),
)
