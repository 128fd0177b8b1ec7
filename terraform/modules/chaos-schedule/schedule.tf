resource "aws_scheduler_schedule" "harness" {
  name                         = var.name
  description                  = "valkey-chaos against ${var.valkey_service_name}"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.cluster_arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.harness.arn
      launch_type         = "FARGATE"
      task_count          = 1

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = var.security_group_ids
        assign_public_ip = false
      }
    }

    # What the scheduler could not deliver (RunTask refused) is kept here and
    # alarmed (alerts.tf).
    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }

    # A retried run would stop the cache a second time: never retry.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 3600
    }
  }
}

# The harness publishes verdict_failed = 1 for a failed run and 0 for a pass.
# Missing data keeps the state (the latest run's verdict until the next run
# reports); the heartbeat and outcome alarms (alerts.tf) catch runs that
# report nothing or end without a verdict.
resource "aws_cloudwatch_metric_alarm" "verdict" {
  alarm_name          = "${var.name}-verdict-failed"
  alarm_description   = "A scheduled valkey-chaos run failed its verdict (lost acknowledged writes, an SLO or an invariant). Results: s3://${aws_s3_bucket.results.id}/runs/"
  namespace           = var.metric_namespace
  metric_name         = "verdict_failed"
  dimensions          = var.verdict_alarm_dimensions
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = local.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}
