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
  app_password_secret_arn        = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf:password::"
}

run "defaults_keep_one_writer_and_room_for_the_final_save" {
  command = apply

  assert {
    condition     = aws_ecs_service.valkey.desired_count == 1 && aws_ecs_service.valkey.deployment_minimum_healthy_percent == 0 && aws_ecs_service.valkey.deployment_maximum_percent == 100
    error_message = "The service must run one task and never start a second on a deployment (1 task, 0/100)."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command[0] == "sh" && strcontains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command[2], "flock -x -w \"$VALKEY_WRITER_LOCK_WAIT\" 9") && strcontains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command[2], "exec valkey-server \"$@\"")
    error_message = "By default the container must take the writer lock on the volume before it execs valkey-server."
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
    condition     = aws_efs_mount_target.valkey["subnet-b"].subnet_id == "subnet-b"
    error_message = "Mount targets must be keyed by subnet id."
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

run "the_password_comes_from_secrets_manager_never_the_command_line" {
  command = plan

  variables {
    harness_password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"
  }

  assert {
    condition     = toset([for s in jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].secrets : s.name]) == toset(["VALKEY_APP_PASSWORD", "VALKEY_HARNESS_PASSWORD"])
    error_message = "The passwords must reach the container as ECS secrets."
  }

  assert {
    condition     = !strcontains(aws_ecs_task_definition.valkey.container_definitions, "AbCdEf:password") || strcontains(jsonencode(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].secrets), "AbCdEf:password")
    error_message = "The secret reference may appear only under secrets."
  }

  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].healthCheck.command[1], "REDISCLI_AUTH=\"$VALKEY_APP_PASSWORD\"") && !strcontains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].healthCheck.command[1], " -a ")
    error_message = "The health check must authenticate through REDISCLI_AUTH, never -a on the command line."
  }

  assert {
    condition     = output.secret_arns == tolist(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"])
    error_message = "secret_arns must list the secrets without their JSON key suffix: ${jsonencode(output.secret_arns)}"
  }

  assert {
    condition     = strcontains([for e in jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].environment : e.value if e.name == "VALKEY_HARNESS_ACL"][0], "~vc:*") && !strcontains([for e in jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].environment : e.value if e.name == "VALKEY_HARNESS_ACL"][0], "+shutdown")
    error_message = "The harness user must be limited to vc:* and may not SHUTDOWN unless harness_may_crash."
  }

  assert {
    condition     = !strcontains([for e in jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].environment : e.value if e.name == "VALKEY_HARNESS_ACL"][0], "config|set") && contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "--notify-keyspace-events") && contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "Exe")
    error_message = "The harness user may not CONFIG SET (ACL cannot limit it to one parameter): the server must start with --notify-keyspace-events Exe for the harness's eviction recording."
  }
}

run "no_keyspace_events_without_the_harness" {
  command = plan

  assert {
    condition     = !contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "--notify-keyspace-events")
    error_message = "Without the harness user the server keeps Valkey's default notify-keyspace-events (off)."
  }
}

run "the_crash_fault_needs_an_explicit_grant" {
  command = plan

  variables {
    harness_password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-harness-AbCdEf"
    harness_may_crash           = true
  }

  assert {
    condition     = strcontains([for e in jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].environment : e.value if e.name == "VALKEY_HARNESS_ACL"][0], "+shutdown")
    error_message = "harness_may_crash = true must grant SHUTDOWN to the harness user."
  }
}

run "an_unauthenticated_cache_must_be_asked_for" {
  command = plan

  variables {
    app_password_secret_arn = null
  }

  expect_failures = [var.app_password_secret_arn]
}

run "an_unauthenticated_cache_on_request" {
  command = plan

  variables {
    app_password_secret_arn = null
    allow_unauthenticated   = true
    single_writer_lock      = false
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command[0] == "--dir" && length(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].secrets) == 0
    error_message = "Without auth and lock the container runs the plain server arguments."
  }
}

run "tls_from_secrets" {
  command = plan

  variables {
    tls_enabled         = true
    tls_cert_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-cert-AbCdEf"
    tls_key_secret_arn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-key-AbCdEf"
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "--tls-port") && contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "/data/.tls/server.key") && strcontains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].healthCheck.command[1], "--tls")
    error_message = "TLS must serve on tls-port with the key written to /data/.tls, and the health check must speak TLS."
  }
}

