variable "aws_region" {
  description = "Region everything is deployed to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of resource names (the chaos schedule's \"<prefix>-valkey-chaos\" must fit its 28 characters)."
  type        = string
  default     = "trigpointing"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,14}$", var.name_prefix))
    error_message = "The name_prefix must be 1-15 lowercase letters, digits or hyphens (the results bucket prefix <prefix>-valkey-chaos-results- must fit S3's 37 characters)."
  }
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
  description = "Tag (or sha256: digest) of the valkey-chaos image in the harness ECR repository the chaos schedule creates. Required with chaos_schedule_enabled; push the image first (the repository is immutable and has no latest)."
  type        = string
  default     = null

  validation {
    condition     = var.chaos_harness_image_tag != null || !var.chaos_schedule_enabled
    error_message = "Set chaos_harness_image_tag to the tag or digest you pushed when chaos_schedule_enabled is true."
  }
}

variable "chaos_schedule_running" {
  description = "Let the chaos schedule fire (the module deploys paused by default). Needs chaos_stop_condition_alarm_names."
  type        = bool
  default     = false
}

variable "chaos_stop_condition_alarm_names" {
  description = "Alarms that stop a chaos run before its fault (the application's health); at least one when chaos_schedule_running."
  type        = list(string)
  default     = []
}

variable "chaos_suppressed_alarm_names" {
  description = "Application alarms a planned chaos stop would set off; each gets a composite <name>-unless-chaos alarm that stays quiet during a run (see modules/chaos-schedule)."
  type        = list(string)
  default     = []
}

variable "chaos_alarm_actions" {
  description = "SNS topic ARNs notified by the chaos schedule's alarms (besides its own alerts topic)."
  type        = list(string)
  default     = []
}

variable "valkey_app_password_secret_arn" {
  description = "Secrets Manager secret with the application's Valkey password (valueFrom form). null needs valkey_allow_unauthenticated = true."
  type        = string
  default     = null
}

variable "valkey_harness_password_secret_arn" {
  description = "Secrets Manager secret with the valkey-chaos user's password; null creates no harness user (the chaos schedule then cannot authenticate)."
  type        = string
  default     = null
}

variable "valkey_allow_unauthenticated" {
  description = "Run the cache without a password (throw-away environments only)."
  type        = bool
  default     = false
}

variable "valkey_harness_may_crash" {
  description = "Let the harness user SHUTDOWN the server (the crash fault)."
  type        = bool
  default     = false
}

variable "valkey_tls_cert_secret_arn" {
  description = "Secret with the server certificate (PEM); with valkey_tls_key_secret_arn it turns TLS on."
  type        = string
  default     = null
}

variable "valkey_tls_key_secret_arn" {
  description = "Secret with the server private key (PEM)."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "Customer managed KMS key the Valkey secrets are encrypted with; null when they use the AWS managed key (no grant needed)."
  type        = string
  default     = null
}

variable "valkey_alarm_actions" {
  description = "SNS topic ARNs notified by the cache's alarms (failed saves, stale snapshot, burst credits, no running task, memory)."
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
