#!/usr/bin/env python3
"""Writes a CloudTrail load for scripts/bench-cloudtrail.sh: N records as S3 delivery
objects (`{"Records":[...]}`, compact JSON, 1,000 records an object, named and laid out
as a trail writes them), once plain and once gzip-compressed.

The records are the real recordings in ../shared/fixtures/cloud/aws (TrailDiscover,
Stratus Red Team, OTRF), read at run time and never copied into the repository: each
output record is one of them with a fresh eventID, a rising eventTime and one of 200
principals, so the analytics see many principals, a few bursts and mostly benign calls.
Deterministic: the same N gives the same bytes.

Usage: gen-cloudtrail-load.py N OUT-PLAIN-DIR OUT-GZ-DIR
"""
import datetime
import glob
import gzip
import json
import os
import sys
import uuid

PER_OBJECT = 1000
PRINCIPALS = 200
ACCOUNT = "111122223333"
REGION = "us-east-1"


def templates(root):
    out = []
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json*"), recursive=True)):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            recs = doc["Records"]
        elif isinstance(doc, list):
            recs = doc
        else:
            recs = [doc]
        out.extend(r for r in recs if isinstance(r, dict) and "eventName" in r)
    return out


def main():
    n, plain_dir, gz_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..", "..", "shared", "fixtures", "cloud", "aws")
    recs = templates(root)
    if not recs:
        sys.exit(f"no CloudTrail records under {root}")
    start = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
    for obj in range((n + PER_OBJECT - 1) // PER_OBJECT):
        batch = []
        for i in range(obj * PER_OBJECT, min(n, (obj + 1) * PER_OBJECT)):
            r = dict(recs[i % len(recs)])
            t = start + datetime.timedelta(milliseconds=20 * i)
            r["eventTime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            r.pop("@timestamp", None)
            r["eventID"] = str(uuid.UUID(int=i + 1))
            ident = dict(r.get("userIdentity") or {})
            p = (i * 7919) % PRINCIPALS
            ident["type"] = "IAMUser"
            ident["arn"] = f"arn:aws:iam::{ACCOUNT}:user/bench-{p}"
            ident["userName"] = f"bench-{p}"
            ident["accountId"] = ACCOUNT
            r["userIdentity"] = ident
            r["recipientAccountId"] = ACCOUNT
            batch.append(r)
        t = start + datetime.timedelta(milliseconds=20 * obj * PER_OBJECT)
        rel = os.path.join(
            "AWSLogs", ACCOUNT, "CloudTrail", REGION, t.strftime("%Y/%m/%d"),
            f"{ACCOUNT}_CloudTrail_{REGION}_{t.strftime('%Y%m%dT%H%MZ')}_{obj:08x}.json",
        )
        body = json.dumps({"Records": batch}, separators=(",", ":")).encode()
        for d, data, ext in ((plain_dir, body, ""), (gz_dir, None, ".gz")):
            path = os.path.join(d, rel + ext)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data if data is not None else gzip.compress(body, 6, mtime=0))


if __name__ == "__main__":
    main()
