"""The official google-cloud-storage client as a contender in bench/gcs_bench.sh.

usage: python bench/gcs_python_client.py put FILE OBJECT
       python bench/gcs_python_client.py get OBJECT FILE
       python bench/gcs_python_client.py put-dir DIR PREFIX [THREADS]
       python bench/gcs_python_client.py get-dir PREFIX DIR [THREADS]

Talks to $STORAGE_EMULATOR_HOST (anonymous credentials) and the bucket $GCS_BUCKET_NAME, with
the library's defaults: upload_from_filename (multipart up to 8 MiB, resumable above, 100 MiB
chunks) and download_to_filename (one streamed GET, checksum verified). One Client is shared by
all threads, as an application would; THREADS defaults to 1 (a plain loop).
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from google.cloud import storage

verb, a, b = sys.argv[1:4]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
bucket = storage.Client(project="x").bucket(os.environ["GCS_BUCKET_NAME"])


def run(jobs):
    if threads == 1:
        for job in jobs:
            job()
    else:
        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(job) for job in jobs]:
                f.result()  # re-raise any failure


if verb == "put":
    bucket.blob(b).upload_from_filename(a)
elif verb == "get":
    bucket.blob(a).download_to_filename(b)
elif verb == "put-dir":
    run([lambda n=n: bucket.blob(f"{b}/{n}").upload_from_filename(os.path.join(a, n))
         for n in sorted(os.listdir(a))])
elif verb == "get-dir":
    os.makedirs(b, exist_ok=True)
    names = [blob.name for blob in bucket.list_blobs(prefix=a + "/")]
    run([lambda n=n: bucket.blob(n).download_to_filename(os.path.join(b, os.path.basename(n)))
         for n in names])
else:
    sys.exit(f"unknown verb {verb}")
