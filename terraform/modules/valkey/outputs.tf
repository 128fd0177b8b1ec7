output "efs_file_system_id" {
  description = "ID of the EFS file system holding dump.rdb."
  value       = aws_efs_file_system.valkey.id
}

output "efs_file_system_arn" {
  description = "ARN of the EFS file system (for the task role's ClientMount/ClientWrite grant)."
  value       = aws_efs_file_system.valkey.arn
}

output "efs_access_point_id" {
  description = "ID of the access point the task mounts /data through."
  value       = aws_efs_access_point.valkey.id
}

output "efs_access_point_arn" {
  description = "ARN of the access point (the elasticfilesystem:AccessPointArn condition of the task role)."
  value       = aws_efs_access_point.valkey.arn
}

output "service_name" {
  description = "ECS service name (valkey-chaos --service)."
  value       = aws_ecs_service.valkey.name
}

output "service_arn" {
  description = "ECS service ARN."
  value       = aws_ecs_service.valkey.id
}

output "task_definition_arn" {
  description = "ARN of the current task definition revision."
  value       = aws_ecs_task_definition.valkey.arn
}

output "container_name" {
  description = "Name of the Valkey container (the middle part of its log stream names)."
  value       = local.container_name
}

output "log_group_name" {
  description = "CloudWatch log group of the Valkey container."
  value       = aws_cloudwatch_log_group.valkey.name
}

output "log_group_arn" {
  description = "ARN of the Valkey log group."
  value       = aws_cloudwatch_log_group.valkey.arn
}

output "log_stream_prefix" {
  description = "awslogs stream prefix; streams are <prefix>/<container>/<task-id>."
  value       = var.log_stream_prefix
}

output "service_discovery_name" {
  description = "Cloud Map service name (resolves as <name>.<namespace>)."
  value       = aws_service_discovery_service.valkey.name
}

output "port" {
  description = "Port Valkey listens on."
  value       = var.container_port
}

output "secret_arns" {
  description = "Secrets Manager secret ARNs the task reads at start (passwords, TLS material): grant the execution role secretsmanager:GetSecretValue on exactly these."
  value       = local.secret_arns
}

output "app_user" {
  description = "ACL user of the application (null on an unauthenticated cache)."
  value       = local.auth_enabled ? var.app_user : null
}

output "harness_user" {
  description = "ACL user of valkey-chaos (its --user; null when harness_password_secret_arn is null)."
  value       = local.harness_enabled ? var.harness_user : null
}

output "tls_enabled" {
  description = "Whether the cache serves TLS only (valkey-chaos --tls)."
  value       = var.tls_enabled
}

output "alarm_names" {
  description = "The cache's CloudWatch alarms by purpose (save_errors, save_age, efs_burst_credits, running_tasks, memory); null where not created."
  value = {
    save_errors       = aws_cloudwatch_metric_alarm.save_errors.alarm_name
    save_age          = one(aws_cloudwatch_metric_alarm.save_age[*].alarm_name)
    efs_burst_credits = one(aws_cloudwatch_metric_alarm.efs_burst_credits[*].alarm_name)
    running_tasks     = aws_cloudwatch_metric_alarm.running_tasks.alarm_name
    memory            = aws_cloudwatch_metric_alarm.memory.alarm_name
  }
}

output "capacity" {
  description = "What `valkey-chaos capacity` needs about this task: cpu, memory (MiB), stop timeout, health check (interval, timeout, retries, start period, loading grace; seconds), maxmemory (bytes) and policy, EFS throughput mode and provisioned MiB/s."
  value = {
    cpu                              = var.cpu
    memory_mib                       = var.memory
    stop_timeout                     = var.stop_timeout
    health_check_interval            = var.health_check_interval
    health_check_timeout             = var.health_check_timeout
    health_check_retries             = var.health_check_retries
    health_check_start_period        = var.health_check_start_period
    health_check_loading_grace       = var.health_check_loading_grace
    maxmemory_bytes                  = local.maxmemory_bytes
    maxmemory_policy                 = var.maxmemory_policy
    efs_throughput_mode              = var.efs_throughput_mode
    efs_provisioned_throughput_mibps = var.efs_provisioned_throughput_mibps
    writer_lock_wait                 = var.single_writer_lock ? var.writer_lock_wait : null
  }
}