run "tls_needs_a_certificate_and_a_key" {
  command = plan

  variables {
    tls_enabled         = true
    tls_cert_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-cert-AbCdEf"
  }

  expect_failures = [var.tls_cert_file]
}

run "maxmemory_defaults_to_40_percent_of_the_task" {
  command = plan

  assert {
    condition     = output.capacity.maxmemory_bytes == 214748364 && contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "214748364") && contains(jsondecode(aws_ecs_task_definition.valkey.container_definitions)[0].command, "allkeys-lru")
    error_message = "maxmemory must default to 40 % of 512 MiB with allkeys-lru: ${jsonencode(output.capacity)}"
  }
}

run "maxmemory_above_the_task_is_rejected" {
  command = plan

  variables {
    maxmemory_bytes = 536870912
  }

  expect_failures = [var.maxmemory_bytes]
}

run "unknown_eviction_policies_are_rejected" {
  command = plan

  variables {
    maxmemory_policy = "lru"
  }

  expect_failures = [var.maxmemory_policy]
}

run "fargate_rejects_256_cpu_with_4_gib" {
  command = plan

  variables {
    memory = 4096
  }

  expect_failures = [var.memory]
}

run "provisioned_throughput_is_required_when_provisioned" {
  command = plan

  variables {
    efs_throughput_mode = "provisioned"
  }

  expect_failures = [var.efs_provisioned_throughput_mibps]
}

run "provisioned_throughput_only_when_provisioned" {
  command = plan

  variables {
    efs_provisioned_throughput_mibps = 10
  }

  expect_failures = [var.efs_provisioned_throughput_mibps]
}

run "unknown_ia_transitions_are_rejected" {
  command = plan

  variables {
    efs_transition_to_ia = "AFTER_2_DAYS"
  }

  expect_failures = [var.efs_transition_to_ia]
}

run "log_retention_must_be_a_cloudwatch_value" {
  command = plan

  variables {
    log_retention_days = 31
  }

  expect_failures = [var.log_retention_days]
}

run "names_too_long_for_the_efs_token_are_rejected" {
  command = plan

  variables {
    name = "a-very-long-valkey-service-name-that-will-not-fit-the-efs-token"
  }

  expect_failures = [var.name]
}

run "the_lock_wait_outlasts_the_final_save" {
  command = plan

  variables {
    writer_lock_wait = 60
  }

  expect_failures = [var.writer_lock_wait]
}

run "start_period_beyond_ecs_is_rejected" {
  command = plan

  variables {
    health_check_start_period = 301
  }

  expect_failures = [var.health_check_start_period]
}

run "monitoring_alarms" {
  command = plan

  assert {
    condition     = strcontains(aws_cloudwatch_log_metric_filter.save_errors.pattern, "Background saving error") && strcontains(aws_cloudwatch_log_metric_filter.save_errors.pattern, "MISCONF") && aws_cloudwatch_metric_alarm.save_errors.metric_name == aws_cloudwatch_log_metric_filter.save_errors.metric_transformation[0].name
    error_message = "A metric filter on failed saves / MISCONF must feed the save error alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.save_age[0].treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.save_age[0].evaluation_periods == 24 && aws_cloudwatch_metric_alarm.save_age[0].datapoints_to_alarm == 24 && strcontains(aws_cloudwatch_log_metric_filter.saves.pattern, "Background saving terminated with success")
    error_message = "The save age alarm must fire after 24 h without a successful save, missing data breaching."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 1 && aws_cloudwatch_metric_alarm.efs_burst_credits[0].metric_name == "BurstCreditBalance"
    error_message = "Bursting mode must alarm on BurstCreditBalance."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.running_tasks.metric_name == "RunningTaskCount" && aws_cloudwatch_metric_alarm.running_tasks.treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.running_tasks.dimensions["ClusterName"] == "trigpointing-cluster"
    error_message = "The running task alarm must watch RunningTaskCount of this service, missing data breaching."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.memory.metric_name == "MemoryUtilization" && aws_cloudwatch_metric_alarm.memory.threshold == 80
    error_message = "The memory alarm must watch MemoryUtilization above 80 %."
  }
}

run "no_burst_credit_alarm_outside_bursting" {
  command = plan

  variables {
    efs_throughput_mode = "elastic"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 0
    error_message = "BurstCreditBalance only means something in bursting mode."
  }
}
