#include "msk/credential_providers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "msk/aws_region.h"
#include "msk/http_fetch.h"
#include "msk/json_object.h"
#include "msk/sigv4.h"

namespace feed_ingest::msk {
namespace {

constexpr absl::string_view kEnvironment = "environment: ";
constexpr absl::string_view kProfile = "shared credentials file: ";
constexpr absl::string_view kWebIdentity = "web identity: ";
constexpr absl::string_view kContainer = "container credentials: ";
constexpr absl::string_view kInstanceMetadata = "EC2 instance metadata: ";

constexpr size_t kMaxFileBytes = 1 << 20;

// Empty counts as unset, as in the AWS SDKs.
std::optional<std::string> Env(const CredentialSourceOptions& options, const std::string& name) {
  std::optional<std::string> value = options.env(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

const Clock& ClockOf(const CredentialSourceOptions& options) {
  return options.clock != nullptr ? *options.clock : Clock::Real();
}

// NOT_FOUND when the file does not exist; FAILED_PRECONDITION when it cannot
// be read. The message names the file, never its content.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(error)));
  }
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read ", path, ": ", std::strerror(error)));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxFileBytes) {
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read ", path, ": larger than ", kMaxFileBytes, " bytes"));
    }
  }
  close(fd);
  return content;
}

absl::Status WithPrefix(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// An HTTP answer that is not 200. Server trouble and throttling are worth a
// retry; anything else needs the configuration fixed.
absl::Status HttpStatusError(absl::string_view prefix, absl::string_view what, int status,
                             absl::string_view detail = "") {
  std::string message = absl::StrCat(prefix, what, " returned HTTP ", status);
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  if (status >= 500 || status == 429) return absl::UnavailableError(message);
  return absl::FailedPreconditionError(message);
}

absl::StatusOr<absl::Time> ParseExpiration(absl::string_view prefix, absl::string_view what,
                                           const std::string& text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::UnavailableError(absl::StrCat(prefix, what, " answered an Expiration \"", text,
                                               "\" that is not an RFC 3339 time"));
  }
  return time;
}

// {AccessKeyId, SecretAccessKey, Token, Expiration}, as the container and
// instance metadata endpoints answer.
absl::StatusOr<AwsCredentials> CredentialsFromJson(absl::string_view prefix, absl::string_view what,
                                                   absl::string_view body) {
  absl::StatusOr<std::map<std::string, std::string>> fields = internal::ParseJsonObject(body);
  if (!fields.ok()) {
    return absl::UnavailableError(
        absl::StrCat(prefix, what, " answered something unreadable: ", fields.status().message()));
  }
  if (auto code = fields->find("Code"); code != fields->end() && code->second != "Success") {
    return absl::UnavailableError(
        absl::StrCat(prefix, what, " answered Code \"", code->second, "\""));
  }
  AwsCredentials credentials;
  for (auto [name, field] : {std::pair{"AccessKeyId", &credentials.access_key_id},
                             std::pair{"SecretAccessKey", &credentials.secret_access_key},
                             std::pair{"Token", &credentials.session_token}}) {
    if (auto it = fields->find(name); it != fields->end()) *field = it->second;
  }
  if (credentials.access_key_id.empty()) {
    return absl::UnavailableError(absl::StrCat(prefix, what, " answered no AccessKeyId"));
  }
  if (credentials.secret_access_key.empty()) {
    return absl::UnavailableError(absl::StrCat(prefix, what, " answered no SecretAccessKey"));
  }
  if (auto it = fields->find("Expiration"); it != fields->end()) {
    absl::StatusOr<absl::Time> expiration = ParseExpiration(prefix, what, it->second);
    if (!expiration.ok()) return expiration.status();
    credentials.expiration = *expiration;
  }
  return credentials;
}

// --- Shared credentials file ------------------------------------------------

using IniFile = std::map<std::string, std::map<std::string, std::string>>;

