# Every option switched on, both modules wired together: an authenticated,
# TLS-only cache with a harness ACL user that may run the crash fault, its
# alarms, and the chaos schedule running against it with a stop condition
# and a suppressed application alarm. The cluster, network, security groups
# and roles come from outside (terraform/common builds them).

provider "aws" {
  region = var.aws_region
}

module "valkey" {
  source = "../../modules/valkey"

  name                           = "example-valkey"
  aws_region                     = var.aws_region
  cluster_arn                    = var.cluster_arn
  subnet_ids                     = var.subnet_ids
  security_group_ids             = var.valkey_security_group_ids
  efs_security_group_id          = var.efs_security_group_id
  task_role_arn                  = var.task_role_arn
  execution_role_arn             = var.execution_role_arn
  service_discovery_namespace_id = var.service_discovery_namespace_id
  chaos_opt_in                   = true

  cpu                        = 1024
  memory                     = 4096
  maxmemory_percent          = 35
  maxmemory_policy           = "allkeys-lfu"
  health_check_loading_grace = 900
  efs_throughput_mode        = "elastic"

  app_user                    = "app"
  app_password_secret_arn     = var.app_password_secret_arn
  harness_password_secret_arn = var.harness_password_secret_arn
  harness_may_crash           = true
  tls_enabled                 = true
  tls_cert_secret_arn         = var.tls_cert_secret_arn
  tls_key_secret_arn          = var.tls_key_secret_arn

  alarm_actions = var.alarm_topic_arns
  ok_actions    = var.alarm_topic_arns
}

module "chaos_schedule" {
  source = "../../modules/chaos-schedule"

  name                 = "example-valkey-chaos"
  cluster_arn          = var.cluster_arn
  valkey_service_name  = module.valkey.service_name
  valkey_service_arn   = module.valkey.service_arn
  valkey_log_group_arn = module.valkey.log_group_arn
  valkey_endpoint      = "${module.valkey.service_discovery_name}.${var.service_discovery_namespace}:${module.valkey.port}"
  subnet_ids           = var.subnet_ids
  security_group_ids   = var.harness_security_group_ids
  harness_image_tag    = var.harness_image_tag

  valkey_user                = module.valkey.harness_user
  valkey_password_secret_arn = var.harness_password_secret_arn
  valkey_tls                 = module.valkey.tls_enabled

  schedule_enabled           = true
  stop_condition_alarm_names = var.stop_condition_alarm_names
  suppressed_alarm_names     = [module.valkey.alarm_names.running_tasks]
  suppressed_alarm_actions   = var.alarm_topic_arns
  scenarios                  = ["stop", "crash"]

  alarm_actions = var.alarm_topic_arns
  ok_actions    = var.alarm_topic_arns
}
