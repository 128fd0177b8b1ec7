variable "name" {
  description = "Name of the harness task family, schedule, roles, repository, log group, queue, topic and the results bucket's prefix."
  type        = string
  default     = "valkey-chaos"

  # The bucket is bucket_prefix "<name>-results-"; S3 allows a prefix of 37
  # characters (63 minus the 26 Terraform appends) of lowercase letters,
  # digits and hyphens. IAM role names "<name>-execution" fit 64 easily.
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,27}$", var.name))
    error_message = "The name must be 1-28 lowercase letters, digits or hyphens, starting with a letter or digit: the results bucket prefix \"<name>-results-\" must fit S3's 37 characters and the repository name must be lowercase."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster that runs both the Valkey service and the harness task."
  type        = string
}

variable "valkey_service_name" {
  description = "Name of the Valkey ECS service the harness targets (valkey-chaos --service). Its tasks must carry valkey-chaos = \"allowed\"."
  type        = string
}

variable "valkey_service_arn" {
  description = "ARN of that service: the only service the harness may describe or update."
  type        = string
}

variable "valkey_log_group_arn" {
  description = "ARN of the Valkey log group the harness reads save and load lines from."
  type        = string
}

variable "valkey_endpoint" {
  description = "host:port the harness connects to, e.g. valkey.trigpointing.local:6379 (includes DNS propagation in the recovery time); null uses the task's private IP."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets for the harness task."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the harness task: need Valkey's port and HTTPS to the AWS APIs."
  type        = list(string)
}

variable "harness_image_tag" {
  description = "The valkey-chaos image in the repository this module creates: a tag you pushed (tags are immutable: a new one per build; never \"latest\") or a digest sha256:<64 hex>. No default: the repository starts empty."
  type        = string

  validation {
    condition     = var.harness_image_tag != null && (can(regex("^sha256:[0-9a-f]{64}$", var.harness_image_tag)) || (can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.harness_image_tag)) && var.harness_image_tag != "latest"))
    error_message = "Set harness_image_tag to the tag you pushed (1-128 of A-Z a-z 0-9 _ . -, not \"latest\": the repository is immutable and has none) or to its digest sha256:<64 hex digits>."
  }
}

variable "uploader_image" {
  description = "AWS CLI image of the container that copies /results to S3 after the harness exits (runs as 65532, read-only root, HOME=/tmp). Pin a digest in production (public.ecr.aws/aws-cli/aws-cli:2.15.0@sha256:...)."
  type        = string
  default     = "public.ecr.aws/aws-cli/aws-cli:2.15.0"
}

variable "cpu" {
  description = "Harness task CPU units: the load generator and checker run here."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Harness task memory in MiB (the write history of a trial is held in memory)."
  type        = number
  default     = 2048
}

variable "schedule_expression" {
  description = "When to run: rate(...) or cron(...) in EventBridge Scheduler syntax. The heartbeat alarm's window (heartbeat_alarm_hours) must exceed the longest gap between runs."
  type        = string
  default     = "cron(0 3 ? * MON,THU *)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "The schedule_expression must be rate(...) or cron(...), e.g. \"rate(7 days)\" or \"cron(0 3 ? * MON *)\"."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of a cron schedule."
  type        = string
  default     = "UTC"
}

variable "schedule_enabled" {
  description = "Whether the schedule fires. Off by default: turning it on stops the cache on a schedule, and needs at least one stop-condition alarm (stop_condition_alarm_names)."
  type        = bool
  default     = false
}

variable "scenarios" {
  description = "Scenarios or scenario files to run; empty runs the harness's default suite."
  type        = list(string)
  default     = []
}

variable "extra_args" {
  description = "More valkey-chaos run flags, e.g. [\"--slo\", \"loss_window<=65s\"]."
  type        = list(string)
  default     = []
}

variable "metric_namespace" {
  description = "CloudWatch namespace the harness publishes its metrics to (the only one it may write)."
  type        = string
  default     = "ValkeyChaos"

  validation {
    condition     = length(var.metric_namespace) > 0 && !startswith(var.metric_namespace, "AWS/")
    error_message = "The metric_namespace must be non-empty and must not start with AWS/ (reserved)."
  }
}

variable "verdict_alarm_dimensions" {
  description = "Dimensions of the verdict_failed datum the verdict alarm watches; match what the harness publishes (empty: the run-level datum)."
  type        = map(string)
  default     = {}
}

variable "alarm_actions" {
  description = "More ARNs (SNS topics) notified by every alarm of this module, besides the module's own alerts topic."
  type        = list(string)
  default     = []
}

variable "ok_actions" {
  description = "ARNs notified when a later run passes again."
  type        = list(string)
  default     = []
}

variable "results_retention_days" {
  description = "Days a run's results stay in the bucket."
  type        = number
  default     = 365
}

variable "results_noncurrent_days" {
  description = "Days an overwritten or deleted results object version is kept."
  type        = number
  default     = 30
}

