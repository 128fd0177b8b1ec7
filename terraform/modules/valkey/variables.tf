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
  description = "Private subnets for the task and for one EFS mount target each (use one subnet per availability zone). The ids must be known at plan time: the mount targets are keyed by them."
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

# Who may talk to the cache: ACL users whose passwords come from Secrets
# Manager (container `secrets`, so they never appear in the task definition),
# and optional TLS.

variable "app_password_secret_arn" {
  description = "Secrets Manager secret (ECS valueFrom form: the secret ARN, or ARN:json-key:: for one key of a JSON secret) holding the application user's password. null runs an unauthenticated cache, which needs allow_unauthenticated = true."
  type        = string
  default     = null

  validation {
    condition     = var.app_password_secret_arn != null || var.allow_unauthenticated
    error_message = "Set app_password_secret_arn (a Secrets Manager secret with the application password), or set allow_unauthenticated = true to run a cache any client in the security groups can FLUSHALL or SHUTDOWN."
  }

  validation {
    condition     = var.app_password_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.app_password_secret_arn))
    error_message = "The app_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>::])."
  }
}

variable "allow_unauthenticated" {
  description = "Run without a password when app_password_secret_arn is null. Only for throw-away environments: anything that reaches the port can read, flush or shut down the cache."
  type        = bool
  default     = false
}

variable "app_user" {
  description = "ACL user the application (and the health check) authenticates as. \"default\" keeps clients that send AUTH <password> only working; any other name turns the default user off."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.app_user))
    error_message = "The app_user must be 1-64 letters, digits, _ . or -."
  }
}

variable "app_acl_rules" {
  description = "ACL rules of the application user (valkey ACL SETUSER syntax, space separated). The health check runs as this user and needs PING and INFO."
  type        = string
  default     = "~* &* +@all -@dangerous +info"

  validation {
    condition     = can(regex("^[^'\"\\\\<>$`;|]+$", var.app_acl_rules)) && can(regex("[+]", var.app_acl_rules))
    error_message = "The app_acl_rules must be ACL rules such as \"~* &* +@all -@dangerous +info\": no quotes, passwords (> or <), $, ` ; | or backslashes (passwords come from app_password_secret_arn)."
  }
}

variable "harness_password_secret_arn" {
  description = "Secrets Manager secret (valueFrom form) with the password of a separate ACL user for valkey-chaos (harness_user), limited to its key prefix and the few commands it runs. null: no harness user."
  type        = string
  default     = null

  validation {
    condition     = var.harness_password_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.harness_password_secret_arn))
    error_message = "The harness_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>::])."
  }

  validation {
    condition     = var.harness_password_secret_arn == null || var.app_password_secret_arn != null
    error_message = "A harness user only makes sense on an authenticated cache: set app_password_secret_arn too."
  }
}

variable "harness_user" {
  description = "ACL user name of valkey-chaos (its --user)."
  type        = string
  default     = "valkey-chaos"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.harness_user))
    error_message = "The harness_user must be 1-64 letters, digits, _ . or -."
  }
}

variable "harness_key_prefix" {
  description = "Key prefix valkey-chaos writes under (its load keys are vc:...); the harness user may touch no other key."
  type        = string
  default     = "vc:"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.:-]{1,32}$", var.harness_key_prefix))
    error_message = "The harness_key_prefix must be 1-32 letters, digits, _ . : or - (no glob characters)."
  }
}

variable "harness_may_crash" {
  description = "Let the harness user run SHUTDOWN (the crash fault: SHUTDOWN NOSAVE). Off: the crash fault is refused by the server with NOPERM."
  type        = bool
  default     = false
}

variable "tls_enabled" {
  description = "Serve TLS only (tls-port on container_port, plain port off). Certificate and key come from Secrets Manager (tls_*_secret_arn, PEM text, written at start-up to /data/.tls with mode 0600) or from files already on the volume (tls_*_file)."
  type        = bool
  default     = false
}

variable "tls_cert_secret_arn" {
  description = "Secret (valueFrom form) holding the server certificate chain in PEM. Exclusive with tls_cert_file."
  type        = string
  default     = null
}

