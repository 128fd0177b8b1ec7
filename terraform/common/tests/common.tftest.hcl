# terraform test with a mocked AWS provider (see modules/valkey/tests): the
# whole root module, chaos schedule included, planned and applied on mocks.

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
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster" }
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
    defaults = { id = "arn:aws:ecs:eu-west-1:123456789012:service/trigpointing-cluster/trigpointing-valkey" }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/trigpointing-valkey-chaos"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/trigpointing-valkey-chaos"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "trigpointing-valkey-chaos-results-x"
      arn = "arn:aws:s3:::trigpointing-valkey-chaos-results-x"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/mock" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:trigpointing-valkey-chaos-alerts" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:trigpointing-valkey-chaos-schedule-dlq" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/trigpointing-valkey-chaos-harness-failed" }
  }

  mock_resource "aws_efs_file_system" {
    defaults = { arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0" }
  }

  mock_resource "aws_efs_access_point" {
    defaults = { arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0" }
  }
}

variables {
  vpc_id                           = "vpc-0123"
  private_subnet_ids               = ["subnet-a", "subnet-b"]
  bastion_security_group_id        = "sg-bastion"
  valkey_client_security_group_ids = ["sg-app"]
  valkey_chaos_opt_in              = true
  chaos_schedule_enabled           = true
  chaos_harness_image_tag          = "v1"

  valkey_app_password_secret_arn     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf"
  valkey_harness_password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"
}

run "efs_admits_nfs_from_the_valkey_task_and_the_bastion_only" {
  command = apply

  assert {
    condition     = aws_vpc_security_group_ingress_rule.efs_from_valkey.referenced_security_group_id == aws_security_group.valkey_tasks.id && aws_vpc_security_group_ingress_rule.efs_from_bastion.referenced_security_group_id == "sg-bastion"
    error_message = "EFS must admit the Valkey task's and the bastion's security groups."
  }

  assert {
    condition     = alltrue([for r in [aws_vpc_security_group_ingress_rule.efs_from_valkey, aws_vpc_security_group_ingress_rule.efs_from_bastion] : r.from_port == 2049 && r.to_port == 2049 && r.ip_protocol == "tcp" && r.cidr_ipv4 == null])
    error_message = "EFS ingress must be TCP 2049 from security groups, never from CIDRs."
  }

  assert {
    condition     = toset(data.aws_iam_policy_document.valkey_task.statement[0].actions) == toset(["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"])
    error_message = "The task role must mount and write, and nothing else (no ClientRootAccess)."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.valkey_task.statement[0].condition).variable == "elasticfilesystem:AccessPointArn" && toset(one(data.aws_iam_policy_document.valkey_task.statement[0].condition).values) == toset(["arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0"])
    error_message = "The task role's EFS grant must be conditioned on the module's access point."
  }

  assert {
    condition     = output.valkey_endpoint == "valkey.trigpointing.local:6379"
    error_message = "Unexpected endpoint ${output.valkey_endpoint}."
  }

  assert {
    condition     = contains(module.chaos_schedule[0].harness_command, "trigpointing-valkey")
    error_message = "The chaos schedule must target the Valkey service."
  }

  assert {
    condition     = strcontains(join(" ", module.chaos_schedule[0].harness_command), "--user valkey-chaos --password-env VALKEY_PASSWORD")
    error_message = "The scheduled harness must authenticate as the cache's harness user."
  }

  assert {
    condition     = one([for st in data.aws_iam_policy_document.valkey_execution.statement : st if st.sid == "ReadValkeySecrets"]).resources == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"])
    error_message = "The Valkey execution role must read exactly the cache's secrets."
  }
}

run "a_running_schedule_needs_an_image_and_a_stop_condition" {
  command = plan

  variables {
    chaos_harness_image_tag = null
  }

  expect_failures = [var.chaos_harness_image_tag]
}

run "long_prefixes_are_rejected" {
  command = plan

  variables {
    name_prefix = "trigpointing-production"
  }

  expect_failures = [var.name_prefix]
}

run "chaos_schedule_is_off_by_default" {
  command = plan

  variables {
    valkey_chaos_opt_in    = false
    chaos_schedule_enabled = false
  }

  assert {
    condition     = length(module.chaos_schedule) == 0 && length(aws_security_group.chaos_harness) == 0
    error_message = "Nothing of the chaos schedule may exist unless it is enabled."
  }
}
