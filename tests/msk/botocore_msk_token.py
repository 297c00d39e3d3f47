#!/usr/bin/env python3
"""Prints the MSK IAM token that aws-msk-iam-sasl-signer-python makes, at a fixed time.

An implementation independent of ours, for msk_token_test: botocore's SigV4QueryAuth
signs, and the steps around it are those of the AWS signer's __construct_auth_token
(aws_msk_iam_sasl_signer/MSKAuthTokenProvider.py): an AWSRequest GET on
https://kafka.<region>.amazonaws.com/ with params {"Action": "kafka-cluster:Connect"},
SigV4QueryAuth(credentials, "kafka-cluster", region, expires=900).add_auth(request),
then params {"User-Agent": ...} added by request.prepare(), and the URL base64url-encoded
without padding. --host replaces the AWS signer's fixed amazonaws.com host (for China).

Needs botocore: Debian's python3-botocore.
"""

import argparse
import base64
import datetime
import sys
from unittest import mock

try:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:
    sys.exit(f"botocore is missing ({error}): apt-get install python3-botocore")


def frozen_datetime(fixed_utc):
    """A datetime class whose clock reads fixed_utc (naive, UTC)."""

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed_utc

        @classmethod
        def now(cls, tz=None):
            aware = fixed_utc.replace(tzinfo=datetime.timezone.utc)
            return aware.astimezone(tz) if tz is not None else aware.astimezone().replace(tzinfo=None)

    return FrozenDatetime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--host", help="default: kafka.<region>.amazonaws.com")
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-access-key", required=True)
    parser.add_argument("--session-token")
    parser.add_argument("--time", required=True, help="signing time in UTC: 2015-08-30T12:36:00Z")
    parser.add_argument("--user-agent", required=True)
    args = parser.parse_args()

    fixed = datetime.datetime.strptime(args.time, "%Y-%m-%dT%H:%M:%SZ")
    host = args.host or f"kafka.{args.region}.amazonaws.com"
    credentials = Credentials(args.access_key_id, args.secret_access_key, args.session_token)
    request = AWSRequest(method="GET", url=f"https://{host}/",
                         params={"Action": "kafka-cluster:Connect"})
    # botocore reads the clock through datetime.datetime (utcnow() in older
    # releases, now(timezone.utc) in newer ones): freeze both.
    with mock.patch.object(datetime, "datetime", frozen_datetime(fixed)):
        SigV4QueryAuth(credentials, "kafka-cluster", args.region, expires=900).add_auth(request)
    if f"X-Amz-Date={fixed:%Y%m%dT%H%M%SZ}" not in request.url:
        sys.exit(f"the signing time was not frozen: {request.url}")
    request.params = {"User-Agent": args.user_agent}
    signed_url = request.prepare().url
    print(base64.urlsafe_b64encode(signed_url.encode("utf-8")).decode("utf-8").rstrip("="))


if __name__ == "__main__":
    main()
