#!/usr/bin/env python3
"""Static checks of deploy/kubernetes/ against the service's real flags.

Every manifest is read with yaml.safe_load_all. Checked: the objects and API
versions (Deployment, two Services, one of them headless, HPA autoscaling/v2,
PDB policy/v1, ServiceMonitor monitoring.coreos.com/v1, ServiceAccount,
ConfigMap), the Deployment's probes (/readyz, /healthz on the metrics port),
security context (non-root uid 10001, read-only root, no privilege
escalation, every capability dropped), resources, grace period above
--shutdown-timeout, env from the ConfigMap, the IRSA annotation; that every
FEED_INGEST_* name is a real flag (`feed-ingest --help`) and the real flag
parser accepts its value; that ports named in Services, probes and the
ServiceMonitor resolve to the container ports, and those to the ports of
FEED_INGEST_LISTEN / FEED_INGEST_METRICS_LISTEN; that selectors select the
pods; and that `kubectl kustomize` renders the directory when kubectl exists.

redis.yaml, the development Redis of the dedup store, is checked on its own:
one replica of Redis 7 without persistence, probes, resources, the
namespace's "restricted" Pod Security Standard, a Service feed-ingest-redis
that FEED_INGEST_DEDUP_STORE names, and no selector mixing its pods with
feed-ingest's.

Run: /usr/bin/python3 tests/deploy/test_kubernetes.py
"""

import glob
import os
import re
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

K8S_DIR = os.path.join(ds.REPO, "deploy", "kubernetes")
NAMESPACE = "feed-ingest"
REDIS = "feed-ingest-redis"   # app.kubernetes.io/name of the development Redis


