module "valkey" {
  source = "../modules/valkey"

  name                           = "${var.name_prefix}-valkey"
  aws_region                     = var.aws_region
  cluster_arn                    = aws_ecs_cluster.main.arn
  subnet_ids                     = var.private_subnet_ids
  security_group_ids             = [aws_security_group.valkey_tasks.id]
  efs_security_group_id          = aws_security_group.efs_valkey.id
  task_role_arn                  = aws_iam_role.valkey_task.arn
  execution_role_arn             = aws_iam_role.valkey_execution.arn
  service_discovery_namespace_id = aws_service_discovery_private_dns_namespace.main.id
  chaos_opt_in                   = var.valkey_chaos_opt_in
  app_password_secret_arn        = var.valkey_app_password_secret_arn
  allow_unauthenticated          = var.valkey_allow_unauthenticated
  harness_password_secret_arn    = var.valkey_harness_password_secret_arn
  harness_may_crash              = var.valkey_harness_may_crash
  tls_enabled                    = var.valkey_tls_cert_secret_arn != null
  tls_cert_secret_arn            = var.valkey_tls_cert_secret_arn
  tls_key_secret_arn             = var.valkey_tls_key_secret_arn
  alarm_actions                  = var.valkey_alarm_actions

  # save_rules, stop_timeout and the deployment percentages keep the module's
  # defaults on purpose: valkey-chaos reads the rules from the module itself.
}

# The Valkey task: clients, the bastion and the harness reach it on its port;
# it reaches EFS over NFS and the internet over HTTPS (image pull from Docker
# Hub, CloudWatch Logs) through the NAT gateway.
resource "aws_security_group" "valkey_tasks" {
  name        = "${var.name_prefix}-valkey-tasks"
  description = "Valkey ECS task"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name_prefix}-valkey-tasks" }
}

resource "aws_vpc_security_group_ingress_rule" "valkey_from_clients" {
  for_each = toset(var.valkey_client_security_group_ids)

  security_group_id            = aws_security_group.valkey_tasks.id
  description                  = "Valkey from an application"
  ip_protocol                  = "tcp"
  from_port                    = module.valkey.port
  to_port                      = module.valkey.port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "valkey_from_bastion" {
  security_group_id            = aws_security_group.valkey_tasks.id
  description                  = "Valkey from the bastion"
  ip_protocol                  = "tcp"
  from_port                    = module.valkey.port
  to_port                      = module.valkey.port
  referenced_security_group_id = var.bastion_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "valkey_to_efs" {
  security_group_id            = aws_security_group.valkey_tasks.id
  description                  = "NFS to the EFS mount targets"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs_valkey.id
}

#tfsec:ignore:aws-ec2-no-public-egress-sgr Fargate pulls the image from Docker Hub and ships logs to CloudWatch through the NAT gateway; HTTPS only, no inbound
resource "aws_vpc_security_group_egress_rule" "valkey_https" {
  security_group_id = aws_security_group.valkey_tasks.id
  description       = "HTTPS for the image pull and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
