# Providers pinned to exact versions; `terraform init` writes their checksums
# to .terraform.lock.hcl, which belongs in version control next to this file.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.80.0"
    }
    # Kafka admin API (CreateTopics, DescribeConfigs): works on every Kafka and
    # MSK cluster, unlike `aws kafka create-topic` (MSK Provisioned with Kafka
    # 3.6+ and a recent AWS CLI only).
    kafka = {
      source  = "Mongey/kafka"
      version = "0.12.1"
    }
  }
}
