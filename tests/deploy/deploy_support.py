"""Shared helpers for the deployment checks in tests/deploy/.

- REPO: the repository root (two levels above this file).
- server_flags() / client_flags(): the real flags, parsed from the built
  binaries' --help (FEED_INGEST_BIN, FEED_INGEST_CLIENT_BIN; defaults under
  build/ of this repository, then /work/main/build/).
- check_env_with_binary(): runs `feed-ingest --help` with FEED_INGEST_*
  variables set, so the real flag parser judges their values.
- parse_duration(): "30s", "1m30s", "250ms" -> seconds.
- hcl_parse(): a small reader for the Terraform files of deploy/terraform
  (blocks, labels, attributes as source text), enough to check their
  structure; test_terraform.py compares it with HashiCorp's own parser when
  Go and Debian's golang-github-hashicorp-hcl-v2-dev are installed.

Standard library only (plus PyYAML in the tests that read YAML).
"""

import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _find_binary(env_name, name):
    explicit = os.environ.get(env_name)
    if explicit:
        return explicit
    for candidate in (os.path.join(REPO, "build", name),
                      os.path.join("/work/main/build", name)):
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.join(REPO, "build", name)


def server_bin():
    return _find_binary("FEED_INGEST_BIN", "feed-ingest")


def client_bin():
    return _find_binary("FEED_INGEST_CLIENT_BIN", "feed-ingest-client")


class Flag:
    """One flag of a --help listing."""

    def __init__(self, name, takes_value, help_text, env, default):
        self.name = name                # "metrics-listen"
        self.takes_value = takes_value  # False for booleans (--create-topic)
        self.help = help_text
        self.env = env                  # "FEED_INGEST_METRICS_LISTEN"
        self.default = default          # "0.0.0.0:9464", or None
        self.repeatable = "(repeatable)" in help_text

    def __repr__(self):
        return "Flag(--%s, env %s, default %r)" % (self.name, self.env, self.default)


_FLAG_LINE = re.compile(r"^  --([a-z0-9-]+)(=VALUE)?\s*$")
_ENV_LINE = re.compile(r"^\s+env: ([A-Z0-9_]+)\s*$")
_DEFAULT = re.compile(r"\s*\(default: (.*)\)\s*$")


def parse_help(text):
    """Flags of a feed-ingest / feed-ingest-client --help text, in order."""
    flags = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FLAG_LINE.match(lines[i])
        if not m:
            i += 1
            continue
        name, takes_value = m.group(1), bool(m.group(2))
        help_lines = []
        env = None
        i += 1
        while i < len(lines) and not _FLAG_LINE.match(lines[i]):
            e = _ENV_LINE.match(lines[i])
            if e:
                env = e.group(1)
            elif lines[i].strip():
                help_lines.append(lines[i].strip())
            i += 1
        help_text = " ".join(help_lines)
        default = None
        d = _DEFAULT.search(help_text)
        if d:
            default = d.group(1)
            help_text = help_text[:d.start()].rstrip()
        flags.append(Flag(name, takes_value, help_text, env, default))
    return flags


def _run_help(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise AssertionError(
            "%s not found: build it first (make build), or point FEED_INGEST_BIN / "
            "FEED_INGEST_CLIENT_BIN at it" % argv[0])
    if out.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), out.returncode, out.stderr))
    return out.stdout


_server_flags = None
_client_flags = None


def client_commands():
    """The commands `feed-ingest-client --help` lists ("  feed-ingest-client send [flags] ...")."""
    text = _run_help([client_bin(), "--help"])
    commands = re.findall(r"^\s+feed-ingest-client ([a-z][a-z0-9-]*)\b", text, re.M)
    if not commands:
        raise AssertionError("no commands found in `%s --help`" % client_bin())
    return commands


def server_flags():
    """{env name: Flag} of feed-ingest."""
    global _server_flags
    if _server_flags is None:
        flags = parse_help(_run_help([server_bin(), "--help"]))
        if not flags:
            raise AssertionError("no flags found in `%s --help`" % server_bin())
        _server_flags = {f.env: f for f in flags}
    return _server_flags


