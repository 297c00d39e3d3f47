# --- Where the MSK cluster is -------------------------------------------------

variable "region" {
  description = "AWS region of the MSK cluster, e.g. us-east-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "account_id" {
  description = "AWS account ID that owns the MSK cluster (12 digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "partition" {
  description = "AWS partition for ARNs (aws, aws-cn, aws-us-gov). null: the partition of the provider's credentials (data.aws_partition)."
  type        = string
  default     = null
}

variable "msk_cluster_name" {
  description = "The MSK cluster's name: the first path element after cluster/ in its ARN, e.g. video-window-msk."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,64}$", var.msk_cluster_name))
    error_message = "msk_cluster_name is the cluster's name (letters, digits, '-'), not its ARN."
  }
}

variable "msk_cluster_uuid" {
  description = "The MSK cluster's UUID: the last path element of its ARN, e.g. 7b3c9f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-2."
  type        = string

  validation {
    # Not an ARN and no '/': the topic ARN is cluster-name/cluster-uuid/topic.
    condition     = can(regex("^[A-Za-z0-9-]+$", var.msk_cluster_uuid))
    error_message = "msk_cluster_uuid is the last element of the cluster ARN (letters, digits, '-'), not the ARN itself."
  }
}

# --- The topic ----------------------------------------------------------------

variable "topic_name" {
  description = "The topic feed-ingest writes to."
  type        = string
  default     = "feed.interactions.v1"
}

variable "overflow_topic_name" {
  description = "The topic for a hot user's excess (feed-ingest's --overflow-topic, --hot-key-action=overflow); same partitions and settings as topic_name."
  type        = string
  default     = "feed.interactions.v1.overflow"
}

variable "topic_partitions" {
  description = "Partitions of the topic. Records are keyed by userId; changing the count moves users to other partitions."
  type        = number
  default     = 6
}

variable "topic_replication_factor" {
  description = "Replicas of each partition: 3 in production, 1 for a single-broker development cluster."
  type        = number
  default     = 3
}

variable "topic_retention_ms" {
  description = "retention.ms of the topic: 7 days."
  type        = number
  default     = 604800000
}

variable "topic_min_insync_replicas" {
  description = "min.insync.replicas: with acks=all, a write needs this many replicas. null leaves the broker default."
  type        = number
  default     = 2
}

# --- How Terraform reaches Kafka (the admin side, not feed-ingest) -------------

variable "kafka_bootstrap_servers" {
  description = "Bootstrap brokers for the Kafka provider, host:port. For MSK IAM: BootstrapBrokerStringSaslIam (port 9098)."
  type        = list(string)
}

variable "kafka_tls_enabled" {
  description = "Talk TLS to the brokers (MSK: always)."
  type        = bool
  default     = true
}

variable "kafka_sasl_mechanism" {
  description = "SASL mechanism for the Kafka provider: aws-iam (MSK IAM), scram-sha512, scram-sha256, plain, or null for none."
  type        = string
  default     = "aws-iam"
}

variable "kafka_sasl_aws_role_arn" {
  description = "With aws-iam: a role for Terraform to assume to administer topics (needs kafka-cluster:CreateTopic/DescribeTopic/AlterTopic/DescribeTopicDynamicConfiguration/AlterTopicDynamicConfiguration). null: the caller's own credentials. Never feed-rec-producer: it may only write."
  type        = string
  default     = null
}

variable "kafka_sasl_aws_profile" {
  description = "With aws-iam: AWS profile for the Kafka provider. null: the default credentials chain."
  type        = string
  default     = null
}

variable "kafka_sasl_username" {
  description = "With scram-*/plain: SASL user name."
  type        = string
  default     = null
}

variable "kafka_sasl_password" {
  description = "With scram-*/plain: SASL password."
  type        = string
  default     = null
  sensitive   = true
}

# --- The producer role --------------------------------------------------------

variable "role_name" {
  description = "Name of the IAM role feed-ingest runs as."
  type        = string
  default     = "feed-rec-producer"
}

variable "ec2_enabled" {
  description = "Let EC2 instances assume the role (trust ec2.amazonaws.com) and create an instance profile."
  type        = bool
  default     = true
}

variable "irsa_enabled" {
  description = "Let a Kubernetes service account on EKS assume the role (IRSA, sts:AssumeRoleWithWebIdentity)."
  type        = bool
  default     = false
}

variable "irsa_oidc_provider_arn" {
  description = "With irsa_enabled: ARN of the EKS cluster's IAM OIDC provider (aws_iam_openid_connect_provider)."
  type        = string
  default     = null
}

variable "irsa_oidc_provider_url" {
  description = "With irsa_enabled: the EKS cluster's OIDC issuer URL, with or without https:// (e.g. https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE)."
  type        = string
  default     = null
}

variable "irsa_namespace" {
  description = "With irsa_enabled: the namespace of feed-ingest's service account (deploy/kubernetes: feed-ingest)."
  type        = string
  default     = "feed-ingest"
}

variable "irsa_audience" {
  description = "With irsa_enabled: the audience (aud) of the service account token; EKS uses sts.amazonaws.com."
  type        = string
  default     = "sts.amazonaws.com"
}

variable "irsa_service_account" {
  description = "With irsa_enabled: the name of feed-ingest's service account (deploy/kubernetes: feed-ingest)."
  type        = string
  default     = "feed-ingest"
}

variable "tags" {
  description = "Tags for the IAM resources."
  type        = map(string)
  default = {
    service = "feed-ingest"
  }
}
