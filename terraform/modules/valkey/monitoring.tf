# What docs/infrastructure/VALKEY_EFS_PERSISTENCE.md tells operators to
# watch: failed saves, the age of the last good snapshot, EFS burst credits,
# the running task and its memory.

# "Background saving error" is the server's line for a failed BGSAVE; MISCONF
# is what clients then get for every write (stop_writes_on_bgsave_error).
resource "aws_cloudwatch_log_metric_filter" "save_errors" {
  name           = "${var.name}-save-errors"
  log_group_name = aws_cloudwatch_log_group.valkey.name
  pattern        = "?\"Background saving error\" ?MISCONF ?\"Failed opening the temp RDB file\""

  metric_transformation {
    name          = "SaveErrors"
    namespace     = var.metric_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "save_errors" {
  alarm_name          = "${var.name}-save-errors"
  alarm_description   = "Valkey ${var.name} failed a background save (or refuses writes with MISCONF): the snapshot on EFS is getting older. Log group ${local.log_group_name}."
  namespace           = var.metric_namespace
  metric_name         = "SaveErrors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.save_errors]
}

# A successful background save, or the final save on shutdown.
resource "aws_cloudwatch_log_metric_filter" "saves" {
  name           = "${var.name}-saves"
  log_group_name = aws_cloudwatch_log_group.valkey.name
  pattern        = "?\"Background saving terminated with success\" ?\"DB saved on disk\""

  metric_transformation {
    name      = "SavesSucceeded"
    namespace = var.metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

# Every hourly bucket of the window without a successful save breaches, and
# all of them must breach: "no good snapshot for save_age_alarm_hours".
resource "aws_cloudwatch_metric_alarm" "save_age" {
  count = var.save_age_alarm_hours == null ? 0 : 1

  alarm_name          = "${var.name}-no-recent-save"
  alarm_description   = "Valkey ${var.name} logged no successful save for ${coalesce(var.save_age_alarm_hours, 0)} h: dump.rdb on EFS is at least that old (or the cache was idle that long)."
  namespace           = var.metric_namespace
  metric_name         = "SavesSucceeded"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.save_age_alarm_hours
  datapoints_to_alarm = var.save_age_alarm_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.saves]
}

resource "aws_cloudwatch_metric_alarm" "efs_burst_credits" {
  count = var.efs_throughput_mode == "bursting" ? 1 : 0

  alarm_name          = "${var.name}-efs-burst-credits"
  alarm_description   = "EFS ${var.name}-efs is running out of burst credits: saves and loads will drop to the baseline throughput (50 KiB/s per GiB stored). Consider elastic throughput."
  namespace           = "AWS/EFS"
  metric_name         = "BurstCreditBalance"
  dimensions          = { FileSystemId = aws_efs_file_system.valkey.id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.efs_burst_credit_alarm_bytes
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}

# Container Insights (enabled on the cluster in terraform/common) publishes
# RunningTaskCount per service. A chaos run stops the task on purpose: see
# the chaos-schedule module's composite alarms to keep that from paging.
resource "aws_cloudwatch_metric_alarm" "running_tasks" {
  alarm_name          = "${var.name}-no-running-task"
  alarm_description   = "The ECS service ${var.name} has had no RUNNING task for 3 minutes: the cache is down."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = local.cluster_name, ServiceName = var.name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "memory" {
  alarm_name          = "${var.name}-memory"
  alarm_description   = "The Valkey task uses more than ${var.memory_alarm_percent} % of its ${var.memory} MiB: a BGSAVE fork's copy-on-write on top may get it OOM-killed."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = local.cluster_name, ServiceName = var.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.memory_alarm_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = var.tags
}