def client_flags():
    """{env name: Flag} over every feed-ingest-client command."""
    global _client_flags
    if _client_flags is None:
        result = {}
        for command in client_commands():
            for f in parse_help(_run_help([client_bin(), command, "--help"])):
                result[f.env] = f
        _client_flags = result
    return _client_flags


def unknown_env_names(names):
    """The FEED_INGEST_* names that are no flag's environment variable."""
    known = set(server_flags()) | set(client_flags())
    return sorted(n for n in names if n.startswith("FEED_INGEST_") and n not in known)


def check_env_with_binary(env):
    """Runs `feed-ingest --help` with `env` (FEED_INGEST_* only): the flag
    parser reads the environment before --help, so a bad value fails here.
    Returns (ok, stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEED_INGEST_")}
    clean.update({k: str(v) for k, v in env.items() if k.startswith("FEED_INGEST_")})
    out = subprocess.run([server_bin(), "--help"], capture_output=True, text=True,
                         timeout=30, env=clean)
    return out.returncode == 0, out.stderr.strip()


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text):
    """Go/abseil-style duration ("30s", "1m30s", "250ms") in seconds."""
    text = str(text).strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            raise ValueError("not a duration: %r" % text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError("not a duration: %r" % text)
    return total


def port_of(hostport):
    """The port of "host:port" / "[::]:port"."""
    return int(str(hostport).rsplit(":", 1)[1])


# --- A small HCL reader -------------------------------------------------------

class HclBlock:
    def __init__(self, type_, labels):
        self.type = type_
        self.labels = labels
        self.attributes = {}   # name -> expression source text
        self.blocks = []

    def find(self, type_, *labels):
        return [b for b in self.blocks
                if b.type == type_ and tuple(b.labels[:len(labels)]) == labels]

    def one(self, type_, *labels):
        found = self.find(type_, *labels)
        if len(found) != 1:
            raise AssertionError("expected one %s %s, found %d" % (type_, labels, len(found)))
        return found[0]

    def to_tree(self):
        return {"type": self.type, "labels": list(self.labels),
                "attributes": dict(self.attributes),
                "blocks": [b.to_tree() for b in self.blocks]}


class _Scanner:
    """Tokenizes just enough of HCL native syntax: comments, strings with
    ${...} templates, heredocs, brackets; everything else is opaque text."""

    def __init__(self, text, path):
        self.s = text
        self.i = 0
        self.path = path

    def error(self, msg):
        line = self.s.count("\n", 0, self.i) + 1
        raise SyntaxError("%s:%d: %s" % (self.path, line, msg))

    def skip_space(self, newlines=True):
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#" or s.startswith("//", self.i):
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    self.error("unterminated /* comment")
                self.i = end + 2
            else:
                break

    def skip_string(self):
        # At a '"': skip to the closing quote, through ${ ... } templates.
        s = self.s
        self.i += 1
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == '"':
                self.i += 1
                return
            elif s.startswith("${", self.i) or s.startswith("%{", self.i):
                self.i += 2
                self.skip_expression_until("}")
                self.i += 1
            elif c == "\n":
                self.error("newline in string")
            else:
                self.i += 1
        self.error("unterminated string")

    def skip_heredoc(self):
        m = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\n").match(self.s, self.i)
        if not m:
            self.error("bad heredoc")
        marker = m.group(1)
        end = re.compile(r"^\s*" + re.escape(marker) + r"\s*$", re.M).search(self.s, m.end())
        if not end:
            self.error("unterminated heredoc")
        self.i = end.end()

    def skip_expression_until(self, closer):
        """Skips a bracketed region's contents up to (not past) `closer`."""
        s = self.s
        pairs = {"(": ")", "[": "]", "{": "}"}
        while self.i < len(s):
            self.skip_space()
            if self.i >= len(s):
                break
            c = s[self.i]
            if c == closer:
                return
            if c == '"':
                self.skip_string()
            elif s.startswith("<<", self.i):
                self.skip_heredoc()
            elif c in pairs:
                self.i += 1
                self.skip_expression_until(pairs[c])
                self.i += 1
            elif c in ")]}":
                self.error("unbalanced %r" % c)
            else:
                self.i += 1
        self.error("missing %r" % closer)

    def expression_end(self):
        """From the start of an attribute's expression to its end: the first
        newline outside brackets (or a '}' closing the enclosing block)."""
        s = self.s
        pairs = {"(": ")", "[": "]", "{": "}"}
        while self.i < len(s):
            self.skip_space(newlines=False)
            if self.i >= len(s):
                break
            c = s[self.i]
            if c == "\n" or c == "}":
                break
            if c == '"':
                self.skip_string()
            elif s.startswith("<<", self.i):
                self.skip_heredoc()
            elif c in pairs:
                self.i += 1
                self.skip_expression_until(pairs[c])
                self.i += 1
            else:
                self.i += 1
        return self.i


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_LABEL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _parse_body(sc, block, top):
    s = sc.s
    while True:
        sc.skip_space()
        if sc.i >= len(s):
            if not top:
                sc.error("missing '}'")
            return
        if s[sc.i] == "}":
            if top:
                sc.error("unexpected '}'")
            sc.i += 1
            return
        m = _IDENT.match(s, sc.i)
        if not m:
            sc.error("expected an attribute or block, found %r" % s[sc.i:sc.i + 20])
        name = m.group(0)
        sc.i = m.end()
        sc.skip_space(newlines=False)
        if sc.i < len(s) and s[sc.i] == "=" and not s.startswith("==", sc.i):
            sc.i += 1
            sc.skip_space(newlines=False)
            start = sc.i
            end = sc.expression_end()
            expr = s[start:end].strip()
            if not expr:
                sc.error("attribute %s has no value" % name)
            if name in block.attributes:
                sc.error("attribute %s set twice" % name)
            block.attributes[name] = expr
            continue
        labels = []
        while True:
            sc.skip_space(newlines=False)
            lm = _LABEL.match(s, sc.i)
            if lm:
                labels.append(lm.group(1))
                sc.i = lm.end()
                continue
            im = _IDENT.match(s, sc.i)
            if im:
                labels.append(im.group(0))
                sc.i = im.end()
                continue
            break
        if sc.i >= len(s) or s[sc.i] != "{":
            sc.error("expected '{' after block %s %s" % (name, labels))
        sc.i += 1
        child = HclBlock(name, labels)
        _parse_body(sc, child, top=False)
        block.blocks.append(child)


