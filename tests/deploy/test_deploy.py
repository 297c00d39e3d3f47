#!/usr/bin/env python3
"""Static checks of the container image (deploy/Dockerfile) and the local
stack (docker-compose.yml). No Docker engine runs here, so nothing is built or
started; what can be checked without one is:

- `docker-compose config -q` (Debian's docker-compose 1.29) accepts the file;
- every image is pinned to an explicit tag (never latest), the Dockerfile's
  base to a dated Debian 12 tag;
- every file and directory the stack mounts or builds from, and every COPY
  source of the Dockerfile, exists in the repository, and the build stage
  copies every directory the top-level CMakeLists.txt adds;
- every FEED_INGEST_* variable in the compose file and the Dockerfile is a
  real flag's environment name (`feed-ingest --help` of $FEED_INGEST_BIN,
  `feed-ingest-client CMD --help`), and the real flag parser accepts the values;
- ports: published ports, EXPOSE, the HEALTHCHECK target and Prometheus'
  scrape target agree with FEED_INGEST_LISTEN / FEED_INGEST_METRICS_LISTEN;
  published ports bind 127.0.0.1 only;
- the runtime stage: a non-root USER, HEALTHCHECK, EXPOSE of both ports,
  STOPSIGNAL SIGTERM, and apt packages that provide every shared library
  `ldd` lists for the built binaries (dpkg -S + dependency closure);
- compose: topic creation with the seed's settings, start order, a stop
  grace period above --shutdown-timeout, Grafana and Prometheus mounts where
  their provisioning files expect them, the Redis that FEED_INGEST_DEDUP_STORE
  names (no persistence, a health check, healthy before feed-ingest starts).

Run: /usr/bin/python3 tests/deploy/test_deploy.py
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_support as ds  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    print("PyYAML is missing: apt-get install python3-yaml (and run with /usr/bin/python3)")
    sys.exit(1)

COMPOSE = os.path.join(ds.REPO, "docker-compose.yml")
DOCKERFILE = os.path.join(ds.REPO, "deploy", "Dockerfile")


# --- Dockerfile reader --------------------------------------------------------

class Stage:
    def __init__(self, base, name):
        self.base = base
        self.name = name
        self.instructions = []   # (KEYWORD, argument text)

    def all(self, keyword):
        return [arg for kw, arg in self.instructions if kw == keyword]


def read_dockerfile(path=DOCKERFILE):
    """(global ARG defaults, [Stage]) with line continuations joined and
    comments dropped."""
    with open(path, encoding="utf-8") as f:
        raw = f.read().splitlines()
    logical, current = [], ""
    for line in raw:
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    args, stages = {}, []
    for line in logical:
        keyword, _, rest = line.strip().partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                          lambda v: args.get(v.group(1) or v.group(2), ""), m.group(1))
            stages.append(Stage(base, m.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def env_of(stage):
    """ENV a=b c=d / ENV a b, as a dict."""
    env = {}
    for arg in stage.all("ENV"):
        parts = shlex.split(arg)
        if len(parts) >= 2 and "=" not in parts[0]:
            env[parts[0]] = " ".join(parts[1:])
            continue
        for p in parts:
            k, _, v = p.partition("=")
            env[k] = v
    return env


def apt_packages(stage):
    """Packages named by `apt-get install` in the stage's RUN lines."""
    pkgs = []
    for run in stage.all("RUN"):
        for cmd in re.split(r"&&|;", run):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def published(ports):
    """docker-compose short port syntax -> [(host_ip, host_port, container_port)]."""
    out = []
    for p in ports:
        parts = str(p).split(":")
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2].split("/")[0])))
        elif len(parts) == 2:
            out.append(("", int(parts[0]), int(parts[1].split("/")[0])))
        else:
            out.append(("", None, int(parts[0].split("/")[0])))
    return out


