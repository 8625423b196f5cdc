"""boto3 as a contender in bench/s3_bench.sh.

usage: python bench/s3_boto3_client.py put FILE KEY
       python bench/s3_boto3_client.py get KEY FILE
       python bench/s3_boto3_client.py put-dir DIR PREFIX [THREADS]
       python bench/s3_boto3_client.py get-dir PREFIX DIR [THREADS]

Talks to $AWS_ENDPOINT_URL and the bucket $S3_BUCKET_NAME with the library's defaults: upload_file
and download_file (s3transfer: multipart above 8 MiB in 8 MiB parts, 10 threads per transfer, the
default request checksum). One client is shared by all threads, as an application would.
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3

verb, a, b = sys.argv[1:4]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
bucket = os.environ["S3_BUCKET_NAME"]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def run(jobs):
    if threads == 1:
        for job in jobs:
            job()
    else:
        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(job) for job in jobs]:
                f.result()


if verb == "put":
    s3.upload_file(a, bucket, b)
elif verb == "get":
    s3.download_file(bucket, a, b)
elif verb == "put-dir":
    run([lambda n=n: s3.upload_file(os.path.join(a, n), bucket, f"{b}/{n}") for n in sorted(os.listdir(a))])
elif verb == "get-dir":
    os.makedirs(b, exist_ok=True)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=a + "/")
            for o in page.get("Contents", [])]
    run([lambda k=k: s3.download_file(bucket, k, os.path.join(b, os.path.basename(k))) for k in keys])
else:
    sys.exit(f"unknown verb {verb}")
