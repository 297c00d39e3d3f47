#!/usr/bin/env python3
"""Static checks of deploy/terraform/ (terraform itself cannot run here: no
provider can be downloaded).

- Every .tf file parses with HashiCorp's HCL parser (tests/deploy/hclcheck, Go,
  Debian's golang-go + golang-github-hashicorp-hcl-v2-dev; skipped without
  them) and `terraform fmt -check` when a terraform binary is on PATH; the
  structure read by deploy_support.hcl_parse must equal the Go parser's, so
  the checks below stand on a real parse.
- The producer policy is an aws_iam_policy_document with exactly the MSK
  data-plane actions the brokers check: kafka-cluster:Connect and
  kafka-cluster:WriteDataIdempotently on the cluster ARN,
  kafka-cluster:DescribeTopic and kafka-cluster:WriteData on the topic ARN;
  no control-plane kafka:* action (the seed's kafka:WriteData does not exist).
- The ARNs, evaluated with sample values, have MSK's shapes:
  arn:P:kafka:R:A:cluster/NAME/UUID and arn:P:kafka:R:A:topic/NAME/UUID/TOPIC.
- The topic has the seed's settings; the role trusts EC2 (with an instance
  profile) and, optionally, one EKS service account (IRSA) that matches
  deploy/kubernetes; providers are pinned; the outputs exist.

Run: /usr/bin/python3 tests/deploy/test_terraform.py
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_support as ds  # noqa: E402

TF_DIR = os.path.join(ds.REPO, "deploy", "terraform")
HCLCHECK = os.path.join(ds.REPO, "tests", "deploy", "hclcheck", "main.go")
DEBIAN_GOPATH = "/usr/share/gocode"
HCL_SRC = os.path.join(DEBIAN_GOPATH, "src", "github.com", "hashicorp", "hcl", "v2")

CLUSTER_ACTIONS = {"kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"}
TOPIC_ACTIONS = {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}


def tf_files():
    return sorted(glob.glob(os.path.join(TF_DIR, "*.tf")))


def load_all():
    """{filename: HclBlock} and a merged root for lookups across files."""
    parsed = {os.path.basename(p): ds.hcl_parse(p) for p in tf_files()}
    merged = ds.HclBlock("module", [])
    for root in parsed.values():
        merged.blocks.extend(root.blocks)
    return parsed, merged


def strip_comments(text):
    """HCL text without # // /* */ comments (strings kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif c == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Evaluator:
    """Evaluates the string templates of locals with sample variable values:
    "${local.x}", "${var.y}", data.aws_partition.current.*, coalesce(a, b)."""

    def __init__(self, merged, variables):
        self.locals = {}
        for block in merged.find("locals"):
            self.locals.update(block.attributes)
        self.vars = variables
        self.data = {"data.aws_partition.current.partition": "aws",
                     "data.aws_partition.current.dns_suffix": "amazonaws.com"}

    def ref(self, name):
        name = name.strip()
        if name.startswith("var."):
            return self.vars[name[4:]]
        if name.startswith("local."):
            return self.expr(self.locals[name[6:]])
        if name in self.data:
            return self.data[name]
        m = re.fullmatch(r"coalesce\((.*)\)", name)
        if m:
            for part in m.group(1).split(","):
                value = self.ref(part)
                if value not in (None, ""):
                    return value
            return None
        raise KeyError("cannot evaluate %r" % name)

    def expr(self, text):
        text = text.strip()
        if text.startswith('"') and text.endswith('"'):
            return re.sub(r"\$\{([^}]*)\}", lambda m: str(self.ref(m.group(1))), text[1:-1])
        return self.ref(text)


def variable_defaults(merged):
    defaults = {}
    for block in merged.find("variable"):
        if "default" in block.attributes:
            defaults[block.labels[0]] = block.attributes["default"]
    return defaults


