variable "name" {
  description = "Name of the harness task family, schedule, role, repository and log group."
  type        = string
  default     = "valkey-chaos"
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
  description = "Tag of the valkey-chaos image in the repository this module creates (tags are immutable: push a new tag per build)."
  type        = string

  validation {
    condition     = var.harness_image_tag != null && length(var.harness_image_tag) > 0
    error_message = "Set harness_image_tag to the tag you pushed (docker build -f terraform/modules/chaos-schedule/Dockerfile .)."
  }
}

variable "uploader_image" {
  description = "AWS CLI image of the container that copies /results to S3 after the harness exits."
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
  description = "When to run: rate(...) or cron(...) in EventBridge Scheduler syntax."
  type        = string
  default     = "cron(0 3 ? * MON *)"

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
  description = "Whether the schedule fires (false keeps everything deployed but paused)."
  type        = bool
  default     = true
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
  description = "Dimensions of the verdict_failed datum the alarm watches; match what the harness publishes (empty: the run-level datum)."
  type        = map(string)
  default     = {}
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when a run's verdict fails."
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
  description = "Retention of the harness log group in days."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "stop_condition_alarm_names" {
  description = "CloudWatch alarms the harness checks before each fault (--alarm NAME each); a run stops before its fault while one is in ALARM. The role may describe only these."
  type        = list(string)
  default     = []
}