variable "results_access_log_bucket" {
  description = "Bucket that receives S3 server access logs of the results bucket; null leaves access logging off."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the harness log group in days (a value CloudWatch Logs accepts; 0 keeps logs forever)."
  type        = number
  default     = 90

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "stop_condition_alarm_names" {
  description = "CloudWatch alarms the harness checks before each fault (--alarm NAME each); a run stops before its fault while one is in ALARM. The role may describe only these. At least one is required when schedule_enabled."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.schedule_enabled || length(var.stop_condition_alarm_names) > 0
    error_message = "An enabled schedule needs at least one stop-condition alarm (stop_condition_alarm_names), e.g. the application's error-rate alarm: a run must not stop the cache while the application is already in trouble."
  }
}

variable "heartbeat_alarm_hours" {
  description = "Alarm when no run has published its Heartbeat for this many hours (missing data breaches). Longer than the longest gap between scheduled runs plus a run's duration; CloudWatch evaluates at most 168 h."
  type        = number
  default     = 120

  validation {
    condition     = var.heartbeat_alarm_hours >= 1 && var.heartbeat_alarm_hours <= 168 && floor(var.heartbeat_alarm_hours) == var.heartbeat_alarm_hours
    error_message = "The heartbeat_alarm_hours must be a whole number from 1 to 168 (CloudWatch's 7-day evaluation limit)."
  }
}

variable "outcome_alarm_hours" {
  description = "How long the outcome alarm stays in ALARM after a run ended in one of alarm_outcomes (hours)."
  type        = number
  default     = 24

  validation {
    condition     = var.outcome_alarm_hours >= 1 && var.outcome_alarm_hours <= 168 && floor(var.outcome_alarm_hours) == var.outcome_alarm_hours
    error_message = "The outcome_alarm_hours must be a whole number from 1 to 168."
  }
}

variable "alarm_outcomes" {
  description = "Values of the Outcome dimension that turn the outcome alarm red (every value but pass by default)."
  type        = list(string)
  default     = ["fail", "inconclusive", "invalid", "refused", "interrupted", "harness-error"]

  validation {
    condition     = length(var.alarm_outcomes) > 0 && alltrue([for o in var.alarm_outcomes : contains(["pass", "fail", "inconclusive", "invalid", "refused", "interrupted", "harness-error"], o)])
    error_message = "The alarm_outcomes must be a non-empty subset of pass, fail, inconclusive, invalid, refused, interrupted, harness-error."
  }
}

variable "alert_topic_kms" {
  description = "Encrypt the module's alerts topic with the module's KMS key (true), or not at all (false: for subscribers that cannot use a customer managed key; the AWS managed SNS key would lock out CloudWatch and EventBridge)."
  type        = bool
  default     = true
}

variable "suppressed_alarm_names" {
  description = "The application's own alarms a planned chaos stop sets off (no running task, error rate, ...). For each, the module creates a composite alarm <name>-unless-chaos that fires like it, except while a harness task runs (actions_suppressor). Move the paging actions from the original alarm to the composite."
  type        = list(string)
  default     = []
}

variable "suppressed_alarm_actions" {
  description = "ARNs the composite alarms (suppressed_alarm_names) notify: the application's paging topic."
  type        = list(string)
  default     = []
}

variable "suppression_extension_seconds" {
  description = "How long after the harness task stops the composite alarms stay suppressed: the cache's recovery after the last fault (actions_suppressor_extension_period)."
  type        = number
  default     = 600

  validation {
    condition     = var.suppression_extension_seconds >= 60 && var.suppression_extension_seconds <= 86400
    error_message = "The suppression_extension_seconds must be from 60 to 86400."
  }
}

variable "valkey_user" {
  description = "ACL user the harness authenticates as (the valkey module's harness_user output); null connects without AUTH."
  type        = string
  default     = null
}

variable "valkey_password_secret_arn" {
  description = "Secrets Manager secret (valueFrom form) with that user's password, handed to the harness as VALKEY_PASSWORD (--password-env VALKEY_PASSWORD)."
  type        = string
  default     = null

  validation {
    condition     = (var.valkey_password_secret_arn == null) == (var.valkey_user == null)
    error_message = "Set valkey_user and valkey_password_secret_arn together (or neither)."
  }
}

variable "valkey_tls" {
  description = "Connect to Valkey over TLS (--tls); the server certificate must verify against the image's CA roots, or add --tls-ca via extra_args."
  type        = bool
  default     = false
}

variable "valkey_tls_server_name" {
  description = "Name to verify the server certificate against (--tls-server-name) when it differs from the endpoint's host."
  type        = string
  default     = null
}

variable "results_force_destroy" {
  description = "Let terraform destroy the results bucket with objects (and their versions) in it. false keeps results safe but makes turning the schedule off fail until the bucket is emptied by hand."
  type        = bool
  default     = false
}

variable "repository_force_delete" {
  description = "Let terraform delete the image repository with images in it. false makes turning the schedule off fail until the images are deleted by hand."
  type        = bool
  default     = false
}
