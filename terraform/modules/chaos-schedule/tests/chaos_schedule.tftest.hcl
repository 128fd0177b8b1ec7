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
