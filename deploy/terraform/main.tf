# The topics feed.interactions.v1 and feed.interactions.v1.overflow (where
# --hot-key-action=overflow writes a hot user's excess), and the IAM role
# feed-rec-producer that feed-ingest runs as on AWS MSK with IAM access control.
#
#   terraform init && terraform apply -var-file=prod.tfvars
#   (see terraform.tfvars.example)

provider "aws" {
  region = var.region
}

provider "kafka" {
  bootstrap_servers = var.kafka_bootstrap_servers
  tls_enabled       = var.kafka_tls_enabled
  sasl_mechanism    = var.kafka_sasl_mechanism
  sasl_aws_region   = var.kafka_sasl_mechanism == "aws-iam" ? var.region : null
  sasl_aws_role_arn = var.kafka_sasl_aws_role_arn
  sasl_aws_profile  = var.kafka_sasl_aws_profile
  sasl_username     = var.kafka_sasl_username
  sasl_password     = var.kafka_sasl_password
}

data "aws_partition" "current" {}

locals {
  partition = coalesce(var.partition, data.aws_partition.current.partition)

  # MSK IAM resource ARNs (the data-plane actions are checked against these):
  #   cluster  arn:PARTITION:kafka:REGION:ACCOUNT:cluster/CLUSTER_NAME/CLUSTER_UUID
  #   topic    arn:PARTITION:kafka:REGION:ACCOUNT:topic/CLUSTER_NAME/CLUSTER_UUID/TOPIC
  msk_arn_prefix = "arn:${local.partition}:kafka:${var.region}:${var.account_id}"
  cluster_arn    = "${local.msk_arn_prefix}:cluster/${var.msk_cluster_name}/${var.msk_cluster_uuid}"
  topic_arn      = "${local.msk_arn_prefix}:topic/${var.msk_cluster_name}/${var.msk_cluster_uuid}/${var.topic_name}"
  overflow_arn   = "${local.msk_arn_prefix}:topic/${var.msk_cluster_name}/${var.msk_cluster_uuid}/${var.overflow_topic_name}"

  # ec2.amazonaws.com, or ec2.amazonaws.com.cn in the China partition.
  ec2_service_principal = "ec2.${data.aws_partition.current.dns_suffix}"

  # Both topics' settings: 7 days, snappy.
  topic_config = merge(
    {
      "retention.ms"     = tostring(var.topic_retention_ms)
      "compression.type" = "snappy"
      "cleanup.policy"   = "delete"
    },
    var.topic_min_insync_replicas == null ? {} : {
      "min.insync.replicas" = tostring(var.topic_min_insync_replicas)
    },
  )

  # The issuer without its scheme, as IAM condition keys name it.
  oidc_issuer = var.irsa_oidc_provider_url == null ? "" : trimprefix(var.irsa_oidc_provider_url, "https://")
}

# --- The topic ----------------------------------------------------------------

resource "kafka_topic" "feed_interactions" {
  name               = var.topic_name
  partitions         = var.topic_partitions
  replication_factor = var.topic_replication_factor

  config = local.topic_config

  lifecycle {
    precondition {
      condition     = var.topic_min_insync_replicas == null || coalesce(var.topic_min_insync_replicas, 1) <= var.topic_replication_factor
      error_message = "topic_min_insync_replicas exceeds topic_replication_factor: acks=all writes would always fail."
    }
  }
}

# The same settings: a hot user's records keep their key and their order
# there, for a consumer that reads them later or slower.
resource "kafka_topic" "feed_interactions_overflow" {
  name               = var.overflow_topic_name
  partitions         = var.topic_partitions
  replication_factor = var.topic_replication_factor

  config = local.topic_config
}

# --- The producer role --------------------------------------------------------

# Who may assume the role: EC2 instances (through the instance profile below)
# and, with irsa_enabled, one Kubernetes service account on EKS.
data "aws_iam_policy_document" "assume_role" {
  dynamic "statement" {
    for_each = var.ec2_enabled ? [1] : []
    content {
      sid     = "EC2"
      effect  = "Allow"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = [local.ec2_service_principal]
      }
    }
  }

  dynamic "statement" {
    for_each = var.irsa_enabled ? [1] : []
    content {
      sid     = "EKSServiceAccount"
      effect  = "Allow"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.irsa_oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:sub"
        values   = ["system:serviceaccount:${var.irsa_namespace}:${var.irsa_service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:aud"
        values   = [var.irsa_audience]
      }
    }
  }
}

# What the role may do: produce to the two topics, nothing else. These are MSK's
# data-plane actions (kafka-cluster:*), checked by the brokers on the IAM
# listener; kafka:* actions are the control plane and give no data access.
data "aws_iam_policy_document" "producer" {
  # Connect to the cluster, and produce with the idempotent producer
  # (enable.idempotence=true needs WriteDataIdempotently on the cluster).
  statement {
    sid    = "Cluster"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  # Read the topics' metadata and write to them.
  statement {
    sid    = "Topic"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn, local.overflow_arn]
  }
}

resource "aws_iam_role" "feed_rec_producer" {
  name                 = var.role_name
  description          = "feed-ingest: produce to ${var.topic_name} on MSK cluster ${var.msk_cluster_name}"
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  max_session_duration = 3600
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = var.ec2_enabled || var.irsa_enabled
      error_message = "Set ec2_enabled or irsa_enabled (or both): nobody could assume the role."
    }
    precondition {
      condition     = !var.irsa_enabled || (var.irsa_oidc_provider_arn != null && var.irsa_oidc_provider_url != null)
      error_message = "irsa_enabled needs irsa_oidc_provider_arn and irsa_oidc_provider_url."
    }
  }
}

resource "aws_iam_role_policy" "feed_rec_producer_kafka" {
  name   = "${var.role_name}-kafka"
  role   = aws_iam_role.feed_rec_producer.id
  policy = data.aws_iam_policy_document.producer.json
}

resource "aws_iam_instance_profile" "feed_rec_producer" {
  count = var.ec2_enabled ? 1 : 0
  name  = var.role_name
  role  = aws_iam_role.feed_rec_producer.name
  tags  = var.tags
}
