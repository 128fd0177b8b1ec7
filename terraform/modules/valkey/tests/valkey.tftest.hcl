# terraform test with a mocked AWS provider: real Terraform evaluation against
# the provider's schema, no AWS account. scripts/terraform-check.sh runs it
# where the hashicorp/aws provider is available locally.

# The provider still validates arguments, so computed values that feed other
# resources' ARN or JSON arguments get well-formed mocks.
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_service_discovery_service" {
    defaults = {
      arn = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-valkey"
    }
  }
}

variables {
  aws_region                     = "eu-west-1"
  cluster_arn                    = "arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster"
  subnet_ids                     = ["subnet-a", "subnet-b"]
  security_group_ids             = ["sg-valkey"]
  efs_security_group_id          = "sg-efs"
  task_role_arn                  = "arn:aws:iam::123456789012:role/valkey-task"
  execution_role_arn             = "arn:aws:iam::123456789012:role/valkey-execution"
  service_discovery_namespace_id = "ns-123"
}

run "defaults_keep_one_writer_and_room_for_the_final_save" {
  command = apply

  assert {
    condition     = aws_ecs_service.valkey.desired_count == 1 && aws_ecs_service.valkey.deployment_minimum_healthy_percent == 0 && aws_ecs_service.valkey.deployment_maximum_percent == 100
    error_message = "The service must run one task and never overlap two on a deployment (1 task, 0/100)."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].stopTimeout == 120
    error_message = "The container stopTimeout must default to 120 s."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].user == "${aws_efs_access_point.valkey.posix_user[0].uid}:${aws_efs_access_point.valkey.posix_user[0].gid}"
    error_message = "The container must run as the access point's uid:gid."
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "900 1 300 10 60 10000")
    error_message = "The container must run the default save rules."
  }

  assert {
    condition     = aws_efs_file_system.valkey.encrypted && one(aws_ecs_task_definition.valkey.volume).efs_volume_configuration[0].transit_encryption == "ENABLED" && one(aws_ecs_task_definition.valkey.volume).efs_volume_configuration[0].authorization_config[0].iam == "ENABLED"
    error_message = "EFS must be encrypted at rest and mounted with TLS and IAM."
  }

  assert {
    condition     = length(aws_efs_mount_target.valkey) == 2
    error_message = "There must be one mount target per subnet."
  }

  assert {
    condition     = !contains(keys(aws_ecs_service.valkey.tags), "valkey-chaos")
    error_message = "The chaos opt-in tag must be off by default."
  }
}

run "opt_in_tags_the_service" {
  command = plan

  variables {
    chaos_opt_in = true
  }

  assert {
    condition     = aws_ecs_service.valkey.tags["valkey-chaos"] == "allowed"
    error_message = "chaos_opt_in = true must tag the service valkey-chaos = allowed."
  }
}

run "stop_timeout_beyond_fargate_is_rejected" {
  command = plan

  variables {
    stop_timeout = 121
  }

  expect_failures = [var.stop_timeout]
}

run "malformed_save_rules_are_rejected" {
  command = plan

  variables {
    save_rules = "900 1 300"
  }

  expect_failures = [var.save_rules]
}

run "empty_save_rules_are_rejected" {
  command = plan

  variables {
    save_rules = ""
  }

  expect_failures = [var.save_rules]
}

run "overlapping_deployments_stay_possible_on_request" {
  command = plan

  variables {
    deployment_minimum_healthy_percent = 100
    deployment_maximum_percent         = 200
  }

  assert {
    condition     = aws_ecs_service.valkey.deployment_maximum_percent == 200
    error_message = "A user may still choose 100/200 (documented as unsafe for one dump.rdb)."
  }
}
