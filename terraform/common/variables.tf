variable "aws_region" {
  description = "Region everything is deployed to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of resource names."
  type        = string
  default     = "trigpointing"
}

variable "vpc_id" {
  description = "VPC the cache, its EFS mount targets and its clients live in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone: the Valkey task, one EFS mount target each, and the scheduled harness."
  type        = list(string)
}

variable "bastion_security_group_id" {
  description = "Security group of the bastion host: may reach Valkey on its port and EFS on NFS 2049 (to inspect dump.rdb)."
  type        = string
}

variable "valkey_client_security_group_ids" {
  description = "Security groups of the applications that use the cache (allowed to reach Valkey's port)."
  type        = list(string)
  default     = []
}

variable "service_discovery_namespace" {
  description = "Private DNS namespace the cache registers in (valkey.<namespace>)."
  type        = string
  default     = "trigpointing.local"
}

variable "valkey_chaos_opt_in" {
  description = "Tag the Valkey service valkey-chaos = \"allowed\" so valkey-chaos may stop its task. Must be true for the chaos schedule to do anything."
  type        = bool
  default     = false
}

variable "chaos_schedule_enabled" {
  description = "Create the scheduled valkey-chaos run (modules/chaos-schedule)."
  type        = bool
  default     = false
}

variable "chaos_harness_image_tag" {
  description = "Tag of the valkey-chaos image in the harness ECR repository the chaos schedule creates."
  type        = string
  default     = "latest"
}

variable "chaos_alarm_actions" {
  description = "SNS topic ARNs notified when a scheduled chaos run fails its verdict."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource through the provider's default_tags."
  type        = map(string)
  default = {
    Project   = "trigpointing"
    ManagedBy = "terraform"
  }
}
