// AWS Signature Version 4: signs an HTTP request with an Authorization header
// (SignWithHeader) or presigns it as a URL (SignWithQuery).
//
// Checked byte for byte against the aws-c-auth signing test suite (every
// canonical request, string to sign, signature and signed request of
// shared/testdata/aws-sigv4) and, through the MSK token, against botocore.
#ifndef FEED_INGEST_SERVER_MSK_SIGV4_H_
#define FEED_INGEST_SERVER_MSK_SIGV4_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "msk/aws_credentials.h"

namespace feed_ingest::msk {

struct HttpHeader {
  std::string name;   // As sent; compared without regard to case.
  std::string value;  // As sent; may hold folded lines ("a\n  b").
};

// An HTTP request as it goes on the wire.
struct SigV4Request {
  std::string method;  // "GET"
  // Raw, as in the request line: "/", "/example space/", "/./a/../b".
  std::string path;
  // Raw, without the '?': "Param2=value2&Param1=value1". Keys and values may
  // be percent-encoded or not; they are decoded, then encoded the AWS way.
  std::string query;
  // In the order sent; names may repeat. Must include Host.
  std::vector<HttpHeader> headers;
  std::string payload;
};

struct SigV4Options {
  std::string region;   // "us-east-1"
  std::string service;  // "kafka-cluster"
  absl::Time time;      // Signing time; only whole seconds are used.
  // Remove "." and ".." segments and empty segments from the path before
  // signing: right for every service but S3.
  bool normalize_path = true;
  // Sign without the session token and add it afterwards (some services want
  // the X-Amz-Security-Token out of the signature; most, MSK included, want it
  // in).
  bool omit_session_token = false;
  // Header signing only: add an x-amz-content-sha256 header and sign it.
  bool add_content_sha256_header = false;
  // Query signing only: how long the presigned URL is valid, 1 s to 7 days.
  absl::Duration expires = absl::Hours(1);
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // 64 lowercase hex digits.
  // What was added to the request, in order: headers for header signing
  // (X-Amz-Security-Token, X-Amz-Date, x-amz-content-sha256, Authorization),
  // query parameters for query signing (X-Amz-Algorithm, X-Amz-Credential,
  // X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Expires, X-Amz-Security-Token,
  // X-Amz-Signature), values not percent-encoded.
  std::vector<std::pair<std::string, std::string>> added;
  // The request to send: the input with `added` appended to its headers or,
  // percent-encoded, to its query.
  SigV4Request signed_request;
};

// Signs `request` with an Authorization header.
//
//   SigV4Options options;
//   options.region = "us-east-1";
//   options.service = "sts";
//   options.time = absl::Now();
//   absl::StatusOr<SigV4Result> signed_request = SignWithHeader(request, credentials, options);
//
// INVALID_ARGUMENT when the request has no Host header, already carries
// signing headers, or the credentials, region or service are empty. Pure
// function: thread-safe.
absl::StatusOr<SigV4Result> SignWithHeader(const SigV4Request& request,
                                           const AwsCredentials& credentials,
                                           const SigV4Options& options);

// Presigns `request`: the signature goes into the query (X-Amz-Signature), valid
// for options.expires. Same errors as SignWithHeader, and INVALID_ARGUMENT for
// an expiry out of range or a query that already carries X-Amz-* signing
// parameters. Pure function: thread-safe.
absl::StatusOr<SigV4Result> SignWithQuery(const SigV4Request& request,
                                          const AwsCredentials& credentials,
                                          const SigV4Options& options);

// Percent-encodes every byte but the unreserved A-Z a-z 0-9 - . _ ~ (and '/'
// when keep_slash), uppercase hex: the encoding SigV4 canonical forms use.
std::string AwsUriEncode(absl::string_view text, bool keep_slash = false);

// Lowercase hex of SHA-256(data).
std::string Sha256Hex(absl::string_view data);

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_SIGV4_H_