variable "tls_key_secret_arn" {
  description = "Secret (valueFrom form) holding the server private key in PEM. Exclusive with tls_key_file."
  type        = string
  default     = null
}

variable "tls_ca_secret_arn" {
  description = "Secret (valueFrom form) holding the CA bundle in PEM that client certificates are checked against (needed when tls_auth_clients is not \"no\"). Exclusive with tls_ca_file."
  type        = string
  default     = null
}

variable "tls_cert_file" {
  description = "Absolute path of the server certificate inside the container, e.g. /data/tls/server.crt on the EFS volume."
  type        = string
  default     = null

  validation {
    condition     = !var.tls_enabled || ((var.tls_cert_file == null) != (var.tls_cert_secret_arn == null) && (var.tls_key_file == null) != (var.tls_key_secret_arn == null))
    error_message = "With tls_enabled, give the certificate and the key each exactly once: tls_cert_secret_arn or tls_cert_file, and tls_key_secret_arn or tls_key_file."
  }

  validation {
    condition     = alltrue([for p in [var.tls_cert_file, var.tls_key_file, var.tls_ca_file] : p == null || can(regex("^/[^ '\"$`]+$", p))])
    error_message = "The tls_*_file paths must be absolute container paths without spaces, quotes, $ or backquotes."
  }
}

variable "tls_key_file" {
  description = "Absolute path of the server private key inside the container (see tls_cert_file)."
  type        = string
  default     = null
}

variable "tls_ca_file" {
  description = "Absolute path of the client CA bundle inside the container (see tls_ca_secret_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.tls_ca_file == null || var.tls_ca_secret_arn == null
    error_message = "Give the CA bundle once: tls_ca_secret_arn or tls_ca_file."
  }
}

variable "tls_auth_clients" {
  description = "tls-auth-clients: \"no\" (passwords authenticate, clients need no certificate), \"optional\" or \"yes\" (both need a CA)."
  type        = string
  default     = "no"

  validation {
    condition     = contains(["no", "optional", "yes"], var.tls_auth_clients)
    error_message = "The tls_auth_clients must be no, optional or yes."
  }

  validation {
    condition     = var.tls_auth_clients == "no" || var.tls_ca_file != null || var.tls_ca_secret_arn != null
    error_message = "tls_auth_clients = optional or yes checks client certificates against a CA: set tls_ca_secret_arn or tls_ca_file."
  }
}

# Memory, the health check and the single-writer guard. `valkey-chaos
# capacity --terraform` reads these statically (variable defaults and the
# container definition), so keep them plain values.

variable "maxmemory_percent" {
  description = "maxmemory as a percentage of the task memory, used when maxmemory_bytes is null. maxmemory counts the dataset, not the copy-on-write pages a BGSAVE fork adds, so the default 40 leaves the rest of the task for the fork's copies, the buffers and the allocator: under half of the task."
  type        = number
  default     = 40

  validation {
    condition     = var.maxmemory_percent >= 5 && var.maxmemory_percent <= 90 && floor(var.maxmemory_percent) == var.maxmemory_percent
    error_message = "The maxmemory_percent must be a whole number from 5 to 90 (above 50 a BGSAVE under heavy writes can double the dataset and be OOM-killed)."
  }
}

variable "maxmemory_bytes" {
  description = "maxmemory in bytes; null derives it from memory and maxmemory_percent. Must stay below the task memory."
  type        = number
  default     = null

  validation {
    condition     = var.maxmemory_bytes == null || try(var.maxmemory_bytes >= 1048576 && var.maxmemory_bytes < var.memory * 1048576 && floor(var.maxmemory_bytes) == var.maxmemory_bytes, false)
    error_message = "The maxmemory_bytes must be a whole number of bytes from 1 MiB to below the task memory (memory MiB x 1048576)."
  }
}

variable "maxmemory_policy" {
  description = "maxmemory-policy. allkeys-lru (default) makes a full cache evict the least recently used keys; noeviction makes writes fail with OOM instead. Evicted keys are not persistence loss: valkey-chaos counts them separately."
  type        = string
  default     = "allkeys-lru"

  validation {
    condition     = contains(["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"], var.maxmemory_policy)
    error_message = "The maxmemory_policy must be one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl."
  }
}