// The subset of INI that the AWS CLI writes: [section], key = value, comments
// starting with # or ;. Indented lines continue a nested value (as in the
// config file's "s3 =" blocks) and are skipped. Errors give the line number,
// never the line: it may hold a key.
absl::StatusOr<IniFile> ParseIni(absl::string_view content, absl::string_view path) {
  IniFile ini;
  std::map<std::string, std::string>* section = nullptr;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    if (line_number == 1) absl::ConsumePrefix(&line, "\xEF\xBB\xBF");  // UTF-8 BOM
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#' || trimmed[0] == ';') continue;
    if (absl::ascii_isspace(static_cast<unsigned char>(line[0]))) continue;
    if (trimmed[0] == '[') {
      if (trimmed.back() != ']') {
        return absl::FailedPreconditionError(
            absl::StrCat(kProfile, path, " line ", line_number, ": a section header without ']'"));
      }
      const std::string name(absl::StripAsciiWhitespace(trimmed.substr(1, trimmed.size() - 2)));
      section = &ini[name];
      continue;
    }
    const size_t equals = trimmed.find('=');
    if (equals == absl::string_view::npos) {
      return absl::FailedPreconditionError(absl::StrCat(kProfile, path, " line ", line_number,
                                                        ": expected [section] or key = value"));
    }
    if (section == nullptr) continue;  // Keys before any section belong to none.
    (*section)[absl::AsciiStrToLower(absl::StripAsciiWhitespace(trimmed.substr(0, equals)))] =
        std::string(absl::StripAsciiWhitespace(trimmed.substr(equals + 1)));
  }
  return ini;
}

// --- STS ---------------------------------------------------------------------

std::string XmlUnescape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t amp = text.find('&');
    absl::StrAppend(&out, text.substr(0, amp));
    if (amp == absl::string_view::npos) break;
    text.remove_prefix(amp);
    const size_t semicolon = text.find(';');
    const absl::string_view entity =
        semicolon == absl::string_view::npos ? absl::string_view() : text.substr(1, semicolon - 1);
    std::optional<char> decoded;
    if (entity == "amp") decoded = '&';
    if (entity == "lt") decoded = '<';
    if (entity == "gt") decoded = '>';
    if (entity == "quot") decoded = '"';
    if (entity == "apos") decoded = '\'';
    uint32_t code = 0;
    if (absl::StartsWith(entity, "#x") && absl::SimpleHexAtoi(entity.substr(2), &code) &&
        code < 0x80) {
      decoded = static_cast<char>(code);
    } else if (absl::StartsWith(entity, "#") && absl::SimpleAtoi(entity.substr(1), &code) &&
               code < 0x80) {
      decoded = static_cast<char>(code);
    }
    if (decoded.has_value()) {
      out.push_back(*decoded);
      text.remove_prefix(semicolon + 1);
    } else {
      out.push_back('&');
      text.remove_prefix(1);
    }
  }
  return out;
}

// The raw content of the first <tag>...</tag> in `xml`.
std::optional<absl::string_view> XmlRawElement(absl::string_view xml, absl::string_view tag) {
  const std::string open = absl::StrCat("<", tag, ">");
  const std::string close = absl::StrCat("</", tag, ">");
  const size_t start = xml.find(open);
  if (start == absl::string_view::npos) return std::nullopt;
  const size_t end = xml.find(close, start + open.size());
  if (end == absl::string_view::npos) return std::nullopt;
  return xml.substr(start + open.size(), end - start - open.size());
}

// The text of the first <tag>...</tag> in `xml`, unescaped.
std::optional<std::string> XmlElement(absl::string_view xml, absl::string_view tag) {
  std::optional<absl::string_view> raw = XmlRawElement(xml, tag);
  if (!raw.has_value()) return std::nullopt;
  return XmlUnescape(*raw);
}

