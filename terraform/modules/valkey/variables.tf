variable "name" {
  description = "Name of the service, task family, EFS file system and log group suffix."
  type        = string
  default     = "trigpointing-valkey"
}

variable "aws_region" {
  description = "Region the awslogs driver ships to (a variable, not a data source, so the container definition stays statically readable)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the task and for one EFS mount target each (use one subnet per availability zone)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one subnet: the task and its EFS mount target need one."
  }
}

variable "security_group_ids" {
  description = "Security groups of the Valkey task. One of them must be allowed to reach efs_security_group_id on TCP 2049."
  type        = list(string)
}

variable "efs_security_group_id" {
  description = "Security group of the EFS mount targets (NFS 2049 from the Valkey tasks and the bastion only)."
  type        = string
}

variable "task_role_arn" {
  description = "Task role: needs elasticfilesystem:ClientMount and ClientWrite on this file system through this access point (see terraform/common/ecs.tf)."
  type        = string
}

variable "execution_role_arn" {
  description = "Execution role: pulls the image and writes to the log group."
  type        = string
}

variable "image" {
  description = "Valkey image. Pin a digest in production (valkey/valkey:8.0.1@sha256:...)."
  type        = string
  default     = "valkey/valkey:8.0.1"
}

variable "cpu" {
  description = "Task CPU units (Fargate sizes). BGSAVE forks: leave headroom beyond one core's worth of load."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory in MiB. A BGSAVE fork copies pages on write: size for dataset plus copy-on-write peak (INFO persistence current_cow_peak)."
  type        = number
  default     = 512
}

variable "cpu_architecture" {
  description = "Fargate CPU architecture: X86_64 or ARM64 (the official image is multi-arch)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The cpu_architecture must be X86_64 or ARM64."
  }
}

variable "platform_version" {
  description = "Fargate platform version; EFS volumes need 1.4.0 or later."
  type        = string
  default     = "LATEST"
}

variable "container_port" {
  description = "Port Valkey listens on."
  type        = number
  default     = 6379
}

variable "save_rules" {
  description = "RDB save points as \"<seconds> <changes> ...\" (valkey.conf `save`). Check the loss window they buy with `valkey-chaos plan`, or derive rules from an RPO with `valkey-chaos tune`."
  type        = string
  default     = "900 1 300 10 60 10000"

  validation {
    condition     = can(regex("^[1-9][0-9]* [1-9][0-9]*( [1-9][0-9]* [1-9][0-9]*)*$", var.save_rules))
    error_message = "The save_rules must be pairs of positive whole numbers separated by single spaces, e.g. \"900 1 300 10 60 10000\" (at least one pair: this module exists to persist)."
  }
}

variable "stop_writes_on_bgsave_error" {
  description = "Refuse writes (MISCONF) after a failed BGSAVE. true: writes fail loudly and the PONG health check fails, so ECS replaces the task. false: the cache keeps accepting writes that no snapshot holds. See docs/infrastructure/VALKEY_EFS_PERSISTENCE.md."
  type        = bool
  default     = true
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL when ECS stops the task. Valkey writes its final snapshot in this time; 120 is the Fargate maximum."
  type        = number
  default     = 120

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120 && floor(var.stop_timeout) == var.stop_timeout
    error_message = "The stop_timeout must be a whole number of seconds from 2 to 120 (Fargate's maximum)."
  }
}

variable "deployment_minimum_healthy_percent" {
  description = "Lower bound on running tasks during a deployment. 0 lets ECS stop the old task before starting the new one."
  type        = number
  default     = 0

  validation {
    condition     = var.deployment_minimum_healthy_percent >= 0 && var.deployment_minimum_healthy_percent <= 100
    error_message = "The deployment_minimum_healthy_percent must be from 0 to 100."
  }
}

variable "deployment_maximum_percent" {
  description = "Upper bound on running tasks during a deployment. 100 (with minimum 0) means the old task is gone before the new one starts; ECS's 200 runs two tasks that both write one dump.rdb."
  type        = number
  default     = 100

  validation {
    condition     = var.deployment_maximum_percent >= 100 && var.deployment_maximum_percent <= 200
    error_message = "The deployment_maximum_percent must be from 100 to 200."
  }
}

variable "health_check_start_period" {
  description = "Seconds of grace before failed health checks count: covers loading dump.rdb from EFS (PING answers LOADING until done)."
  type        = number
  default     = 120

  validation {
    condition     = var.health_check_start_period >= 0 && var.health_check_start_period <= 300
    error_message = "The health_check_start_period must be from 0 to 300 seconds (the ECS limit)."
  }
}

variable "posix_uid" {
  description = "User id the access point enforces and the container runs as. The image's entrypoint only chowns /data when started as root, which fails under an access point."
  type        = number
  default     = 1000
}

variable "posix_gid" {
  description = "Group id the access point enforces and the container runs as."
  type        = number
  default     = 1000
}

variable "efs_throughput_mode" {
  description = "EFS throughput mode: bursting, elastic or provisioned. `valkey-chaos plan` shows whether the snapshot rate fits bursting credits."
  type        = string
  default     = "bursting"

  validation {
    condition     = contains(["bursting", "elastic", "provisioned"], var.efs_throughput_mode)
    error_message = "The efs_throughput_mode must be bursting, elastic or provisioned."
  }
}

variable "efs_provisioned_throughput_mibps" {
  description = "Provisioned throughput in MiB/s, used only when efs_throughput_mode is provisioned."
  type        = number
  default     = null
}

variable "efs_transition_to_ia" {
  description = "When untouched files move to Infrequent Access. dump.rdb is rewritten on every save, so it only ages into IA if no save happens for this long."
  type        = string
  default     = "AFTER_30_DAYS"
}

variable "efs_kms_key_arn" {
  description = "Customer managed KMS key for EFS encryption at rest; null uses the AWS managed key (encryption is on either way)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the Valkey log group in days."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group; null uses CloudWatch Logs' own encryption. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null
}

variable "log_stream_prefix" {
  description = "awslogs stream prefix: streams are named <prefix>/<container>/<task-id>, which is where valkey-chaos looks for save and load lines."
  type        = string
  default     = "valkey"
}

variable "awslogs_mode" {
  description = "awslogs delivery mode. non-blocking never stalls Valkey on CloudWatch but may drop lines when its buffer fills; blocking keeps every line."
  type        = string
  default     = "non-blocking"

  validation {
    condition     = contains(["blocking", "non-blocking"], var.awslogs_mode)
    error_message = "The awslogs_mode must be blocking or non-blocking."
  }
}

variable "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace the service registers in."
  type        = string
}

variable "service_discovery_name" {
  description = "DNS name of the service inside the namespace (valkey -> valkey.<namespace>)."
  type        = string
  default     = "valkey"
}

variable "enable_execute_command" {
  description = "Allow ECS Exec into the task (needs ssmmessages permissions on the task role)."
  type        = bool
  default     = false
}

variable "chaos_opt_in" {
  description = "Tag the service valkey-chaos = \"allowed\" so the harness may stop its task. Off by default: the harness refuses untagged services."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
