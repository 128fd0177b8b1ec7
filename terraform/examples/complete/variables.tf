variable "aws_region" {
  description = "Region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "cluster_arn" {
  description = "ECS cluster of the cache and the harness (Container Insights on)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per availability zone."
  type        = list(string)
}

variable "valkey_security_group_ids" {
  description = "Security groups of the Valkey task."
  type        = list(string)
}

variable "harness_security_group_ids" {
  description = "Security groups of the harness task (Valkey's port, HTTPS to the AWS APIs)."
  type        = list(string)
}

variable "efs_security_group_id" {
  description = "Security group of the EFS mount targets."
  type        = string
}

variable "task_role_arn" {
  description = "Valkey task role (EFS mount and write through the access point)."
  type        = string
}

variable "execution_role_arn" {
  description = "Valkey execution role (log, secrets)."
  type        = string
}

variable "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace id."
  type        = string
}

variable "service_discovery_namespace" {
  description = "Its DNS name."
  type        = string
  default     = "example.local"
}

variable "app_password_secret_arn" {
  description = "Secret with the application's Valkey password."
  type        = string
}

variable "harness_password_secret_arn" {
  description = "Secret with the valkey-chaos user's password."
  type        = string
}

variable "tls_cert_secret_arn" {
  description = "Secret with the server certificate (PEM)."
  type        = string
}

variable "tls_key_secret_arn" {
  description = "Secret with the server private key (PEM)."
  type        = string
}

variable "harness_image_tag" {
  description = "Tag or digest of the valkey-chaos image pushed to the schedule's repository."
  type        = string
}

variable "stop_condition_alarm_names" {
  description = "Application alarms that stop a chaos run before its fault."
  type        = list(string)
}

variable "alarm_topic_arns" {
  description = "SNS topics for the cache's and the schedule's alarms."
  type        = list(string)
  default     = []
}