variable "health_check_interval" {
  description = "Seconds between health checks (ECS: 5-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "The health_check_interval must be from 5 to 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds one health check may take (ECS: 2-60, and less than the interval)."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 60 && var.health_check_timeout < var.health_check_interval
    error_message = "The health_check_timeout must be from 2 to 60 seconds and below health_check_interval."
  }
}

variable "health_check_retries" {
  description = "Consecutive failed checks (after the start period) that make the container unhealthy (ECS: 1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_retries >= 1 && var.health_check_retries <= 10
    error_message = "The health_check_retries must be from 1 to 10."
  }
}

variable "health_check_loading_grace" {
  description = "Seconds of server uptime during which a LOADING reply counts as healthy, so ECS does not kill a task that is still loading dump.rdb (killing it restarts the load from the beginning: a crash loop). Size it from the dataset: about twice the load time of the largest dump (bytes / EFS read rate). 0 treats LOADING as unhealthy."
  type        = number
  default     = 600

  validation {
    condition     = var.health_check_loading_grace >= 0 && var.health_check_loading_grace <= 86400 && floor(var.health_check_loading_grace) == var.health_check_loading_grace
    error_message = "The health_check_loading_grace must be a whole number of seconds from 0 to 86400."
  }
}

variable "single_writer_lock" {
  description = "Start valkey-server only after taking an exclusive lock (flock) on /data/.valkey-writer.lock, held until the server and its save child exit. This, not the deployment percentages, keeps a replacement task from loading or saving while a stopping task still writes its final snapshot."
  type        = bool
  default     = true
}

variable "writer_lock_wait" {
  description = "Seconds a starting task waits for the writer lock before it exits (ECS then starts another). Longer than stop_timeout, so the old task's final save always finishes first."
  type        = number
  default     = 180

  validation {
    condition     = var.writer_lock_wait > var.stop_timeout && var.writer_lock_wait <= 3600 && floor(var.writer_lock_wait) == var.writer_lock_wait
    error_message = "The writer_lock_wait must be a whole number of seconds above stop_timeout (the old task may take that long to save) and at most 3600."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when a cache alarm fires: failed saves, stale snapshot, EFS burst credits, no running task, memory."
  type        = list(string)
  default     = []
}

variable "ok_actions" {
  description = "ARNs notified when a cache alarm returns to OK."
  type        = list(string)
  default     = []
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the metrics this module derives from the Valkey log (failed saves, successful saves)."
  type        = string
  default     = "Valkey"

  validation {
    condition     = length(var.metric_namespace) > 0 && !startswith(var.metric_namespace, "AWS/")
    error_message = "The metric_namespace must be non-empty and must not start with AWS/ (reserved)."
  }
}

variable "save_age_alarm_hours" {
  description = "Alarm when no \"Background saving terminated with success\" line was logged for this many hours (the age of the last good snapshot). An idle cache does not save (save rules count changes): size it above the longest quiet spell, or null to drop the alarm."
  type        = number
  default     = 24

  validation {
    condition     = var.save_age_alarm_hours == null || try(var.save_age_alarm_hours >= 1 && var.save_age_alarm_hours <= 168 && floor(var.save_age_alarm_hours) == var.save_age_alarm_hours, false)
    error_message = "The save_age_alarm_hours must be null or a whole number of hours from 1 to 168 (CloudWatch evaluates at most 7 days)."
  }
}

variable "efs_burst_credit_alarm_bytes" {
  description = "Alarm when the EFS BurstCreditBalance falls below this many bytes (bursting mode only). The default is one hour of the 100 MiB/s burst."
  type        = number
  default     = 377487360000

  validation {
    condition     = var.efs_burst_credit_alarm_bytes > 0
    error_message = "The efs_burst_credit_alarm_bytes must be positive."
  }
}

variable "memory_alarm_percent" {
  description = "Alarm when the service's average memory utilisation (AWS/ECS MemoryUtilization) stays above this percentage of the task memory for 5 minutes. A BGSAVE fork's copy-on-write shows here before the OOM kill does."
  type        = number
  default     = 80

  validation {
    condition     = var.memory_alarm_percent > 0 && var.memory_alarm_percent <= 100
    error_message = "The memory_alarm_percent must be from 1 to 100."
  }
}
