# The smallest deployment of modules/valkey: an authenticated cache with RDB
# snapshots on EFS, in a cluster, subnets and security groups you already
# have. terraform/common (or ../complete) shows the full wiring: roles, security
# groups, the chaos schedule.

provider "aws" {
  region = var.aws_region
}

module "valkey" {
  source = "../../modules/valkey"

  aws_region                     = var.aws_region
  cluster_arn                    = var.cluster_arn
  subnet_ids                     = var.subnet_ids
  security_group_ids             = var.security_group_ids
  efs_security_group_id          = var.efs_security_group_id
  task_role_arn                  = var.task_role_arn
  execution_role_arn             = var.execution_role_arn
  service_discovery_namespace_id = var.service_discovery_namespace_id
  app_password_secret_arn        = var.app_password_secret_arn
}