class TerraformParse(unittest.TestCase):
    def test_files_exist(self):
        names = {os.path.basename(p) for p in tf_files()}
        for required in ("versions.tf", "variables.tf", "main.tf", "outputs.tf"):
            self.assertIn(required, names)

    def test_reader_parses_every_file(self):
        for path in tf_files():
            with self.subTest(path=path):
                root = ds.hcl_parse(path)
                self.assertTrue(root.blocks, "%s has no blocks" % path)

    def test_hashicorp_hcl_parser(self):
        go = shutil.which("go")
        if go is None or not os.path.isdir(HCL_SRC):
            self.skipTest("Go or Debian's golang-github-hashicorp-hcl-v2-dev is missing: "
                          "apt-get install golang-go golang-github-hashicorp-hcl-v2-dev")
        env = dict(os.environ, GO111MODULE="off", GOPATH=DEBIAN_GOPATH, GOFLAGS="",
                   GOCACHE=os.environ.get("GOCACHE", "/tmp/feed-ingest-gocache"),
                   GOPROXY="off", CGO_ENABLED="0")
        files = [os.path.relpath(p, ds.REPO) for p in tf_files()]
        out = subprocess.run([go, "run", HCLCHECK] + files, cwd=ds.REPO, env=env,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, "HCL parse failed:\n" + out.stderr)
        trees = json.loads(out.stdout)
        for rel in files:
            with self.subTest(file=rel):
                root = ds.hcl_parse(os.path.join(ds.REPO, rel))
                ours = {"attributes": root.attributes,
                        "blocks": [b.to_tree() for b in root.blocks]}
                self.assertEqual(ours, trees[rel],
                                 "deploy_support.hcl_parse disagrees with hcl/v2 on " + rel)

    def test_terraform_fmt(self):
        terraform = shutil.which("terraform")
        if terraform is None:
            self.skipTest("no terraform binary on PATH")
        out = subprocess.run([terraform, "fmt", "-check", "-diff", "-recursive", TF_DIR],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, "terraform fmt -check:\n%s%s" % (out.stdout, out.stderr))


