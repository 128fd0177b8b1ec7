variable "aws_region" {
  description = "Region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "cluster_arn" {
  description = "ECS cluster the cache runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per availability zone."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the Valkey task (one must reach efs_security_group_id on TCP 2049)."
  type        = list(string)
}

variable "efs_security_group_id" {
  description = "Security group of the EFS mount targets."
  type        = string
}

variable "task_role_arn" {
  description = "Task role with elasticfilesystem:ClientMount and ClientWrite through the module's access point."
  type        = string
}

variable "execution_role_arn" {
  description = "Execution role: writes the log and reads app_password_secret_arn."
  type        = string
}

variable "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace."
  type        = string
}

variable "app_password_secret_arn" {
  description = "Secrets Manager secret with the application's password."
  type        = string
}