def hcl_parse(path):
    """The file's top level as an HclBlock of type "file"."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    root = HclBlock("file", [])
    _parse_body(_Scanner(text, path), root, top=True)
    return root


def hcl_string_list(expr):
    """["a", "b",] -> ["a", "b"]; raises on anything but a list of literals."""
    expr = expr.strip()
    if not (expr.startswith("[") and expr.endswith("]")):
        raise ValueError("not a list: %r" % expr)
    inner = re.sub(r"#[^\n]*|//[^\n]*", "", expr[1:-1])
    items = [x.strip() for x in inner.split(",") if x.strip()]
    out = []
    for item in items:
        m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', item)
        if not m:
            raise ValueError("not a string literal: %r" % item)
        out.append(m.group(1))
    return out


def hcl_string(expr):
    m = re.fullmatch(r'\s*"((?:[^"\\]|\\.)*)"\s*', expr)
    if not m:
        raise ValueError("not a string literal: %r" % expr)
    return m.group(1)


def main():
    """unittest.main() that exits non-zero on failure or when nothing ran."""
    program = unittest.main(exit=False, verbosity=2)
    result = program.result

    def test_id(test):  # a failing subTest counts once, as its test
        return getattr(test, "test_case", test).id()

    failed = len({test_id(t) for t, _ in result.failures + result.errors})
    skipped = len({test_id(t) for t, _ in result.skipped})
    passed = result.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
