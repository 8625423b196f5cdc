"""Reference V4 signed URLs from google-cloud-storage, for the differential signing test.

usage: sign_reference.py KEYFILE < cases.json > urls.json
Each case: {bucket, object, method, expires, at (YYYYMMDDTHHMMSSZ), headers {}, query {},
content_type, style (path|virtual|bucket-bound), host, scheme}. The signer's clock is pinned to `at`
by replacing _signing.get_v4_now_dtstamps, so the public Blob.generate_signed_url path is used as is.
"""
import json
import sys
from datetime import timedelta

from google.cloud import storage
from google.cloud.storage import _signing
from google.oauth2 import service_account

credentials = service_account.Credentials.from_service_account_file(sys.argv[1])
client = storage.Client(project="rexstore-test", credentials=credentials)
urls = []
for case in json.load(sys.stdin):
    at = case["at"]
    _signing.get_v4_now_dtstamps = lambda at=at: (at, at[:8])
    bucket = client.bucket(case["bucket"])
    # An empty object name signs the bucket itself (a listing), through Bucket.generate_signed_url.
    blob = bucket.blob(case["object"]) if case["object"] else bucket
    kwargs = dict(
        version="v4",
        expiration=timedelta(seconds=case["expires"]),
        method="RESUMABLE" if case["method"] == "POST" else case["method"],
        headers=case["headers"] or None,
        query_parameters=case["query"] or None,
    )
    if case["content_type"] is not None:
        kwargs["content_type"] = case["content_type"]
    if case["style"] == "virtual":
        kwargs["virtual_hosted_style"] = True
    elif case["style"] == "bucket-bound":
        kwargs["bucket_bound_hostname"] = case["host"]
        kwargs["scheme"] = case["scheme"]
    elif case["host"]:
        kwargs["api_access_endpoint"] = f'{case["scheme"]}://{case["host"]}'
    urls.append(blob.generate_signed_url(**kwargs))
json.dump(urls, sys.stdout)
