#include "msk/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace feed_ingest::msk {
namespace {

constexpr absl::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr absl::string_view kHexDigits = "0123456789abcdef";

// Left out of the signature, as botocore and aws-c-auth do: the signature's
// own header, and headers that clients and proxies add or rewrite on the way.
constexpr std::array<absl::string_view, 4> kUnsignedHeaders = {"authorization", "expect",
                                                               "user-agent", "x-amzn-trace-id"};

// Headers the signer adds itself: a request that already has them was signed.
constexpr std::array<absl::string_view, 4> kSigningHeaders = {
    "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"};

// Query parameters the signer adds itself.
constexpr std::array<absl::string_view, 7> kSigningQueryParams = {
    "x-amz-algorithm",     "x-amz-credential", "x-amz-date",          "x-amz-expires",
    "x-amz-signedheaders", "x-amz-signature",  "x-amz-security-token"};

constexpr absl::Duration kMaxExpires = absl::Hours(24 * 7);

std::string Hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHexDigits[data[i] >> 4]);
    out.push_back(kHexDigits[data[i] & 0xf]);
  }
  return out;
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &out_size);
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX; a '%' not followed by two hex digits stays as it is. '+' is a
// plus sign, not a space: SigV4 is not form encoding.
std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// RFC 3986 dot-segment removal plus collapsing of empty segments, as the AWS
// signers normalize paths for every service but S3.
std::string CanonicalPath(absl::string_view path, bool normalize) {
  if (path.empty()) return "/";
  if (!normalize) return AwsUriEncode(path, /*keep_slash=*/true);
  std::vector<absl::string_view> kept;
  std::vector<absl::string_view> segments = absl::StrSplit(path, '/');
  const absl::string_view last = segments.back();
  const bool trailing_slash = last.empty() || last == "." || last == "..";
  for (absl::string_view segment : segments) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string out = "/";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += AwsUriEncode(kept[i]);
  }
  if (trailing_slash && !kept.empty()) out.push_back('/');
  return out;
}

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits a raw query into its parameters, each decoded then encoded the AWS
// way, so "%E1%88%B4" and the raw UTF-8 bytes give the same canonical key.
QueryParams ParseQuery(absl::string_view query) {
  QueryParams params;
  for (absl::string_view item : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    params.emplace_back(AwsUriEncode(PercentDecode(kv.first)),
                        AwsUriEncode(PercentDecode(kv.second)));
  }
  return params;
}

std::string CanonicalQuery(QueryParams params) {
  std::sort(params.begin(), params.end());
  return absl::StrJoin(params, "&", absl::PairFormatter("="));
}

// Trims the value and collapses every run of whitespace (folded lines
// included) to one space.
std::string CanonicalHeaderValue(absl::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool Contains(absl::Span<const absl::string_view> set, absl::string_view lowercase_name) {
  return std::find(set.begin(), set.end(), lowercase_name) != set.end();
}

struct CanonicalHeaders {
  std::string block;           // "name:value\n" per header, sorted by name.
  std::string signed_headers;  // "host;x-amz-date"
};

CanonicalHeaders Canonicalize(const std::vector<HttpHeader>& headers) {
  // Stable order of names; the values of a repeated name are joined with ','
  // in the order sent.
  std::vector<std::pair<std::string, std::string>> merged;
  for (const HttpHeader& header : headers) {
    std::string name = absl::AsciiStrToLower(header.name);
    if (Contains(kUnsignedHeaders, name)) continue;
    std::string value = CanonicalHeaderValue(header.value);
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const auto& entry) { return entry.first == name; });
    if (it == merged.end()) {
      merged.emplace_back(std::move(name), std::move(value));
    } else {
      absl::StrAppend(&it->second, ",", value);
    }
  }
  std::stable_sort(merged.begin(), merged.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    absl::StrAppend(&out.block, name, ":", value, "\n");
    if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
    out.signed_headers += name;
  }
  return out;
}

absl::Status Validate(const SigV4Request& request, const AwsCredentials& credentials,
                      const SigV4Options& options) {
  if (credentials.access_key_id.empty()) {
    return absl::InvalidArgumentError("SigV4: the credentials have no access key id");
  }
  if (credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError("SigV4: the credentials have no secret access key");
  }
  if (options.region.empty()) return absl::InvalidArgumentError("SigV4: no region");
  if (options.service.empty()) return absl::InvalidArgumentError("SigV4: no service");
  if (request.method.empty()) return absl::InvalidArgumentError("SigV4: the request has no method");
  bool has_host = false;
  for (const HttpHeader& header : request.headers) {
    const std::string name = absl::AsciiStrToLower(header.name);
    if (name == "host") has_host = true;
    if (Contains(kSigningHeaders, name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SigV4: the request already has a ", header.name, " header"));
    }
  }
  if (!has_host) return absl::InvalidArgumentError("SigV4: the request has no Host header");
  return absl::OkStatus();
}

// The parts every signature shares.
struct Scope {
  std::string amz_date;    // 20150830T123600Z
  std::string credential;  // AKID/20150830/us-east-1/service/aws4_request
  std::string scope;       // 20150830/us-east-1/service/aws4_request
  std::string signing_key;
};

Scope MakeScope(const AwsCredentials& credentials, const SigV4Options& options) {
  const absl::Time whole_seconds = absl::FromUnixSeconds(absl::ToUnixSeconds(options.time));
  Scope s;
  s.amz_date = absl::FormatTime("%Y%m%dT%H%M%SZ", whole_seconds, absl::UTCTimeZone());
  const std::string date = s.amz_date.substr(0, 8);
  s.scope = absl::StrCat(date, "/", options.region, "/", options.service, "/aws4_request");
  s.credential = absl::StrCat(credentials.access_key_id, "/", s.scope);
  std::string key = HmacSha256(absl::StrCat("AWS4", credentials.secret_access_key), date);
  key = HmacSha256(key, options.region);
  key = HmacSha256(key, options.service);
  s.signing_key = HmacSha256(key, "aws4_request");
  return s;
}

// Fills canonical_request, string_to_sign and signature.
void Sign(const Scope& scope, std::string canonical_request, SigV4Result* result) {
  result->string_to_sign = absl::StrCat(kAlgorithm, "\n", scope.amz_date, "\n", scope.scope, "\n",
                                        Sha256Hex(canonical_request));
  const std::string mac = HmacSha256(scope.signing_key, result->string_to_sign);
  result->signature = Hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  result->canonical_request = std::move(canonical_request);
}

}  // namespace

