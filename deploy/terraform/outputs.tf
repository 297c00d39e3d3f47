output "role_arn" {
  description = "ARN of the producer role: the eks.amazonaws.com/role-arn annotation of feed-ingest's service account (deploy/kubernetes/serviceaccount.yaml)."
  value       = aws_iam_role.feed_rec_producer.arn
}

output "role_name" {
  description = "Name of the producer role."
  value       = aws_iam_role.feed_rec_producer.name
}

output "instance_profile_name" {
  description = "Instance profile to launch EC2 instances running feed-ingest with (null when ec2_enabled is false)."
  value       = one(aws_iam_instance_profile.feed_rec_producer[*].name)
}

output "cluster_arn" {
  description = "The MSK cluster ARN the policy grants Connect and WriteDataIdempotently on."
  value       = local.cluster_arn
}

output "topic_arn" {
  description = "The main topic's ARN; the policy grants DescribeTopic and WriteData on it and on the overflow topic."
  value       = local.topic_arn
}

output "topic_name" {
  description = "The topic, as feed-ingest's --topic (FEED_INGEST_TOPIC)."
  value       = kafka_topic.feed_interactions.name
}

output "overflow_topic_name" {
  description = "The overflow topic, as feed-ingest's --overflow-topic (FEED_INGEST_OVERFLOW_TOPIC)."
  value       = kafka_topic.feed_interactions_overflow.name
}
