# terraform test with a mocked AWS provider (see modules/valkey/tests): both
# modules planned and applied together on mocks.

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

  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/example-cluster" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }

  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-valkey" }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mock:1" }
  }

  mock_resource "aws_ecs_service" {
    defaults = { id = "arn:aws:ecs:eu-west-1:123456789012:service/example-cluster/example-valkey" }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/example-valkey-chaos"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/example-valkey-chaos"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "example-valkey-chaos-results-x"
      arn = "arn:aws:s3:::example-valkey-chaos-results-x"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/mock" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:example-valkey-chaos-alerts" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:example-valkey-chaos-schedule-dlq" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/example-valkey-chaos-harness-failed" }
  }

  mock_resource "aws_efs_file_system" {
    defaults = { arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0" }
  }

  mock_resource "aws_efs_access_point" {
    defaults = { arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0" }
  }
}

variables {
  cluster_arn                    = "arn:aws:ecs:eu-west-1:123456789012:cluster/example-cluster"
  subnet_ids                     = ["subnet-a", "subnet-b"]
  valkey_security_group_ids      = ["sg-valkey"]
  harness_security_group_ids     = ["sg-harness"]
  efs_security_group_id          = "sg-efs"
  task_role_arn                  = "arn:aws:iam::123456789012:role/valkey-task"
  execution_role_arn             = "arn:aws:iam::123456789012:role/valkey-execution"
  service_discovery_namespace_id = "ns-123"
  app_password_secret_arn        = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf"
  harness_password_secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"
  tls_cert_secret_arn            = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-cert-AbCdEf"
  tls_key_secret_arn             = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-key-AbCdEf"
  harness_image_tag              = "v1"
  stop_condition_alarm_names     = ["example-api-5xx"]
}

run "complete_runs_an_authenticated_tls_cache_and_a_guarded_schedule" {
  command = apply

  assert {
    condition     = strcontains(join(" ", output.harness_command), "--endpoint valkey.example.local:6379 --user valkey-chaos --password-env VALKEY_PASSWORD --tls --alarm example-api-5xx")
    error_message = "The schedule must authenticate over TLS and check the stop condition: ${jsonencode(output.harness_command)}"
  }

  assert {
    condition     = output.valkey_capacity.maxmemory_bytes == 1503238553 && output.valkey_capacity.memory_mib == 4096 && output.valkey_capacity.efs_throughput_mode == "elastic"
    error_message = "Unexpected capacity ${jsonencode(output.valkey_capacity)}."
  }

  assert {
    condition     = keys(output.composite_alarm_names) == ["example-valkey-no-running-task"]
    error_message = "The cache's running-task alarm must get a chaos-suppressed composite."
  }
}
