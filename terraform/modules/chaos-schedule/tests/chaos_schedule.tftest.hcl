# terraform test with a mocked AWS provider (see modules/valkey/tests).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/valkey-chaos" }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/valkey-chaos:1" }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/valkey-chaos"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/valkey-chaos"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "valkey-chaos-results-x"
      arn = "arn:aws:s3:::valkey-chaos-results-x"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:valkey-chaos-alerts" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:valkey-chaos-schedule-dlq" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/valkey-chaos-harness-failed" }
  }

  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:valkey-chaos-x" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/valkey-chaos" }
  }
}

variables {
  cluster_arn          = "arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster"
  valkey_service_name  = "trigpointing-valkey"
  valkey_service_arn   = "arn:aws:ecs:eu-west-1:123456789012:service/trigpointing-cluster/trigpointing-valkey"
  valkey_log_group_arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/trigpointing-valkey"
  subnet_ids           = ["subnet-a", "subnet-b"]
  security_group_ids   = ["sg-harness"]
  harness_image_tag    = "v1"
}

run "harness_runs_against_the_service_and_publishes_its_verdict" {
  command = apply

  assert {
    condition = output.harness_command == [
      "run", "--target", "ecs",
      "--cluster", "arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster",
      "--service", "trigpointing-valkey",
      "--region", "eu-west-1",
      "--publish", "cloudwatch:ValkeyChaos",
      "--out", "/results",
    ]
    error_message = "Unexpected harness command: ${jsonencode(output.harness_command)}"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.harness.container_definitions)[0].image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/valkey-chaos:v1"
    error_message = "The harness image must come from the module's repository at harness_image_tag."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.verdict.metric_name == "verdict_failed" && aws_cloudwatch_metric_alarm.verdict.namespace == "ValkeyChaos" && aws_cloudwatch_metric_alarm.verdict.threshold == 1
    error_message = "The alarm must fire on verdict_failed >= 1 in the harness's namespace."
  }

  assert {
    condition     = aws_scheduler_schedule.harness.target[0].retry_policy[0].maximum_retry_attempts == 0
    error_message = "A scheduled run must never be retried (it would stop the cache again)."
  }

  assert {
    condition     = aws_s3_bucket_versioning.results.versioning_configuration[0].status == "Enabled"
    error_message = "The results bucket must be versioned."
  }

  assert {
    condition     = aws_scheduler_schedule.harness.state == "DISABLED"
    error_message = "The schedule must be off by default."
  }

  assert {
    condition     = aws_scheduler_schedule.harness.target[0].dead_letter_config[0].arn == aws_sqs_queue.schedule_dlq.arn && aws_cloudwatch_metric_alarm.schedule_dlq.dimensions["QueueName"] == aws_sqs_queue.schedule_dlq.name
    error_message = "The schedule must dead-letter to the module's queue, and the queue must be alarmed."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.heartbeat.metric_name == "Heartbeat" && aws_cloudwatch_metric_alarm.heartbeat.namespace == "ValkeyChaos" && aws_cloudwatch_metric_alarm.heartbeat.treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.heartbeat.comparison_operator == "LessThanThreshold" && aws_cloudwatch_metric_alarm.heartbeat.evaluation_periods == aws_cloudwatch_metric_alarm.heartbeat.datapoints_to_alarm
    error_message = "The heartbeat alarm must fire when no Heartbeat arrived for the whole window, silence counting as breaching."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.outcome.treat_missing_data == "breaching" && toset([for q in aws_cloudwatch_metric_alarm.outcome.metric_query : q.metric[0].dimensions["Outcome"] if length(q.metric) > 0]) == toset(["fail", "inconclusive", "invalid", "refused", "interrupted", "harness-error"]) && alltrue([for q in aws_cloudwatch_metric_alarm.outcome.metric_query : q.metric[0].metric_name == "Outcome" if length(q.metric) > 0])
    error_message = "The outcome alarm must watch Outcome for every non-pass value, missing data breaching."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.harness_failed.event_pattern)["detail-type"] == ["ECS Task State Change"] && jsondecode(aws_cloudwatch_event_rule.harness_failed.event_pattern).detail.containers.exitCode == [{ "anything-but" = 0 }] && jsondecode(aws_cloudwatch_event_rule.harness_failed.event_pattern).detail.lastStatus == ["STOPPED"] && aws_cloudwatch_event_target.harness_failed.arn == aws_sns_topic.alerts.arn
    error_message = "A harness task exiting non-zero must reach the alerts topic."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.harness.container_definitions)[1].user == "65532:65532" && jsondecode(aws_ecs_task_definition.harness.container_definitions)[1].readonlyRootFilesystem
    error_message = "The uploader must run non-root with a read-only root file system."
  }

  assert {
    condition     = !aws_s3_bucket.results.force_destroy && !aws_ecr_repository.harness.force_delete
    error_message = "Results and images must be kept by default."
  }

  assert {
    condition     = contains([for c in one([for st in data.aws_iam_policy_document.harness_task.statement : st if st.sid == "RollTheService"]).condition : c.variable], "aws:ResourceTag/valkey-chaos")
    error_message = "UpdateService must require the opt-in tag."
  }

  assert {
    condition     = contains([for c in one([for st in data.aws_iam_policy_document.harness_task.statement : st if st.sid == "StopOptedInTasks"]).condition : c.variable], "aws:ResourceTag/aws:ecs:serviceName")
    error_message = "StopTask must be conditioned on the ECS-managed service-name tag."
  }

  assert {
    condition     = contains([for c in data.aws_iam_policy_document.scheduler_assume.statement[0].condition : c.variable], "aws:SourceArn") && contains([for c in data.aws_iam_policy_document.ecs_tasks_assume.statement[0].condition : c.variable], "aws:SourceArn")
    error_message = "Trust policies must carry aws:SourceArn."
  }

  assert {
    condition     = contains([for c in one([for st in data.aws_iam_policy_document.harness_task.statement : st if st.sid == "EncryptResults"]).condition : c.variable], "kms:ViaService")
    error_message = "The harness's KMS grant must be limited to S3 (kms:ViaService)."
  }
}

