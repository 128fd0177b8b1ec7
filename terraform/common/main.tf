# Shared pieces the cache and its harness hang off: the cluster and the
# private DNS namespace. The VPC, subnets and bastion come from outside.

resource "aws_ecs_cluster" "main" {
  name = "${var.name_prefix}-cluster"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_service_discovery_private_dns_namespace" "main" {
  name        = var.service_discovery_namespace
  description = "Private names of ${var.name_prefix} services."
  vpc         = var.vpc_id
}
