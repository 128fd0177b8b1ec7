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
  description = "Encrypt the module's alerts topic with the module's KMS key (true) or leave it with SNS's default (false: needed when a subscriber cannot use a customer managed key)."
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
