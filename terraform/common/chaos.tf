# Scheduled valkey-chaos runs against the cache (off by default). The service
# must also opt in (valkey_chaos_opt_in) or the harness refuses to touch it.

module "chaos_schedule" {
  source = "../modules/chaos-schedule"
  count  = var.chaos_schedule_enabled ? 1 : 0

  name                 = "${var.name_prefix}-valkey-chaos"
  cluster_arn          = aws_ecs_cluster.main.arn
  valkey_service_name  = module.valkey.service_name
  valkey_service_arn   = module.valkey.service_arn
  valkey_log_group_arn = module.valkey.log_group_arn
  valkey_endpoint      = "${module.valkey.service_discovery_name}.${var.service_discovery_namespace}:${module.valkey.port}"
  subnet_ids           = var.private_subnet_ids
  security_group_ids   = [aws_security_group.chaos_harness[0].id]
  harness_image_tag    = var.chaos_harness_image_tag
  alarm_actions        = var.chaos_alarm_actions

  schedule_enabled           = var.chaos_schedule_running
  stop_condition_alarm_names = var.chaos_stop_condition_alarm_names
  suppressed_alarm_names     = var.chaos_suppressed_alarm_names
  suppressed_alarm_actions   = var.valkey_alarm_actions

  valkey_user                = module.valkey.harness_user
  valkey_password_secret_arn = var.valkey_harness_password_secret_arn
  valkey_tls                 = module.valkey.tls_enabled
}

# The harness reaches Valkey on its port and the AWS APIs over HTTPS.
resource "aws_security_group" "chaos_harness" {
  count = var.chaos_schedule_enabled ? 1 : 0

  name        = "${var.name_prefix}-valkey-chaos"
  description = "valkey-chaos harness task"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name_prefix}-valkey-chaos" }
}

resource "aws_vpc_security_group_egress_rule" "chaos_to_valkey" {
  count = var.chaos_schedule_enabled ? 1 : 0

  security_group_id            = aws_security_group.chaos_harness[0].id
  description                  = "Valkey"
  ip_protocol                  = "tcp"
  from_port                    = module.valkey.port
  to_port                      = module.valkey.port
  referenced_security_group_id = aws_security_group.valkey_tasks.id
}

#tfsec:ignore:aws-ec2-no-public-egress-sgr the harness calls the ECS, CloudWatch, S3 and ECR APIs through the NAT gateway; HTTPS only, no inbound
resource "aws_vpc_security_group_egress_rule" "chaos_https" {
  count = var.chaos_schedule_enabled ? 1 : 0

  security_group_id = aws_security_group.chaos_harness[0].id
  description       = "HTTPS to the AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "valkey_from_chaos" {
  count = var.chaos_schedule_enabled ? 1 : 0

  security_group_id            = aws_security_group.valkey_tasks.id
  description                  = "Valkey from the valkey-chaos harness"
  ip_protocol                  = "tcp"
  from_port                    = module.valkey.port
  to_port                      = module.valkey.port
  referenced_security_group_id = aws_security_group.chaos_harness[0].id
}