def load_objects():
    objects = []
    for path in sorted(glob.glob(os.path.join(K8S_DIR, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    objects.append((os.path.basename(path), doc))
    return objects


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def is_redis(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/name") == REDIS


_BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
_REDIS_UNITS = {"k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}


def k8s_bytes(quantity):
    """A Kubernetes memory quantity ("256Mi", "268435456") in bytes."""
    q = str(quantity)
    for suffix, factor in _BINARY_UNITS.items():
        if q.endswith(suffix):
            return int(q[:-len(suffix)]) * factor
    return int(q)


def redis_bytes(text):
    """A redis.conf size ("200mb", "1gb", "1000000") in bytes."""
    m = re.fullmatch(r"(\d+)([a-z]*)", str(text).lower())
    if not m:
        raise ValueError("not a Redis size: %r" % text)
    return int(m.group(1)) * (_REDIS_UNITS[m.group(2)] if m.group(2) else 1)


class KubernetesManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = load_objects()
        cls.by_kind = {}  # feed-ingest's own objects (DevelopmentRedis checks the Redis)
        for _, obj in cls.objects:
            if not is_redis(obj):
                cls.by_kind.setdefault(obj["kind"], []).append(obj)
        cls.deployment = cls.only("Deployment")
        cls.pod = cls.deployment["spec"]["template"]
        cls.container = next(c for c in cls.pod["spec"]["containers"] if c["name"] == "feed-ingest")
        cls.container_ports = {p["name"]: p["containerPort"] for p in cls.container["ports"]}
        cls.configmap = cls.only("ConfigMap")
        cls.env = dict(cls.configmap["data"])
        for e in cls.container.get("env", []):
            cls.env[e["name"]] = e.get("value")

    @classmethod
    def only(cls, kind):
        found = cls.by_kind.get(kind, [])
        if len(found) != 1:
            raise AssertionError("expected one %s, found %d" % (kind, len(found)))
        return found[0]

    def flag_value(self, env_name):
        """The value the pods run with: the ConfigMap's, else the flag default."""
        if env_name in self.env:
            return self.env[env_name]
        return ds.server_flags()[env_name].default

    # --- the set of objects --------------------------------------------------

    def test_kinds_and_api_versions(self):
        expected = {
            "Deployment": "apps/v1", "Service": "v1", "HorizontalPodAutoscaler": "autoscaling/v2",
            "PodDisruptionBudget": "policy/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
            "ServiceAccount": "v1", "ConfigMap": "v1",
        }
        for kind, api in expected.items():
            with self.subTest(kind=kind):
                self.assertIn(kind, self.by_kind)
                for obj in self.by_kind[kind]:
                    self.assertEqual(obj["apiVersion"], api)
        self.assertEqual(len(self.by_kind["Service"]), 2)

    def test_every_object_in_the_namespace(self):
        for name, obj in self.objects:
            with self.subTest(file=name, kind=obj["kind"]):
                if obj["kind"] == "Namespace":
                    self.assertEqual(obj["metadata"]["name"], NAMESPACE)
                else:
                    self.assertEqual(obj["metadata"].get("namespace"), NAMESPACE)

    def test_kustomization_lists_every_file(self):
        with open(os.path.join(K8S_DIR, "kustomization.yaml")) as f:
            kustomization = yaml.safe_load(f)
        self.assertEqual(kustomization["namespace"], NAMESPACE)
        files = {os.path.basename(p) for p in glob.glob(os.path.join(K8S_DIR, "*.yaml"))}
        files.discard("kustomization.yaml")
        self.assertEqual(set(kustomization["resources"]), files)

    def test_kubectl_kustomize_renders(self):
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            self.skipTest("no kubectl on PATH")
        out = subprocess.run([kubectl, "kustomize", K8S_DIR], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
        self.assertEqual(len(rendered), len(self.objects))

    # --- Deployment ----------------------------------------------------------

    def test_selector_matches_pod_labels(self):
        self.assertTrue(selects(self.deployment["spec"]["selector"]["matchLabels"],
                                self.pod["metadata"]["labels"]))

    def test_ports_agree_with_flags(self):
        self.assertEqual(self.container_ports["grpc"],
                         ds.port_of(self.flag_value("FEED_INGEST_LISTEN")))
        self.assertEqual(self.container_ports["metrics"],
                         ds.port_of(self.flag_value("FEED_INGEST_METRICS_LISTEN")))
        # Listening on the pod's interfaces, not loopback.
        for name in ("FEED_INGEST_LISTEN", "FEED_INGEST_METRICS_LISTEN"):
            self.assertFalse(self.flag_value(name).startswith("127."), name)

    def test_probes(self):
        c = self.container
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            with self.subTest(probe=probe):
                get = c[probe]["httpGet"]
                self.assertEqual(get["path"], path)
                port = get["port"]
                port = self.container_ports[port] if isinstance(port, str) else port
                self.assertEqual(port, ds.port_of(self.flag_value("FEED_INGEST_METRICS_LISTEN")))
        # Start-up waits for the gRPC port: /healthz and /readyz are served
        # before it listens (while feed-ingest waits for Kafka).
        startup = c["startupProbe"]
        self.assertIn("grpc", startup)
        self.assertEqual(startup["grpc"]["port"], ds.port_of(self.flag_value("FEED_INGEST_LISTEN")))
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        self.assertGreater(budget, ds.parse_duration(self.flag_value("FEED_INGEST_STARTUP_TIMEOUT")),
                           "the startup probe gives up before feed-ingest would")

    def test_security_context(self):
        pod_sc = self.pod["spec"].get("securityContext", {})
        sc = self.container["securityContext"]
        self.assertTrue(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")))
        self.assertEqual(sc.get("runAsUser", pod_sc.get("runAsUser")), 10001)
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertFalse(sc.get("privileged", False))

    def test_resources(self):
        res = self.container["resources"]
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                self.assertIn(r, res[kind], "%s.%s" % (kind, r))

    def test_grace_period_exceeds_shutdown_timeout(self):
        self.assertEqual(self.env.get("FEED_INGEST_SHUTDOWN_TIMEOUT"), "30s")
        shutdown = ds.parse_duration(self.flag_value("FEED_INGEST_SHUTDOWN_TIMEOUT"))
        pre_stop = 0.0
        hook = self.container.get("lifecycle", {}).get("preStop", {})
        command = hook.get("exec", {}).get("command", [])
        if command[:1] == ["sleep"]:
            pre_stop = float(command[1])
        if "sleep" in hook:
            pre_stop = float(hook["sleep"]["seconds"])
        grace = self.pod["spec"]["terminationGracePeriodSeconds"]
        self.assertEqual(grace, 45)
        self.assertGreater(grace, shutdown + pre_stop,
                           "SIGKILL would cut the drain short: grace %ss <= preStop %ss + "
                           "--shutdown-timeout %ss" % (grace, pre_stop, shutdown))

    def test_env_from_configmap(self):
        refs = [e["configMapRef"]["name"] for e in self.container["envFrom"] if "configMapRef" in e]
        self.assertEqual(refs, [self.configmap["metadata"]["name"]])

    def test_env_names_are_real_flags(self):
        names = [k for k in self.env if k.startswith("FEED_INGEST_")]
        self.assertTrue(names)
        self.assertEqual(ds.unknown_env_names(names), [],
                         "not flags of `feed-ingest --help`")
        # Only FEED_INGEST_* (flags) and AWS_* (credentials chain) are set.
        for k in self.env:
            self.assertTrue(k.startswith(("FEED_INGEST_", "AWS_")), k)

    def test_env_values_parse(self):
        env = {k: v for k, v in self.env.items() if k.startswith("FEED_INGEST_")}
        ok, err = ds.check_env_with_binary(env)
        self.assertTrue(ok, "feed-ingest rejects the ConfigMap: " + err)

    def test_production_settings(self):
        self.assertTrue(self.env["FEED_INGEST_BROKERS"], "no embedded broker in production")
        for broker in self.env["FEED_INGEST_BROKERS"].split(","):
            self.assertEqual(ds.port_of(broker), 9098, "MSK IAM listener")
        self.assertEqual(self.env.get("FEED_INGEST_CREATE_TOPIC", "false"), "false")
        self.assertEqual(self.env["FEED_INGEST_TOPIC"], "feed.interactions.v1")
        # MSK IAM (SASL_SSL + OAUTHBEARER with a SigV4 token), region from
        # AWS_REGION unless FEED_INGEST_AWS_REGION is set.
        self.assertEqual(self.env["FEED_INGEST_KAFKA_AUTH"], "msk-iam")
        self.assertTrue(self.env.get("FEED_INGEST_AWS_REGION") or self.env.get("AWS_REGION"))
        kafka_config = dict(kv.split("=", 1) for kv in
                            self.env.get("FEED_INGEST_KAFKA_CONFIG", "").split(";") if kv)
        self.assertNotIn("sasl.mechanism", kafka_config, "--kafka-auth=msk-iam sets SASL")
        self.assertNotIn("sasl.mechanisms", kafka_config, "--kafka-auth=msk-iam sets SASL")

    def test_service_account_with_irsa(self):
        sa = self.only("ServiceAccount")
        self.assertEqual(self.pod["spec"]["serviceAccountName"], sa["metadata"]["name"])
        arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        self.assertRegex(arn, r"^arn:aws[a-z-]*:iam::\d{12}:role/feed-rec-producer$")

    # --- Services ------------------------------------------------------------

    def services(self):
        return {s["metadata"]["name"]: s for s in self.by_kind["Service"]}

    def test_services_select_the_pods_and_resolve_ports(self):
        for name, svc in self.services().items():
            with self.subTest(service=name):
                self.assertTrue(selects(svc["spec"]["selector"], self.pod["metadata"]["labels"]))
                for port in svc["spec"]["ports"]:
                    target = port.get("targetPort", port["port"])
                    resolved = self.container_ports[target] if isinstance(target, str) else target
                    self.assertIn(resolved, self.container_ports.values())
                grpc = [p for p in svc["spec"]["ports"] if p["name"] == "grpc"]
                self.assertEqual(len(grpc), 1, "port named grpc")
                self.assertEqual(grpc[0]["appProtocol"], "kubernetes.io/h2c")
                target = grpc[0]["targetPort"]
                self.assertEqual(self.container_ports[target] if isinstance(target, str) else target,
                                 ds.port_of(self.flag_value("FEED_INGEST_LISTEN")))

    def test_one_headless_one_cluster_ip(self):
        headless = [s for s in self.services().values() if s["spec"].get("clusterIP") == "None"]
        self.assertEqual(len(headless), 1)
        self.assertFalse(headless[0]["spec"].get("publishNotReadyAddresses", False),
                         "a draining pod must leave DNS")
        others = [s for s in self.services().values() if s["spec"].get("clusterIP") != "None"]
        self.assertEqual(len(others), 1)

    # --- HPA, PDB ------------------------------------------------------------

    def test_hpa(self):
        hpa = self.only("HorizontalPodAutoscaler")
        ref = hpa["spec"]["scaleTargetRef"]
        self.assertEqual((ref["apiVersion"], ref["kind"], ref["name"]),
                         ("apps/v1", "Deployment", self.deployment["metadata"]["name"]))
        self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
        self.assertGreaterEqual(hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"])
        cpu = [m for m in hpa["spec"]["metrics"]
               if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
        self.assertEqual(len(cpu), 1)
        self.assertEqual(cpu[0]["resource"]["target"]["type"], "Utilization")
        self.assertNotIn("replicas", self.deployment["spec"], "the HPA owns the replica count")

    def test_pdb(self):
        pdb = self.only("PodDisruptionBudget")
        self.assertTrue(selects(pdb["spec"]["selector"]["matchLabels"], self.pod["metadata"]["labels"]))
        hpa = self.only("HorizontalPodAutoscaler")
        if "maxUnavailable" in pdb["spec"]:
            self.assertLess(pdb["spec"]["maxUnavailable"], hpa["spec"]["minReplicas"])
        else:
            self.assertLess(pdb["spec"]["minAvailable"], hpa["spec"]["minReplicas"])

    # --- ServiceMonitor ------------------------------------------------------

    def test_service_monitor(self):
        sm = self.only("ServiceMonitor")
        selected = [s for s in self.services().values()
                    if selects(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
        self.assertEqual(len(selected), 1, "exactly one Service is scraped (no double scrape)")
        svc = selected[0]
        # The job label is the Service name; the alerts select job="feed-ingest".
        with open(os.path.join(ds.REPO, "deploy", "prometheus", "prometheus.yml")) as f:
            prom = yaml.safe_load(f)
        job_names = {j["job_name"] for j in prom["scrape_configs"]}
        self.assertIn(svc["metadata"]["name"], job_names)
        with open(os.path.join(ds.REPO, "deploy", "prometheus", "alerts.yml")) as f:
            self.assertIn('job="%s"' % svc["metadata"]["name"], f.read())
        self.assertIn(NAMESPACE, sm["spec"]["namespaceSelector"]["matchNames"])
        (endpoint,) = sm["spec"]["endpoints"]
        self.assertEqual(endpoint["path"], "/metrics")
        port = next(p for p in svc["spec"]["ports"] if p["name"] == endpoint["port"])
        target = port["targetPort"]
        self.assertEqual(self.container_ports[target] if isinstance(target, str) else target,
                         ds.port_of(self.flag_value("FEED_INGEST_METRICS_LISTEN")))


class DevelopmentRedis(unittest.TestCase):
    """redis.yaml: the dedup store's Redis for development clusters."""

    @classmethod
    def setUpClass(cls):
        objects = load_objects()
        cls.redis = [o for name, o in objects if is_redis(o)]
        cls.others = [o for name, o in objects if not is_redis(o)]
        cls.files = {name for name, o in objects if is_redis(o)}
        (cls.deployment,) = [o for o in cls.redis if o["kind"] == "Deployment"]
        (cls.service,) = [o for o in cls.redis if o["kind"] == "Service"]
        cls.pod = cls.deployment["spec"]["template"]
        (cls.container,) = cls.pod["spec"]["containers"]
        cls.ports = {p["name"]: p["containerPort"] for p in cls.container["ports"]}
        (configmap,) = [o for o in cls.others if o["kind"] == "ConfigMap"]
        cls.store = configmap["data"]["FEED_INGEST_DEDUP_STORE"]

    def test_only_a_deployment_and_a_service_in_redis_yaml(self):
        self.assertEqual(self.files, {"redis.yaml"})
        self.assertEqual(sorted(o["kind"] for o in self.redis), ["Deployment", "Service"])
        for obj in self.redis:
            self.assertEqual(obj["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(self.service["metadata"]["name"], REDIS)

    def test_said_to_be_for_development_only(self):
        with open(os.path.join(K8S_DIR, "redis.yaml"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("DEVELOPMENT ONLY", text)
        self.assertIn("ElastiCache", text)
        self.assertIn("MemoryDB", text)

    def test_one_redis_7_without_persistence(self):
        self.assertEqual(self.deployment["spec"]["replicas"], 1)
        self.assertEqual(self.deployment["spec"].get("strategy", {}).get("type"), "Recreate",
                         "never two pods, each with its own keys")
        self.assertRegex(self.container["image"], r"^redis:7(\.|$)")
        args = [str(a) for a in self.container.get("command", []) + self.container.get("args", [])]
        self.assertEqual(args[args.index("--save") + 1], "")
        self.assertEqual(args[args.index("--appendonly") + 1], "no")
        for vol in self.pod["spec"].get("volumes", []):
            self.assertIn("emptyDir", vol, "no persistent volume")
        if "--maxmemory" in args:
            limit = k8s_bytes(self.container["resources"]["limits"]["memory"])
            self.assertLess(redis_bytes(args[args.index("--maxmemory") + 1]), limit,
                            "Redis must evict before the container is OOM-killed")
            self.assertTrue(args[args.index("--maxmemory-policy") + 1].startswith("volatile-"))

    def test_probes_and_resources(self):
        for probe in ("readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                self.assertIn(probe, self.container)
        ready = self.container["readinessProbe"]["exec"]["command"]
        self.assertEqual(ready[:2], ["redis-cli", "ping"])
        res = self.container["resources"]
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                self.assertIn(r, res[kind], "%s.%s" % (kind, r))

    def test_restricted_pod_security(self):
        pod_sc = self.pod["spec"].get("securityContext", {})
        sc = self.container["securityContext"]
        self.assertTrue(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")))
        self.assertNotEqual(sc.get("runAsUser", pod_sc.get("runAsUser")), 0)
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        self.assertEqual(seccomp.get("type"), "RuntimeDefault")
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertFalse(sc.get("privileged", False))

    def test_service_reaches_redis(self):
        self.assertTrue(selects(self.service["spec"]["selector"], self.pod["metadata"]["labels"]))
        self.assertTrue(selects(self.deployment["spec"]["selector"]["matchLabels"],
                                self.pod["metadata"]["labels"]))
        (port,) = self.service["spec"]["ports"]
        self.assertEqual(port["port"], 6379)
        target = port.get("targetPort", port["port"])
        self.assertEqual(self.ports[target] if isinstance(target, str) else target, 6379)
        self.assertNotEqual(self.service["spec"].get("type"), "LoadBalancer")

    def test_dedup_store_names_the_service(self):
        m = re.fullmatch(r"redis://([^:/]+):(\d+)(?:/(\d+))?", self.store)
        self.assertTrue(m, "FEED_INGEST_DEDUP_STORE=%r is no redis://HOST:PORT[/DB]" % self.store)
        host, port = m.group(1), int(m.group(2))
        self.assertIn(host, {REDIS, "%s.%s" % (REDIS, NAMESPACE), "%s.%s.svc" % (REDIS, NAMESPACE),
                             "%s.%s.svc.cluster.local" % (REDIS, NAMESPACE)})
        self.assertEqual(port, self.service["spec"]["ports"][0]["port"])

    def test_selectors_do_not_mix_the_pods(self):
        redis_labels = self.pod["metadata"]["labels"]
        for obj in self.others:
            spec = obj.get("spec", {})
            selector = spec.get("selector")
            if isinstance(selector, dict) and "matchLabels" in selector:
                selector = selector["matchLabels"]
            if isinstance(selector, dict) and selector:
                with self.subTest(kind=obj["kind"], name=obj["metadata"]["name"]):
                    self.assertFalse(selects(selector, redis_labels),
                                     "%s %s selects the Redis pod" % (obj["kind"],
                                                                      obj["metadata"]["name"]))
            if obj["kind"] == "Deployment":
                self.assertFalse(selects(self.service["spec"]["selector"],
                                         obj["spec"]["template"]["metadata"]["labels"]))


if __name__ == "__main__":
    ds.main()