class TerraformContent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files, cls.root = load_all()
        cls.defaults = variable_defaults(cls.root)

    # --- providers -----------------------------------------------------------

    def test_providers_pinned(self):
        tf = self.files["versions.tf"].one("terraform")
        self.assertIn("required_version", tf.attributes)
        providers = tf.one("required_providers").attributes
        self.assertEqual(set(providers), {"aws", "kafka"})
        for name, source in (("aws", "hashicorp/aws"), ("kafka", "Mongey/kafka")):
            spec = providers[name]
            self.assertRegex(spec, r'source\s*=\s*"%s"' % re.escape(source))
            m = re.search(r'version\s*=\s*"([^"]*)"', spec)
            self.assertIsNotNone(m, "%s has no version" % name)
            self.assertRegex(m.group(1), r"^=?\s*\d+\.\d+\.\d+$",
                             "%s version %r is a range, not a pin" % (name, m.group(1)))

    def test_kafka_provider_auth_is_variables(self):
        kafka = self.root.one("provider", "kafka").attributes
        self.assertEqual(kafka["bootstrap_servers"], "var.kafka_bootstrap_servers")
        for attr in ("tls_enabled", "sasl_mechanism", "sasl_username", "sasl_password",
                     "sasl_aws_role_arn"):
            self.assertIn("var.", kafka.get(attr, ""), "provider kafka %s" % attr)
        self.assertIn("var.region", kafka["sasl_aws_region"])
        self.assertIn("sensitive", self.root.one("variable", "kafka_sasl_password").attributes)

    # --- topic ---------------------------------------------------------------

    def test_topic_has_the_seed_settings(self):
        topic = self.root.one("resource", "kafka_topic", "feed_interactions").attributes
        self.assertEqual(topic["name"], "var.topic_name")
        self.assertEqual(self.defaults["topic_name"], '"feed.interactions.v1"')
        self.assertEqual(topic["partitions"], "var.topic_partitions")
        self.assertEqual(self.defaults["topic_partitions"], "6")
        self.assertEqual(topic["replication_factor"], "var.topic_replication_factor")
        self.assertEqual(self.defaults["topic_replication_factor"], "3")
        self.assertEqual(topic["config"], "local.topic_config")
        config = self.root.one("locals").attributes["topic_config"]
        self.assertRegex(config, r'"retention\.ms"\s*=\s*tostring\(var\.topic_retention_ms\)')
        self.assertEqual(self.defaults["topic_retention_ms"], "604800000")
        self.assertRegex(config, r'"compression\.type"\s*=\s*"snappy"')

    def test_overflow_topic_has_the_same_settings(self):
        main = self.root.one("resource", "kafka_topic", "feed_interactions").attributes
        over = self.root.one("resource", "kafka_topic", "feed_interactions_overflow").attributes
        self.assertEqual(over["name"], "var.overflow_topic_name")
        self.assertEqual(self.defaults["overflow_topic_name"], '"feed.interactions.v1.overflow"')
        for key in ("partitions", "replication_factor", "config"):
            self.assertEqual(over[key], main[key], key)

    # --- policy --------------------------------------------------------------

    def policy_statements(self):
        doc = self.root.one("data", "aws_iam_policy_document", "producer")
        return doc.find("statement")

    def test_policy_is_a_policy_document(self):
        policy = self.root.one("resource", "aws_iam_role_policy").attributes
        self.assertEqual(policy["policy"], "data.aws_iam_policy_document.producer.json")
        self.assertEqual(policy["role"], "aws_iam_role.feed_rec_producer.id")

    def test_policy_actions_and_resources(self):
        statements = self.policy_statements()
        self.assertEqual(len(statements), 2)
        by_resource = {}
        for st in statements:
            attrs = st.attributes
            self.assertEqual(ds.hcl_string(attrs.get("effect", '"Allow"')), "Allow")
            self.assertNotIn("not_actions", attrs)
            self.assertNotIn("not_resources", attrs)
            self.assertFalse(st.find("condition"), "no condition narrows or widens these")
            actions = set(ds.hcl_string_list(attrs["actions"]))
            resources = attrs["resources"].replace(" ", "")
            by_resource[resources] = actions
        self.assertEqual(by_resource, {"[local.cluster_arn]": CLUSTER_ACTIONS,
                                       "[local.topic_arn,local.overflow_arn]": TOPIC_ACTIONS})

    def test_arns_have_msk_shapes(self):
        sample = {"region": "us-east-1", "account_id": "123456789012", "partition": None,
                  "msk_cluster_name": "video-window-msk",
                  "msk_cluster_uuid": "7b3c9f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-2",
                  "topic_name": "feed.interactions.v1",
                  "overflow_topic_name": "feed.interactions.v1.overflow"}
        ev = Evaluator(self.root, sample)
        self.assertEqual(
            ev.ref("local.cluster_arn"),
            "arn:aws:kafka:us-east-1:123456789012:cluster/video-window-msk/"
            "7b3c9f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-2")
        self.assertEqual(
            ev.ref("local.topic_arn"),
            "arn:aws:kafka:us-east-1:123456789012:topic/video-window-msk/"
            "7b3c9f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-2/feed.interactions.v1")
        self.assertEqual(ev.ref("local.overflow_arn"), ev.ref("local.topic_arn") + ".overflow")
        # Another partition (China, GovCloud) goes into both ARNs.
        china = Evaluator(self.root, dict(sample, partition="aws-cn", region="cn-north-1"))
        self.assertTrue(china.ref("local.cluster_arn").startswith("arn:aws-cn:kafka:cn-north-1:"))
        self.assertTrue(china.ref("local.topic_arn").startswith("arn:aws-cn:kafka:cn-north-1:"))

    def test_cluster_uuid_cannot_be_an_arn(self):
        # The seed put a whole cluster ARN where NAME/UUID belong.
        for name in ("msk_cluster_uuid", "msk_cluster_name"):
            block = self.root.one("variable", name)
            validation = block.one("validation").attributes["condition"]
            pattern = re.search(r'regex\("([^"]*)"', validation).group(1).replace("\\\\", "\\")
            self.assertIsNone(re.search(pattern, "arn:aws:kafka:us-east-1:1:cluster/a/b"),
                              "%s accepts an ARN" % name)

    def test_no_control_plane_or_made_up_actions(self):
        for path in tf_files():
            with open(path, encoding="utf-8") as f:
                code = strip_comments(f.read())
            with self.subTest(path=os.path.basename(path)):
                self.assertNotRegex(code, r'"kafka:[A-Za-z*]', "control-plane kafka: action")
                self.assertNotIn("kafka:WriteData", code)
                self.assertNotRegex(code, r'"kafka-cluster:\*"', "wildcard action")
                self.assertNotRegex(code, r'"\*"', "wildcard action or resource")
                # ARNs are built from the partition, never hard-coded.
                self.assertNotIn('"arn:aws:', code)
                self.assertNotIn("jsonencode", code, "policies are aws_iam_policy_document")

    # --- role ----------------------------------------------------------------

    def test_role_and_instance_profile(self):
        role = self.root.one("resource", "aws_iam_role", "feed_rec_producer").attributes
        self.assertEqual(role["name"], "var.role_name")
        self.assertEqual(self.defaults["role_name"], '"feed-rec-producer"')
        self.assertEqual(role["assume_role_policy"], "data.aws_iam_policy_document.assume_role.json")
        profile = self.root.one("resource", "aws_iam_instance_profile").attributes
        self.assertEqual(profile["role"], "aws_iam_role.feed_rec_producer.name")
        self.assertIn("var.ec2_enabled", profile["count"])

    def test_trust_policy(self):
        doc = self.root.one("data", "aws_iam_policy_document", "assume_role")
        dynamics = doc.find("dynamic", "statement")
        self.assertEqual(len(dynamics), 2)
        by_guard = {d.attributes["for_each"]: d.one("content") for d in dynamics}
        ec2 = next(c for g, c in by_guard.items() if "var.ec2_enabled" in g)
        self.assertEqual(ds.hcl_string_list(ec2.attributes["actions"]), ["sts:AssumeRole"])
        principal = ec2.one("principals").attributes
        self.assertEqual(ds.hcl_string(principal["type"]), "Service")
        self.assertEqual(principal["identifiers"], "[local.ec2_service_principal]")
        ev = Evaluator(self.root, {"irsa_oidc_provider_url": None})
        self.assertEqual(ev.ref("local.ec2_service_principal"), "ec2.amazonaws.com")

        irsa = next(c for g, c in by_guard.items() if "var.irsa_enabled" in g)
        self.assertEqual(ds.hcl_string_list(irsa.attributes["actions"]),
                         ["sts:AssumeRoleWithWebIdentity"])
        principal = irsa.one("principals").attributes
        self.assertEqual(ds.hcl_string(principal["type"]), "Federated")
        self.assertEqual(principal["identifiers"], "[var.irsa_oidc_provider_arn]")
        conditions = {ds.hcl_string(c.attributes["variable"]): c.attributes
                      for c in irsa.find("condition")}
        self.assertEqual(set(conditions), {"${local.oidc_issuer}:sub", "${local.oidc_issuer}:aud"})
        sub = conditions["${local.oidc_issuer}:sub"]
        self.assertEqual(ds.hcl_string(sub["test"]), "StringEquals")
        self.assertEqual(
            ds.hcl_string_list(sub["values"]),
            ["system:serviceaccount:${var.irsa_namespace}:${var.irsa_service_account}"])
        self.assertEqual(ds.hcl_string(conditions["${local.oidc_issuer}:aud"]["test"]),
                         "StringEquals")
        issuer = Evaluator(self.root, {"irsa_oidc_provider_url":
                                       "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"})
        self.assertIn('trimprefix(var.irsa_oidc_provider_url, "https://")',
                      issuer.locals["oidc_issuer"])

    def test_irsa_variables_and_kubernetes_agree(self):
        for name in ("irsa_enabled", "irsa_oidc_provider_arn", "irsa_oidc_provider_url",
                     "irsa_namespace", "irsa_service_account"):
            self.root.one("variable", name)
        self.assertEqual(self.defaults["irsa_enabled"], "false")
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML (python3-yaml) is missing")
        with open(os.path.join(ds.REPO, "deploy", "kubernetes", "serviceaccount.yaml")) as f:
            sa = yaml.safe_load(f)
        self.assertEqual(ds.hcl_string(self.defaults["irsa_namespace"]), sa["metadata"]["namespace"])
        self.assertEqual(ds.hcl_string(self.defaults["irsa_service_account"]), sa["metadata"]["name"])
        role_arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        self.assertTrue(role_arn.endswith(":role/" + ds.hcl_string(self.defaults["role_name"])))

    def test_arn_inputs_are_variables(self):
        for name in ("region", "account_id", "msk_cluster_name", "msk_cluster_uuid", "partition",
                     "kafka_bootstrap_servers", "kafka_sasl_mechanism"):
            self.root.one("variable", name)
        self.root.one("data", "aws_partition", "current")

    def test_outputs(self):
        outputs = {b.labels[0]: b.attributes["value"] for b in self.root.find("output")}
        self.assertEqual(outputs["role_arn"], "aws_iam_role.feed_rec_producer.arn")
        self.assertIn("aws_iam_instance_profile.feed_rec_producer", outputs["instance_profile_name"])

    def test_every_variable_is_used_and_every_reference_declared(self):
        declared = {b.labels[0] for b in self.root.find("variable")}
        code = ""
        for path in tf_files():
            if os.path.basename(path) != "variables.tf":
                with open(path, encoding="utf-8") as f:
                    code += strip_comments(f.read())
        used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", code))
        self.assertEqual(used - declared, set(), "undeclared variables")
        self.assertEqual(declared - used, set(), "unused variables")
        locals_declared = set()
        for block in self.root.find("locals"):
            locals_declared |= set(block.attributes)
        self.assertEqual(set(re.findall(r"\blocal\.([A-Za-z0-9_]+)", code)) - locals_declared, set())

    def test_tfvars_example_names_declared_variables(self):
        example = os.path.join(TF_DIR, "terraform.tfvars.example")
        root = ds.hcl_parse(example)
        declared = {b.labels[0] for b in self.root.find("variable")}
        self.assertEqual(set(root.attributes) - declared, set())
        required = {b.labels[0] for b in self.root.find("variable") if "default" not in b.attributes}
        self.assertEqual(required - set(root.attributes), set(), "the example omits required variables")


if __name__ == "__main__":
    ds.main()