std::string StsEndpoint(const CredentialSourceOptions& options) {
  if (std::optional<std::string> url = Env(options, "AWS_ENDPOINT_URL_STS")) {
    // A bare host ("https://sts.example") gets the root path.
    const size_t authority = url->find("://") + 3;
    if (url->find('/', authority) == std::string::npos) url->push_back('/');
    return *url;
  }
  const std::optional<std::string> region = AwsRegionFromEnvironment(options.env);
  if (region.has_value() && IsAwsRegionName(*region)) {
    return absl::StrCat("https://sts.", *region, ".", AwsDnsSuffix(*region), "/");
  }
  return "https://sts.amazonaws.com/";
}

// --- Container credentials ---------------------------------------------------

// https anywhere; plain http only to this host or the ECS / EKS Pod Identity
// agents, where the credentials do not cross a network.
bool IsAllowedContainerUri(absl::string_view uri) {
  if (absl::StartsWithIgnoreCase(uri, "https://")) return true;
  if (!absl::StartsWithIgnoreCase(uri, "http://")) return false;
  absl::string_view authority = uri.substr(7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  absl::string_view host;
  if (absl::StartsWith(authority, "[")) {
    host = authority.substr(0, authority.find(']') + 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  const std::string h = absl::AsciiStrToLower(host);
  if (h == "localhost" || h == "[::1]" || h == "169.254.170.2" || h == "169.254.170.23" ||
      h == "[fd00:ec2::23]") {
    return true;
  }
  // 127.0.0.0/8
  std::vector<absl::string_view> octets = absl::StrSplit(h, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view octet : octets) {
    int value;
    if (!absl::SimpleAtoi(octet, &value) || value < 0 || value > 255) return false;
  }
  return true;
}

// IAM names: letters, digits and +=,.@_- only, so a role name goes into a
// URL path as it is.
bool IsIamName(absl::string_view name) {
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && !absl::StrContains("+=,.@_-", c)) {
      return false;
    }
  }
  return !name.empty();
}

}  // namespace

// --- EnvironmentCredentialsProvider -----------------------------------------

EnvironmentCredentialsProvider::EnvironmentCredentialsProvider(CredentialSourceOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<AwsCredentials> EnvironmentCredentialsProvider::Get() {
  std::optional<std::string> key_id = Env(options_, "AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = Env(options_, "AWS_SECRET_ACCESS_KEY");
  if (!key_id.has_value() && !secret.has_value()) {
    return absl::NotFoundError(absl::StrCat(kEnvironment, "AWS_ACCESS_KEY_ID is not set"));
  }
  if (!secret.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kEnvironment, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
  }
  if (!key_id.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kEnvironment, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
  }
  AwsCredentials credentials;
  credentials.access_key_id = std::move(*key_id);
  credentials.secret_access_key = std::move(*secret);
  credentials.session_token = Env(options_, "AWS_SESSION_TOKEN").value_or("");
  return credentials;
}

// --- ProfileCredentialsProvider ---------------------------------------------

ProfileCredentialsProvider::ProfileCredentialsProvider(CredentialSourceOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<AwsCredentials> ProfileCredentialsProvider::Get() {
  const std::optional<std::string> chosen_profile = Env(options_, "AWS_PROFILE");
  const std::string profile = chosen_profile.value_or("default");
  // Not there: the chain may go on, unless the operator named the profile.
  auto missing = [&](std::string message) {
    message = absl::StrCat(kProfile, message);
    return chosen_profile.has_value() ? absl::FailedPreconditionError(message)
                                      : absl::NotFoundError(message);
  };

  const std::optional<std::string> home = Env(options_, "HOME");
  std::string path;
  if (std::optional<std::string> file = Env(options_, "AWS_SHARED_CREDENTIALS_FILE")) {
    path = std::move(*file);
    if (absl::StartsWith(path, "~/")) {
      if (!home.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            kProfile, "AWS_SHARED_CREDENTIALS_FILE starts with ~/ but HOME is not set"));
      }
      path = absl::StrCat(*home, path.substr(1));
    }
  } else if (home.has_value()) {
    path = absl::StrCat(*home, "/.aws/credentials");
  } else {
    return missing("neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set");
  }

  absl::StatusOr<std::string> content = ReadSmallFile(path);
  if (absl::IsNotFound(content.status())) return missing(std::string(content.status().message()));
  if (!content.ok()) return WithPrefix(kProfile, content.status());
  absl::StatusOr<IniFile> ini = ParseIni(*content, path);
  if (!ini.ok()) return ini.status();

  const auto section = ini->find(profile);
  if (section == ini->end()) {
    return missing(absl::StrCat("profile \"", profile, "\" is not in ", path));
  }
  const std::map<std::string, std::string>& keys = section->second;
  auto value = [&](const char* key) -> std::string {
    auto it = keys.find(key);
    return it == keys.end() ? "" : it->second;
  };
  AwsCredentials credentials;
  credentials.access_key_id = value("aws_access_key_id");
  credentials.secret_access_key = value("aws_secret_access_key");
  credentials.session_token = value("aws_session_token");
  if (credentials.session_token.empty()) credentials.session_token = value("aws_security_token");
  const std::string where = absl::StrCat("profile \"", profile, "\" in ", path);
  if (credentials.access_key_id.empty() && credentials.secret_access_key.empty()) {
    return missing(absl::StrCat(where, " has no aws_access_key_id"));
  }
  if (credentials.secret_access_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kProfile, where, " has aws_access_key_id but no aws_secret_access_key"));
  }
  if (credentials.access_key_id.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kProfile, where, " has aws_secret_access_key but no aws_access_key_id"));
  }
  return credentials;
}

