output "cluster_name" {
  description = "ECS cluster (valkey-chaos --cluster)."
  value       = aws_ecs_cluster.main.name
}

output "valkey_service_name" {
  description = "Valkey ECS service (valkey-chaos --service)."
  value       = module.valkey.service_name
}

output "valkey_endpoint" {
  description = "host:port of the cache inside the VPC."
  value       = "${module.valkey.service_discovery_name}.${var.service_discovery_namespace}:${module.valkey.port}"
}

output "valkey_efs_file_system_id" {
  description = "EFS file system holding dump.rdb."
  value       = module.valkey.efs_file_system_id
}

output "valkey_efs_access_point_id" {
  description = "Access point to mount it through (mount -t efs -o tls,iam,accesspoint=...)."
  value       = module.valkey.efs_access_point_id
}

output "valkey_log_group_name" {
  description = "Log group of the Valkey container."
  value       = module.valkey.log_group_name
}

output "chaos_results_bucket" {
  description = "Bucket of the scheduled runs' results (null when the schedule is off)."
  value       = one(module.chaos_schedule[*].results_bucket)
}

output "chaos_repository_url" {
  description = "ECR repository to push the harness image to (null when the schedule is off)."
  value       = one(module.chaos_schedule[*].repository_url)
}

output "valkey_capacity" {
  description = "The task's cpu, memory, stop timeout, health check, maxmemory and EFS throughput (valkey-chaos capacity)."
  value       = module.valkey.capacity
}

output "valkey_alarm_names" {
  description = "The cache's CloudWatch alarms by purpose."
  value       = module.valkey.alarm_names
}

output "valkey_harness_user" {
  description = "ACL user valkey-chaos authenticates as (null without a harness secret)."
  value       = module.valkey.harness_user
}

output "chaos_alerts_topic_arn" {
  description = "SNS topic of the chaos schedule's alarms and task-exit rule (null when the schedule is off)."
  value       = one(module.chaos_schedule[*].alerts_topic_arn)
}
