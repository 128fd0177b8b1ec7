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