// --- WebIdentityCredentialsProvider -----------------------------------------

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(CredentialSourceOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<AwsCredentials> WebIdentityCredentialsProvider::Get() {
  const std::optional<std::string> token_file = Env(options_, "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!token_file.has_value()) {
    return absl::NotFoundError(
        absl::StrCat(kWebIdentity, "AWS_WEB_IDENTITY_TOKEN_FILE is not set"));
  }
  const std::optional<std::string> role_arn = Env(options_, "AWS_ROLE_ARN");
  if (!role_arn.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kWebIdentity, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"));
  }
  if (std::optional<std::string> url = Env(options_, "AWS_ENDPOINT_URL_STS");
      url.has_value() && !absl::StartsWith(*url, "https://") &&
      !absl::StartsWith(*url, "http://")) {
    return absl::FailedPreconditionError(
        absl::StrCat(kWebIdentity, "AWS_ENDPOINT_URL_STS ", *url, " is not an http(s) URL"));
  }
  absl::StatusOr<std::string> token = ReadSmallFile(*token_file);
  if (!token.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kWebIdentity, "AWS_WEB_IDENTITY_TOKEN_FILE: ", token.status().message()));
  }
  const absl::string_view web_identity_token = absl::StripAsciiWhitespace(*token);
  if (web_identity_token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kWebIdentity, "AWS_WEB_IDENTITY_TOKEN_FILE ", *token_file, " is empty"));
  }
  const std::string session_name =
      Env(options_, "AWS_ROLE_SESSION_NAME")
          .value_or(absl::StrCat("feed-ingest-", absl::ToUnixSeconds(ClockOf(options_).Now())));

  internal::HttpRequest request;
  request.method = "POST";
  request.url = StsEndpoint(options_);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Accept", "application/xml"}};
  request.body = absl::StrCat(
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=", AwsUriEncode(*role_arn),
      "&RoleSessionName=", AwsUriEncode(session_name),
      "&WebIdentityToken=", AwsUriEncode(web_identity_token));
  request.connect_timeout = options_.sts_connect_timeout;
  request.timeout = options_.sts_timeout;
  request.use_proxy = true;
  const std::string what = absl::StrCat("STS AssumeRoleWithWebIdentity at ", request.url);

  absl::StatusOr<internal::HttpResponse> response = internal::HttpFetch(request);
  if (!response.ok()) return WithPrefix(kWebIdentity, response.status());
  if (response->status != 200) {
    const std::string code = XmlElement(response->body, "Code").value_or("");
    const std::string message = XmlElement(response->body, "Message").value_or("");
    std::string detail = code;
    if (!message.empty()) absl::StrAppend(&detail, detail.empty() ? "" : ": ", message);
    return HttpStatusError(kWebIdentity, what, response->status, detail);
  }
  const std::optional<absl::string_view> raw_block = XmlRawElement(response->body, "Credentials");
  if (!raw_block.has_value()) {
    return absl::UnavailableError(absl::StrCat(kWebIdentity, what, " answered no Credentials"));
  }
  AwsCredentials credentials;
  credentials.access_key_id = XmlElement(*raw_block, "AccessKeyId").value_or("");
  credentials.secret_access_key = XmlElement(*raw_block, "SecretAccessKey").value_or("");
  credentials.session_token = XmlElement(*raw_block, "SessionToken").value_or("");
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return absl::UnavailableError(
        absl::StrCat(kWebIdentity, what, " answered no AccessKeyId or SecretAccessKey"));
  }
  if (std::optional<std::string> expiration = XmlElement(*raw_block, "Expiration")) {
    absl::StatusOr<absl::Time> time = ParseExpiration(kWebIdentity, what, *expiration);
    if (!time.ok()) return time.status();
    credentials.expiration = *time;
  }
  return credentials;
}

