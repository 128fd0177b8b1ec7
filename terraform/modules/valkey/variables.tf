variable "name" {
  description = "Name of the service, task family, EFS file system and log group suffix."
  type        = string
  default     = "trigpointing-valkey"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,54}$", var.name))
    error_message = "The name must be 1-55 letters, digits, _ or -, starting with a letter or digit (it names the EFS creation token \"<name>-efs\", which EFS caps at 64 characters, and the log group /ecs/<name>)."
  }
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
  description = "Valkey image (Debian or Alpine variant: the start-up wrapper needs sh and flock, the health check sh, tr and sed). Pin a digest in production (valkey/valkey:8.0.1@sha256:...)."
  type        = string
  default     = "valkey/valkey:8.0.1"
}

variable "cpu" {
  description = "Task CPU units (Fargate sizes). BGSAVE forks: leave headroom beyond one core's worth of load."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "The cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Task memory in MiB. A BGSAVE fork copies pages on write: size for dataset plus copy-on-write peak (INFO persistence current_cow_peak)."
  type        = number
  default     = 512

  # The Fargate task sizes: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
  validation {
    condition = contains(lookup({
      "256"   = [512, 1024, 2048]
      "512"   = [1024, 2048, 3072, 4096]
      "1024"  = [for g in range(2, 9) : g * 1024]
      "2048"  = [for g in range(4, 17) : g * 1024]
      "4096"  = [for g in range(8, 31) : g * 1024]
      "8192"  = [for g in range(16, 61, 4) : g * 1024]
      "16384" = [for g in range(32, 121, 8) : g * 1024]
    }, format("%d", var.cpu), []), var.memory)
    error_message = "The memory must be a Fargate size for the chosen cpu: 256 -> 512, 1024 or 2048; 512 -> 1024-4096 in 1024 steps; 1024 -> 2048-8192; 2048 -> 4096-16384; 4096 -> 8192-30720 (1024 steps); 8192 -> 16384-61440 (4096 steps); 16384 -> 32768-122880 (8192 steps)."
  }
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
  description = "Upper bound on RUNNING and PENDING tasks during a deployment. 100 (with minimum 0) keeps ECS from starting the replacement while the old task runs, but a STOPPING task (writing its final save) no longer counts, so the two can still overlap: the single-writer lock (single_writer_lock) is what keeps one writer. ECS's 200 runs two tasks side by side."
  type        = number
  default     = 100

  validation {
    condition     = var.deployment_maximum_percent >= 100 && var.deployment_maximum_percent <= 200
    error_message = "The deployment_maximum_percent must be from 100 to 200."
  }
}

variable "health_check_start_period" {
  description = "ECS startPeriod: seconds of grace before failed health checks count (ECS allows at most 300). Covers waiting for the writer lock and the first seconds of the load; a load longer than this is covered by health_check_loading_grace."
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
  description = "Provisioned throughput in MiB/s: required when efs_throughput_mode is provisioned, and only then."
  type        = number
  default     = null

  validation {
    condition     = var.efs_throughput_mode == "provisioned" ? var.efs_provisioned_throughput_mibps != null && try(var.efs_provisioned_throughput_mibps >= 1 && var.efs_provisioned_throughput_mibps <= 3414, false) : var.efs_provisioned_throughput_mibps == null
    error_message = "Set efs_provisioned_throughput_mibps (1-3414 MiB/s) exactly when efs_throughput_mode is provisioned; leave it null otherwise."
  }
}

variable "efs_transition_to_ia" {
  description = "When untouched files move to Infrequent Access (null: never). dump.rdb is rewritten on every save, so it only ages into IA if no save happens for this long."
  type        = string
  default     = "AFTER_30_DAYS"

  validation {
    condition     = var.efs_transition_to_ia == null || contains(["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS", "AFTER_90_DAYS", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"], var.efs_transition_to_ia)
    error_message = "The efs_transition_to_ia must be null or one of AFTER_1_DAY, AFTER_7_DAYS, AFTER_14_DAYS, AFTER_30_DAYS, AFTER_60_DAYS, AFTER_90_DAYS, AFTER_180_DAYS, AFTER_270_DAYS, AFTER_365_DAYS."
  }
}

variable "efs_kms_key_arn" {
  description = "Customer managed KMS key for EFS encryption at rest; null uses the AWS managed key (encryption is on either way)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the Valkey log group in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
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
