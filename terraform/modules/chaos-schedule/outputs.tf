output "repository_url" {
  description = "ECR repository to push the harness image to."
  value       = aws_ecr_repository.harness.repository_url
}

output "task_definition_arn" {
  description = "ARN of the harness task definition (run it by hand with aws ecs run-task)."
  value       = aws_ecs_task_definition.harness.arn
}

output "harness_command" {
  description = "The valkey-chaos command line the schedule runs."
  value       = local.harness_command
}

output "results_bucket" {
  description = "Bucket that receives results/<run-id>/ under runs/."
  value       = aws_s3_bucket.results.id
}

output "verdict_alarm_name" {
  description = "CloudWatch alarm on verdict_failed."
  value       = aws_cloudwatch_metric_alarm.verdict.alarm_name
}

output "log_group_name" {
  description = "Log group of the harness and upload containers."
  value       = aws_cloudwatch_log_group.harness.name
}

output "task_role_arn" {
  description = "Role the harness runs as."
  value       = aws_iam_role.harness_task.arn
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.harness.arn
}

output "alerts_topic_arn" {
  description = "SNS topic every alarm of this module and the task-exit rule notify: subscribe to it."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "This module's alarms by purpose: verdict, heartbeat, outcome, schedule_dlq, run_in_progress."
  value = {
    verdict         = aws_cloudwatch_metric_alarm.verdict.alarm_name
    heartbeat       = aws_cloudwatch_metric_alarm.heartbeat.alarm_name
    outcome         = aws_cloudwatch_metric_alarm.outcome.alarm_name
    schedule_dlq    = aws_cloudwatch_metric_alarm.schedule_dlq.alarm_name
    run_in_progress = aws_cloudwatch_metric_alarm.run_in_progress.alarm_name
  }
}

output "composite_alarm_names" {
  description = "The <alarm>-unless-chaos composite alarm per suppressed_alarm_names entry."
  value       = { for k, v in aws_cloudwatch_composite_alarm.unless_chaos : k => v.alarm_name }
}

output "schedule_dlq_arn" {
  description = "Dead-letter queue of the schedule."
  value       = aws_sqs_queue.schedule_dlq.arn
}