std::string AwsUriEncode(absl::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      const unsigned char byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(absl::ascii_toupper(kHexDigits[byte >> 4]));
      out.push_back(absl::ascii_toupper(kHexDigits[byte & 0xf]));
    }
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof(digest));
}

absl::StatusOr<SigV4Result> SignWithHeader(const SigV4Request& request,
                                           const AwsCredentials& credentials,
                                           const SigV4Options& options) {
  if (absl::Status status = Validate(request, credentials, options); !status.ok()) return status;
  const Scope scope = MakeScope(credentials, options);
  const std::string payload_hash = Sha256Hex(request.payload);

  SigV4Result result;
  if (!credentials.session_token.empty()) {
    result.added.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  result.added.emplace_back("X-Amz-Date", scope.amz_date);
  if (options.add_content_sha256_header) {
    result.added.emplace_back("x-amz-content-sha256", payload_hash);
  }

  std::vector<HttpHeader> to_sign = request.headers;
  for (const auto& [name, value] : result.added) {
    if (options.omit_session_token && name == "X-Amz-Security-Token") continue;
    to_sign.push_back(HttpHeader{name, value});
  }
  const CanonicalHeaders headers = Canonicalize(to_sign);
  Sign(scope,
       absl::StrCat(request.method, "\n", CanonicalPath(request.path, options.normalize_path), "\n",
                    CanonicalQuery(ParseQuery(request.query)), "\n", headers.block, "\n",
                    headers.signed_headers, "\n", payload_hash),
       &result);

  result.added.emplace_back(
      "Authorization",
      absl::StrCat(kAlgorithm, " Credential=", scope.credential,
                   ", SignedHeaders=", headers.signed_headers, ", Signature=", result.signature));
  result.signed_request = request;
  for (const auto& [name, value] : result.added) {
    result.signed_request.headers.push_back(HttpHeader{name, value});
  }
  return result;
}

absl::StatusOr<SigV4Result> SignWithQuery(const SigV4Request& request,
                                          const AwsCredentials& credentials,
                                          const SigV4Options& options) {
  if (absl::Status status = Validate(request, credentials, options); !status.ok()) return status;
  if (options.expires < absl::Seconds(1) || options.expires > kMaxExpires) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SigV4: a presigned URL must expire after 1s to ", absl::FormatDuration(kMaxExpires),
        ", not ", absl::FormatDuration(options.expires)));
  }
  QueryParams params = ParseQuery(request.query);
  for (const auto& [key, value] : params) {
    if (Contains(kSigningQueryParams, absl::AsciiStrToLower(key))) {
      return absl::InvalidArgumentError(
          absl::StrCat("SigV4: the query already has a ", key, " parameter"));
    }
  }
  const Scope scope = MakeScope(credentials, options);
  const CanonicalHeaders headers = Canonicalize(request.headers);

  SigV4Result result;
  result.added = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", scope.credential},
      {"X-Amz-Date", scope.amz_date},
      {"X-Amz-SignedHeaders", headers.signed_headers},
      {"X-Amz-Expires", absl::StrCat(absl::ToInt64Seconds(options.expires))},
  };
  if (!credentials.session_token.empty()) {
    result.added.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  for (const auto& [name, value] : result.added) {
    if (options.omit_session_token && name == "X-Amz-Security-Token") continue;
    params.emplace_back(name, AwsUriEncode(value));
  }
  Sign(scope,
       absl::StrCat(request.method, "\n", CanonicalPath(request.path, options.normalize_path), "\n",
                    CanonicalQuery(std::move(params)), "\n", headers.block, "\n",
                    headers.signed_headers, "\n", Sha256Hex(request.payload)),
       &result);
  result.added.emplace_back("X-Amz-Signature", result.signature);

  result.signed_request = request;
  std::string& query = result.signed_request.query;
  for (const auto& [name, value] : result.added) {
    absl::StrAppend(&query, query.empty() ? "" : "&", name, "=", AwsUriEncode(value));
  }
  return result;
}

}  // namespace feed_ingest::msk