// --- ContainerCredentialsProvider -------------------------------------------

ContainerCredentialsProvider::ContainerCredentialsProvider(CredentialSourceOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<AwsCredentials> ContainerCredentialsProvider::Get() {
  std::string url;
  if (std::optional<std::string> relative =
          Env(options_, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (!absl::StartsWith(*relative, "/")) {
      return absl::FailedPreconditionError(absl::StrCat(
          kContainer, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI does not start with '/'"));
    }
    url = absl::StrCat(options_.container_base_url, *relative);
  } else if (std::optional<std::string> full =
                 Env(options_, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    if (!IsAllowedContainerUri(*full)) {
      return absl::FailedPreconditionError(absl::StrCat(
          kContainer, "AWS_CONTAINER_CREDENTIALS_FULL_URI ", *full,
          " is neither https nor http to a loopback, ECS or EKS Pod Identity address"));
    }
    url = std::move(*full);
  } else {
    return absl::NotFoundError(absl::StrCat(kContainer,
                                            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                                            "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set"));
  }

  internal::HttpRequest request;
  request.url = url;
  std::optional<std::string> authorization;
  if (std::optional<std::string> file = Env(options_, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    absl::StatusOr<std::string> content = ReadSmallFile(*file);
    if (!content.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          kContainer, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ", content.status().message()));
    }
    authorization = std::string(absl::StripAsciiWhitespace(*content));
  } else {
    authorization = Env(options_, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (authorization.has_value()) {
    if (absl::StrContains(*authorization, '\r') || absl::StrContains(*authorization, '\n')) {
      return absl::FailedPreconditionError(
          absl::StrCat(kContainer, "the authorization token has a line break"));
    }
    request.headers.emplace_back("Authorization", *authorization);
  }
  request.connect_timeout = options_.metadata_connect_timeout;
  request.timeout = options_.metadata_timeout;
  const std::string what = absl::StrCat("GET ", url);

  absl::StatusOr<internal::HttpResponse> response = internal::HttpFetch(request);
  if (!response.ok()) return WithPrefix(kContainer, response.status());
  if (response->status != 200) return HttpStatusError(kContainer, what, response->status);
  return CredentialsFromJson(kContainer, what, response->body);
}

// --- InstanceMetadataCredentialsProvider ------------------------------------

InstanceMetadataCredentialsProvider::InstanceMetadataCredentialsProvider(
    CredentialSourceOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<AwsCredentials> InstanceMetadataCredentialsProvider::Get() {
  if (std::optional<std::string> disabled = Env(options_, "AWS_EC2_METADATA_DISABLED");
      disabled.has_value() && absl::EqualsIgnoreCase(*disabled, "true")) {
    return absl::NotFoundError(
        absl::StrCat(kInstanceMetadata, "AWS_EC2_METADATA_DISABLED is true"));
  }
  std::string endpoint;
  if (std::optional<std::string> url = Env(options_, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    endpoint = std::move(*url);
  } else if (absl::EqualsIgnoreCase(
                 Env(options_, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or(""), "IPv6")) {
    endpoint = "http://[fd00:ec2::254]";
  } else {
    endpoint = "http://169.254.169.254";
  }
  while (absl::EndsWith(endpoint, "/")) endpoint.pop_back();

  auto fetch = [&](const char* method, absl::string_view path,
                   std::vector<std::pair<std::string, std::string>> headers) {
    internal::HttpRequest request;
    request.method = method;
    request.url = absl::StrCat(endpoint, path);
    request.headers = std::move(headers);
    request.connect_timeout = options_.metadata_connect_timeout;
    request.timeout = options_.metadata_timeout;
    return internal::HttpFetch(request);
  };

  // IMDSv2 session token. No answer at all means there is no instance
  // metadata service here: not an EC2 instance.
  constexpr absl::string_view kTokenPath = "/latest/api/token";
  absl::StatusOr<internal::HttpResponse> token =
      fetch("PUT", kTokenPath, {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}});
  if (!token.ok()) {
    return absl::NotFoundError(absl::StrCat(kInstanceMetadata, token.status().message()));
  }
  const std::string token_what = absl::StrCat("PUT ", endpoint, kTokenPath);
  if (token->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(kInstanceMetadata, token_what, " returned HTTP ", token->status));
  }
  const std::string session(absl::StripAsciiWhitespace(token->body));
  if (session.empty()) {
    return absl::UnavailableError(
        absl::StrCat(kInstanceMetadata, token_what, " answered no token"));
  }
  const std::vector<std::pair<std::string, std::string>> with_token = {
      {"X-aws-ec2-metadata-token", session}};

  constexpr absl::string_view kRolesPath = "/latest/meta-data/iam/security-credentials/";
  const std::string roles_what = absl::StrCat("GET ", endpoint, kRolesPath);
  absl::StatusOr<internal::HttpResponse> roles = fetch("GET", kRolesPath, with_token);
  if (!roles.ok()) return WithPrefix(kInstanceMetadata, roles.status());
  if (roles->status == 404) {
    return absl::NotFoundError(absl::StrCat(kInstanceMetadata, "the instance has no IAM role (",
                                            roles_what, " returned HTTP 404)"));
  }
  if (roles->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(kInstanceMetadata, roles_what, " returned HTTP ", roles->status));
  }
  const std::string role(
      absl::StripAsciiWhitespace(absl::string_view(roles->body).substr(0, roles->body.find('\n'))));
  if (role.empty()) {
    return absl::NotFoundError(absl::StrCat(kInstanceMetadata, "the instance has no IAM role (",
                                            roles_what, " answered no role name)"));
  }

  if (!IsIamName(role)) {
    return absl::UnavailableError(absl::StrCat(kInstanceMetadata, roles_what,
                                               " answered a role name with characters IAM does "
                                               "not allow"));
  }
  const std::string credentials_path = absl::StrCat(kRolesPath, role);
  const std::string credentials_what = absl::StrCat("GET ", endpoint, credentials_path);
  absl::StatusOr<internal::HttpResponse> credentials = fetch("GET", credentials_path, with_token);
  if (!credentials.ok()) return WithPrefix(kInstanceMetadata, credentials.status());
  if (credentials->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(kInstanceMetadata, credentials_what, " returned HTTP ", credentials->status));
  }
  return CredentialsFromJson(kInstanceMetadata, credentials_what, credentials->body);
}

}  // namespace feed_ingest::msk