def image_is_pinned(image):
    """name:tag with an explicit, non-latest tag (or a digest)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # "host:5000/img" has no tag
        return False
    return tag != "latest" and bool(tag)


class Compose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(COMPOSE, encoding="utf-8") as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]
        cls.fi = cls.services["feed-ingest"]
        cls.fi_env = {k: str(v) for k, v in cls.fi["environment"].items()}

    def test_docker_compose_config_accepts_the_file(self):
        exe = shutil.which("docker-compose")
        if exe is None:
            self.fail("docker-compose is not installed: apt-get install docker-compose "
                      "(Debian 12's 1.29; deploy/local/install-deps.sh lists it)")
        out = subprocess.run([exe, "-f", COMPOSE, "config", "-q"], cwd=ds.REPO,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, "docker-compose config:\n" + out.stderr)

    def test_expected_services(self):
        self.assertEqual(set(self.services),
                         {"kafka", "kafka-init", "redis", "feed-ingest", "prometheus", "grafana"})

    def test_images_pinned(self):
        for name, svc in self.services.items():
            with self.subTest(service=name):
                image = svc.get("image")
                if "build" in svc:
                    continue  # built here from a pinned Dockerfile (checked below)
                self.assertTrue(image, "no image")
                self.assertTrue(image_is_pinned(image), "image %r is not pinned to a tag" % image)
        self.assertEqual(self.services["kafka"]["image"], "apache/kafka:3.7.0")
        self.assertEqual(self.services["kafka-init"]["image"], self.services["kafka"]["image"])

    def test_mounts_and_build_inputs_exist(self):
        for name, svc in self.services.items():
            for vol in svc.get("volumes", []):
                source = vol["source"] if isinstance(vol, dict) else str(vol).split(":")[0]
                if source.startswith((".", "/")):
                    with self.subTest(service=name, mount=source):
                        self.assertTrue(os.path.exists(os.path.join(ds.REPO, source)),
                                        "%s mounts %s, missing from the repository" % (name, source))
                else:
                    self.assertIn(source, self.compose.get("volumes", {}), "named volume")
            if "build" in svc:
                build = svc["build"]
                context = os.path.join(ds.REPO, build["context"])
                self.assertTrue(os.path.isdir(context))
                self.assertTrue(os.path.isfile(os.path.join(context, build["dockerfile"])))

    def test_ports_on_loopback_only(self):
        for name, svc in self.services.items():
            for host_ip, _, _ in published(svc.get("ports", [])):
                with self.subTest(service=name):
                    self.assertEqual(host_ip, "127.0.0.1")

    def test_feed_ingest_env_names_are_flags(self):
        self.assertEqual(ds.unknown_env_names(self.fi_env), [])

    def test_feed_ingest_env_values_parse(self):
        ok, err = ds.check_env_with_binary(self.fi_env)
        self.assertTrue(ok, "feed-ingest rejects the compose environment: " + err)

    def test_feed_ingest_ports_match_flags(self):
        grpc = ds.port_of(self.fi_env["FEED_INGEST_LISTEN"])
        metrics = ds.port_of(self.fi_env["FEED_INGEST_METRICS_LISTEN"])
        container_ports = {c for _, _, c in published(self.fi["ports"])}
        self.assertEqual(container_ports, {grpc, metrics})
        self.assertEqual((grpc, metrics), (50051, 9464))

    def test_brokers_are_the_kafka_internal_listener(self):
        kafka_env = self.services["kafka"]["environment"]
        advertised = dict(
            l.split("://") for l in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(","))
        self.assertEqual(self.fi_env["FEED_INGEST_BROKERS"], advertised["INTERNAL"])
        self.assertEqual(self.fi_env["FEED_INGEST_BROKERS"], "kafka:9092")
        self.assertEqual(kafka_env["KAFKA_PROCESS_ROLES"], "broker,controller")  # KRaft
        # The host's listener is the published one.
        host = advertised["EXTERNAL"]
        self.assertIn((host.split(":")[0], ds.port_of(host), ds.port_of(host)),
                      published(self.services["kafka"]["ports"]))

    def test_topic_created_with_seed_settings(self):
        init = self.services["kafka-init"]
        script = init["command"] if isinstance(init["command"], str) else " ".join(init["command"])
        script = script.replace("\\\n", " ")
        creates = [shlex.split(line) for line in re.split(r"\n(?!\s)", script) if "--create" in line]
        self.assertEqual([w[w.index("--topic") + 1] for w in creates],
                         ["feed.interactions.v1", "feed.interactions.v1.overflow"])
        self.assertEqual(self.fi["environment"]["FEED_INGEST_OVERFLOW_TOPIC"],
                         "feed.interactions.v1.overflow")
        for words in creates:
            self.check_topic_created(words)

    def check_topic_created(self, words):
        self.assertIn("--if-not-exists", words)
        self.assertEqual(words[words.index("--partitions") + 1], "6")
        self.assertEqual(words[words.index("--replication-factor") + 1], "1")
        configs = {words[i + 1] for i, w in enumerate(words) if w == "--config"}
        self.assertEqual(configs, {"retention.ms=604800000", "compression.type=snappy"})
        self.assertEqual(words[words.index("--bootstrap-server") + 1], "kafka:9092")

    def test_start_order(self):
        self.assertEqual(self.services["kafka-init"]["depends_on"]["kafka"]["condition"],
                         "service_healthy")
        self.assertIn("healthcheck", self.services["kafka"])
        self.assertEqual(self.fi["depends_on"]["kafka-init"]["condition"],
                         "service_completed_successfully")

    def test_dedup_store_is_the_redis_service(self):
        redis = self.services["redis"]
        self.assertRegex(redis["image"], r"^redis:7(\.|$)", "Redis 7, as Debian 12's redis-server")
        # redis://HOST:PORT[/DB]: the compose service, on Redis' port.
        m = re.fullmatch(r"redis://([^:/]+):(\d+)(?:/(\d+))?", self.fi_env["FEED_INGEST_DEDUP_STORE"])
        self.assertTrue(m, self.fi_env["FEED_INGEST_DEDUP_STORE"])
        self.assertIn(m.group(1), {"redis", redis.get("hostname")})
        self.assertEqual(int(m.group(2)), 6379)
        # Nothing persisted: no RDB snapshots, no append-only file, no volume.
        command = redis["command"]
        words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
        self.assertEqual(words[0], "redis-server")
        self.assertEqual(words[words.index("--save") + 1], "")
        self.assertEqual(words[words.index("--appendonly") + 1], "no")
        self.assertFalse(redis.get("volumes"), "the dedup store keeps nothing on disk")
        test = redis["healthcheck"]["test"]
        test = " ".join(test[1:]) if isinstance(test, list) else test
        self.assertIn("redis-cli ping", test)
        self.assertEqual(self.fi["depends_on"]["redis"]["condition"], "service_healthy")
        # Reached inside the stack only: a Redis on the host's 6379 must not matter.
        self.assertFalse(redis.get("ports"), "Redis is not published")

    def test_stop_grace_period_exceeds_shutdown_timeout(self):
        grace = ds.parse_duration(self.fi["stop_grace_period"])
        timeout = ds.parse_duration(self.fi_env.get(
            "FEED_INGEST_SHUTDOWN_TIMEOUT",
            ds.server_flags()["FEED_INGEST_SHUTDOWN_TIMEOUT"].default))
        self.assertGreater(grace, timeout)
        self.assertEqual(self.fi.get("stop_signal", "SIGTERM"), "SIGTERM")

    def test_prometheus_scrapes_feed_ingest(self):
        prom = self.services["prometheus"]
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in prom["volumes"]
                  if str(v).startswith(".")}
        self.assertEqual(os.path.normpath(mounts["/etc/prometheus"]), "deploy/prometheus")
        self.assertIn("--config.file=/etc/prometheus/prometheus.yml", prom["command"])
        with open(os.path.join(ds.REPO, "deploy", "prometheus", "prometheus.yml")) as f:
            config = yaml.safe_load(f)
        job = next(j for j in config["scrape_configs"] if j["job_name"] == "feed-ingest")
        targets = [t for sc in job["static_configs"] for t in sc["targets"]]
        metrics_port = ds.port_of(self.fi_env["FEED_INGEST_METRICS_LISTEN"])
        self.assertEqual(targets, ["feed-ingest:%d" % metrics_port])
        self.assertEqual(job.get("metrics_path", "/metrics"), "/metrics")
        for rules in config.get("rule_files", []):
            self.assertTrue(os.path.isfile(os.path.join(ds.REPO, "deploy", "prometheus", rules)))

    def test_grafana_mounts_match_provisioning(self):
        graf = self.services["grafana"]
        mounts = {}
        for v in graf["volumes"]:
            parts = str(v).split(":")
            if parts[0].startswith("."):
                mounts[parts[1]] = os.path.normpath(parts[0])
        self.assertEqual(mounts["/etc/grafana/provisioning"], "deploy/grafana/provisioning")
        with open(os.path.join(ds.REPO, "deploy/grafana/provisioning/dashboards/feed-ingest.yml")) as f:
            provider = yaml.safe_load(f)["providers"][0]
        self.assertEqual(mounts[provider["options"]["path"]], "deploy/grafana/dashboards")
        with open(os.path.join(ds.REPO, "deploy/grafana/provisioning/datasources/prometheus.yml")) as f:
            ds_url = yaml.safe_load(f)["datasources"][0]["url"]
        prom_ports = {c for _, _, c in published(self.services["prometheus"]["ports"])}
        self.assertEqual(ds_url, "http://prometheus:%d" % prom_ports.pop())


class Dockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.args, cls.stages = read_dockerfile()
        cls.build = next(s for s in cls.stages if s.name == "build")
        cls.runtime = cls.stages[-1]

    def test_bases_are_a_dated_debian_12_tag(self):
        for stage in self.stages:
            with self.subTest(stage=stage.name):
                self.assertRegex(stage.base, r"^debian:bookworm-\d{8}-slim(@sha256:[0-9a-f]{64})?$")
        self.assertEqual(self.build.base, self.runtime.base,
                         "runtime libraries must be the ones the binaries were built against")

    def test_build_stage_reuses_install_deps(self):
        copies = " ".join(self.build.all("COPY"))
        self.assertIn("deploy/local/install-deps.sh", copies)
        runs = " ".join(self.build.all("RUN"))
        self.assertIn("install-deps.sh", runs)
        self.assertIn("-G Ninja", runs)
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", runs)
        self.assertRegex(runs, r"--target feed-ingest feed-ingest-client\b")

    def test_copy_sources_exist_and_cover_cmake(self):
        copied = set()
        for stage in self.stages:
            for arg in stage.all("COPY"):
                if arg.startswith("--from"):
                    continue
                words = [w for w in arg.split() if not w.startswith("--")]
                for src in words[:-1]:
                    with self.subTest(source=src):
                        self.assertTrue(os.path.exists(os.path.join(ds.REPO, src)), src)
                    copied.add(os.path.normpath(src))
        with open(os.path.join(ds.REPO, "CMakeLists.txt")) as f:
            cmake = f.read()
        # The image builds with FEED_INGEST_BUILD_TESTS=OFF: what CMake adds
        # only for tests need not be copied.
        runs = " ".join(self.build.all("RUN"))
        if "-DFEED_INGEST_BUILD_TESTS=OFF" in runs:
            cmake = re.sub(r"if\(FEED_INGEST_BUILD_TESTS\).*?endif\(\)", "", cmake, flags=re.S)
        subdirs = re.findall(r"add_subdirectory\((\S+?)\)", cmake)
        self.assertTrue(subdirs)
        for sub in subdirs:
            self.assertIn(sub, copied, "CMake adds %s/ but the build stage does not copy it" % sub)
        self.assertIn("CMakeLists.txt", copied)

    def test_runtime_user_is_not_root(self):
        users = self.runtime.all("USER")
        self.assertTrue(users, "no USER in the runtime stage")
        user = users[-1].split(":")[0]
        self.assertNotIn(user, ("root", "0"))
        self.assertEqual(user, "10001")

    def test_runtime_healthcheck_expose_stopsignal(self):
        env = env_of(self.runtime)
        grpc = ds.port_of(env["FEED_INGEST_LISTEN"])
        metrics = ds.port_of(env["FEED_INGEST_METRICS_LISTEN"])
        exposed = {int(p.split("/")[0]) for arg in self.runtime.all("EXPOSE") for p in arg.split()}
        self.assertEqual(exposed, {grpc, metrics})
        (health,) = self.runtime.all("HEALTHCHECK")
        self.assertIn("feed-ingest-client", health)
        self.assertIn('"health"', health)
        self.assertIn("--target=127.0.0.1:%d" % grpc, health)
        self.assertEqual(self.runtime.all("STOPSIGNAL"), ["SIGTERM"])
        self.assertIn("feed-ingest", self.runtime.all("ENTRYPOINT")[-1])

    def test_runtime_env_names_are_flags_and_parse(self):
        env = env_of(self.runtime)
        names = [k for k in env if k.startswith("FEED_INGEST_")]
        self.assertEqual(ds.unknown_env_names(names), [])
        ok, err = ds.check_env_with_binary(env)
        self.assertTrue(ok, err)
        self.assertTrue(env["FEED_INGEST_LISTEN"].startswith("0.0.0.0:"))
        self.assertTrue(env["FEED_INGEST_METRICS_LISTEN"].startswith("0.0.0.0:"))

    def test_runtime_packages_provide_every_linked_library(self):
        if shutil.which("ldd") is None or shutil.which("dpkg") is None:
            self.skipTest("needs ldd and dpkg (Debian)")
        listed = set(apt_packages(self.runtime))
        self.assertIn("ca-certificates", listed)
        # What apt installs: the listed packages and their dependencies, as
        # this (Debian 12) machine's dpkg database records them.
        closure, todo = set(), list(listed)
        while todo:
            pkg = todo.pop()
            if pkg in closure:
                continue
            closure.add(pkg)
            out = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg],
                                 capture_output=True, text=True)
            for alt in out.stdout.split(","):
                name = alt.split("|")[0].strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
        # In every debian:*-slim image already.
        closure |= {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
        libraries = {}
        for binary in (ds.server_bin(), ds.client_bin()):
            out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn("not found", out.stdout)
            for so in re.findall(r"=> (/\S+)", out.stdout):
                libraries.setdefault(so, os.path.basename(binary))
        # One dpkg -S for every spelling of every path (/lib is /usr/lib on
        # merged-/usr systems; dpkg knows one of them).
        candidates = {}
        for so in libraries:
            for path in (so, os.path.realpath(so)):
                for c in (path, path if path.startswith("/usr/") else "/usr" + path):
                    candidates.setdefault(c, so)
        out = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True, text=True)
        owners = {}
        for line in out.stdout.splitlines():
            pkg, _, path = line.partition(": ")
            if path.strip() in candidates:
                owners.setdefault(candidates[path.strip()], pkg.split(":")[0].split(",")[0].strip())
        for so, binary in sorted(libraries.items()):
            with self.subTest(binary=binary, library=so):
                owner = owners.get(so)
                self.assertIsNotNone(owner, "no Debian package owns %s" % so)
                self.assertIn(owner, closure,
                              "%s (package %s) is not installed by the runtime stage" % (so, owner))


if __name__ == "__main__":
    ds.main()
