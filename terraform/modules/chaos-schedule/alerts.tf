# A scheduled run never fails silently: every alarm below and the task-exit
# rule notify one topic. The harness publishes (namespace metric_namespace):
#   Heartbeat = 1 on every exit, whatever the outcome;
#   Outcome   = 1 with dimension Outcome = pass | fail | inconclusive |
#               invalid | refused | interrupted | harness-error;
#   verdict_failed = 1 / 0, run-wide without dimensions (and per trial).
# A run that never starts publishes nothing: the heartbeat alarm treats that
# silence as breaching, the dead-letter queue catches what the scheduler could
# not deliver, and the EventBridge rule catches a harness that exited non-zero.

locals {
  alarm_actions = concat([aws_sns_topic.alerts.arn], var.alarm_actions)
  # Metric math ids: a lowercase letter first, then letters, digits and _.
  outcome_ids = { for o in var.alarm_outcomes : o => "m_${replace(o, "-", "_")}" }
}

resource "aws_sns_topic" "alerts" {
  name = "${var.name}-alerts"
  # Not the AWS managed alias/aws/sns key: its policy does not let CloudWatch
  # alarms or EventBridge publish.
  kms_master_key_id = var.alert_topic_kms ? aws_kms_key.harness.arn : null
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "TheTaskExitRulePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.harness_failed.arn]
    }
  }

  statement {
    sid       = "ThisModulesAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"]
    }
  }
}

# The harness container stopped with a non-zero exit code (refused 2,
# failed 1, crashed, OOM-killed 137), or never started (no exit code).
resource "aws_cloudwatch_event_rule" "harness_failed" {
  name        = "${var.name}-harness-failed"
  description = "A valkey-chaos harness task in ${local.cluster_name} stopped without its harness container exiting 0."
  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn = [var.cluster_arn]
      group      = ["family:${var.name}"]
      lastStatus = ["STOPPED"]
      containers = {
        name     = ["harness"]
        exitCode = [{ anything-but = 0 }]
      }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "harness_failed" {
  rule      = aws_cloudwatch_event_rule.harness_failed.name
  target_id = "alerts"
  arn       = aws_sns_topic.alerts.arn
}

resource "aws_sqs_queue" "schedule_dlq" {
  name                      = "${var.name}-schedule-dlq"
  kms_master_key_id         = aws_kms_key.harness.arn
  message_retention_seconds = 1209600
  tags                      = var.tags
}

resource "aws_cloudwatch_metric_alarm" "schedule_dlq" {
  alarm_name          = "${var.name}-schedule-undelivered"
  alarm_description   = "EventBridge Scheduler could not start a valkey-chaos run (RunTask refused: capacity, permissions, a bad task definition). The event is in ${aws_sqs_queue.schedule_dlq.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.schedule_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}

# Every hourly bucket without a heartbeat breaches (missing data included);
# the alarm fires when all heartbeat_alarm_hours of them do.
resource "aws_cloudwatch_metric_alarm" "heartbeat" {
  alarm_name          = "${var.name}-no-heartbeat"
  alarm_description   = "No valkey-chaos run reported for ${var.heartbeat_alarm_hours} h: the schedule did not fire, the task did not start, or the harness could not publish."
  namespace           = var.metric_namespace
  metric_name         = "Heartbeat"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.heartbeat_alarm_hours
  datapoints_to_alarm = var.heartbeat_alarm_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  actions_enabled     = var.schedule_enabled
  alarm_actions       = local.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}

# Any run ending in one of alarm_outcomes within the last outcome_alarm_hours.
# FILL makes an hour without that outcome a 0, so the sum always has data.
resource "aws_cloudwatch_metric_alarm" "outcome" {
  alarm_name          = "${var.name}-bad-outcome"
  alarm_description   = "A valkey-chaos run ended ${join(", ", var.alarm_outcomes)} in the last ${var.outcome_alarm_hours} h. Results: s3://${aws_s3_bucket.results.id}/runs/"
  evaluation_periods  = var.outcome_alarm_hours
  datapoints_to_alarm = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  actions_enabled     = var.schedule_enabled
  alarm_actions       = local.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags

  metric_query {
    id          = "bad"
    expression  = join(" + ", [for o, id in local.outcome_ids : "FILL(${id}, 0)"])
    label       = "runs ending ${join("/", var.alarm_outcomes)}"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.outcome_ids

    content {
      id = metric_query.value

      metric {
        namespace   = var.metric_namespace
        metric_name = "Outcome"
        dimensions  = { Outcome = metric_query.key }
        stat        = "Sum"
        period      = 3600
      }
    }
  }
}

# A harness task is running: Container Insights reports its CPU per task
# family. The suppressor of the composite alarms below.
resource "aws_cloudwatch_metric_alarm" "run_in_progress" {
  alarm_name          = "${var.name}-run-in-progress"
  alarm_description   = "A valkey-chaos harness task is running in ${local.cluster_name} (not a problem: it suppresses the application's composite alarms)."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "CpuUtilized"
  dimensions          = { ClusterName = local.cluster_name, TaskDefinitionFamily = var.name }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  tags                = var.tags
}

resource "aws_cloudwatch_composite_alarm" "unless_chaos" {
  for_each = toset(var.suppressed_alarm_names)

  alarm_name        = "${each.value}-unless-chaos"
  alarm_description = "${each.value}, except during a valkey-chaos run and ${var.suppression_extension_seconds} s after it (a planned stop)."
  alarm_rule        = "ALARM(\"${each.value}\")"
  alarm_actions     = var.suppressed_alarm_actions
  ok_actions        = var.suppressed_alarm_actions

  actions_suppressor {
    alarm            = aws_cloudwatch_metric_alarm.run_in_progress.alarm_name
    extension_period = var.suppression_extension_seconds
    wait_period      = 120
  }

  tags = var.tags
}
