"""Reference presigned S3 URLs from botocore's generate_presigned_url, for the differential test.

usage: s3_presign_reference.py < cases.json > urls.json
Each case: {bucket, key, method, expires, at (YYYYMMDDTHHMMSSZ), region, style (path|virtual),
endpoint or null, token or null, headers {}, query [[k, v]...]}. Credentials come from the
environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). The clock is pinned by replacing
botocore.auth.get_current_datetime, the one function the SigV4 signers ask for the time.
Extra headers and query parameters are added by a before-sign handler, on the request botocore signs.
"""
import datetime
import json
import os
import sys
from urllib.parse import quote

import botocore.auth
import botocore.session
from botocore.config import Config

OPS = {"GET": "get_object", "PUT": "put_object", "DELETE": "delete_object", "HEAD": "head_object"}

session = botocore.session.get_session()
urls = []
for case in json.load(sys.stdin):
    pinned = datetime.datetime.strptime(case["at"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda remove_tzinfo=True, pinned=pinned: pinned
    client = session.create_client(
        "s3",
        region_name=case["region"],
        endpoint_url=case["endpoint"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=case["token"],
        config=Config(signature_version="s3v4", s3={"addressing_style": case["style"]}),
    )

    def add(request, case=case, **kwargs):
        for name, value in case["headers"].items():
            request.headers[name] = value
        if case["query"]:
            extra = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in case["query"])
            request.url += ("&" if "?" in request.url else "?") + extra

    client.meta.events.register("before-sign.s3", add)
    urls.append(
        client.generate_presigned_url(
            OPS[case["method"]], Params={"Bucket": case["bucket"], "Key": case["key"]}, ExpiresIn=case["expires"],
            HttpMethod=case["method"],
        )
    )
json.dump(urls, sys.stdout)
