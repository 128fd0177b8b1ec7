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
