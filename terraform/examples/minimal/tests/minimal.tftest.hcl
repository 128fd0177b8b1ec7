# terraform test with a mocked AWS provider (see modules/valkey/tests).

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-valkey" }
  }
}

variables {
  cluster_arn                    = "arn:aws:ecs:eu-west-1:123456789012:cluster/example"
  subnet_ids                     = ["subnet-a", "subnet-b"]
  security_group_ids             = ["sg-valkey"]
  efs_security_group_id          = "sg-efs"
  task_role_arn                  = "arn:aws:iam::123456789012:role/valkey-task"
  execution_role_arn             = "arn:aws:iam::123456789012:role/valkey-execution"
  service_discovery_namespace_id = "ns-123"
  app_password_secret_arn        = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf"
}

run "minimal_is_authenticated_locked_and_bounded" {
  command = apply

  assert {
    condition     = output.secret_arns == tolist(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:valkey-app-AbCdEf"])
    error_message = "The minimal example must run an authenticated cache."
  }

  assert {
    condition     = output.capacity.maxmemory_bytes == 214748364 && output.capacity.stop_timeout == 120 && output.capacity.writer_lock_wait == 180
    error_message = "The minimal example must keep the module's safe defaults: ${jsonencode(output.capacity)}"
  }
}