run "an_enabled_schedule_needs_a_stop_condition" {
  command = plan

  variables {
    schedule_enabled = true
  }

  expect_failures = [var.stop_condition_alarm_names]
}

run "an_enabled_schedule_with_a_stop_condition" {
  command = plan

  variables {
    schedule_enabled           = true
    stop_condition_alarm_names = ["api-5xx"]
  }

  assert {
    condition     = aws_scheduler_schedule.harness.state == "ENABLED" && aws_cloudwatch_metric_alarm.heartbeat.actions_enabled
    error_message = "An enabled schedule fires and its heartbeat alarm notifies."
  }
}

run "latest_is_not_a_tag_this_repository_has" {
  command = plan

  variables {
    harness_image_tag = "latest"
  }

  expect_failures = [var.harness_image_tag]
}

run "a_digest_pins_the_image" {
  command = plan

  variables {
    harness_image_tag = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = endswith(jsondecode(aws_ecs_task_definition.harness.container_definitions)[0].image, "/valkey-chaos@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    error_message = "A digest must be referenced with @."
  }
}

run "names_must_fit_the_bucket_prefix" {
  command = plan

  variables {
    name = "valkey-chaos-for-the-trigpointing-cache"
  }

  expect_failures = [var.name]
}

run "planned_stops_do_not_page" {
  command = plan

  variables {
    suppressed_alarm_names   = ["trigpointing-valkey-no-running-task"]
    suppressed_alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:pager"]
  }

  assert {
    condition     = aws_cloudwatch_composite_alarm.unless_chaos["trigpointing-valkey-no-running-task"].alarm_rule == "ALARM(\"trigpointing-valkey-no-running-task\")" && aws_cloudwatch_composite_alarm.unless_chaos["trigpointing-valkey-no-running-task"].actions_suppressor[0].alarm == aws_cloudwatch_metric_alarm.run_in_progress.alarm_name
    error_message = "Each suppressed alarm must get a composite alarm whose actions the run-in-progress alarm suppresses."
  }
}

run "the_harness_authenticates_from_a_secret" {
  command = plan

  variables {
    valkey_user                = "valkey-chaos"
    valkey_password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"
    valkey_tls                 = true
  }

  assert {
    condition     = strcontains(join(" ", output.harness_command), "--user valkey-chaos --password-env VALKEY_PASSWORD --tls") && jsondecode(aws_ecs_task_definition.harness.container_definitions)[0].secrets[0].name == "VALKEY_PASSWORD"
    error_message = "The harness must get --user/--password-env/--tls and the password as a secret: ${jsonencode(output.harness_command)}"
  }

  assert {
    condition     = one([for st in data.aws_iam_policy_document.harness_execution.statement : st if st.sid == "ReadTheValkeyPassword"]).resources == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"])
    error_message = "The execution role must read exactly the harness's secret."
  }
}

run "turning_off_can_force_the_cleanup" {
  command = plan

  variables {
    results_force_destroy   = true
    repository_force_delete = true
  }

  assert {
    condition     = aws_s3_bucket.results.force_destroy && aws_ecr_repository.harness.force_delete
    error_message = "force_destroy / force_delete must follow the variables."
  }
}

run "endpoint_scenarios_and_extra_flags_reach_the_command" {
  command = plan

  variables {
    valkey_endpoint            = "valkey.trigpointing.local:6379"
    stop_condition_alarm_names = ["api-5xx", "api-latency"]
    scenarios                  = ["stop", "crash"]
    extra_args                 = ["--slo", "loss_window<=65s"]
  }

  assert {
    condition     = slice(output.harness_command, length(output.harness_command) - 10, length(output.harness_command)) == ["--endpoint", "valkey.trigpointing.local:6379", "--alarm", "api-5xx", "--alarm", "api-latency", "--slo", "loss_window<=65s", "stop", "crash"]
    error_message = "Unexpected harness command: ${jsonencode(output.harness_command)}"
  }
}

run "at_expressions_are_rejected" {
  command = plan

  variables {
    schedule_expression = "at(2030-01-01T00:00:00)"
  }

  expect_failures = [var.schedule_expression]
}

run "aws_namespaces_are_rejected" {
  command = plan

  variables {
    metric_namespace = "AWS/ECS"
  }

  expect_failures = [var.metric_namespace]
}
